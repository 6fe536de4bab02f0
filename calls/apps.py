from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the call event types and the Call projection (ledger_replay finds it).
        from calls import events, projections, supervision  # noqa: F401
