from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "compliance.audit"
    label = "compliance_audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from compliance.audit import events  # noqa: F401  (registers the audit event types)
