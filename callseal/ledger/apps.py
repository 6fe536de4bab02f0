from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "callseal.ledger"
    label = "ledger"
