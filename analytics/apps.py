from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the test-call event types and the projections (ledger_replay finds them).
        from analytics import agent_test_calls, events, projections  # noqa: F401
