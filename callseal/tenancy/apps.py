from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "callseal.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy and residency"

    def ready(self) -> None:
        from callseal.tenancy import checks, events  # noqa: F401  (checks, event types)
