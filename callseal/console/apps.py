from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "callseal.console"
    label = "console"
