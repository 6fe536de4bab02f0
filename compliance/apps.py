from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the ledger event types so reads decode them in every process.
        from compliance import events  # noqa: F401
