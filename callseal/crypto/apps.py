from django.apps import AppConfig


class CryptoConfig(AppConfig):
    name = "callseal.crypto"
    label = "crypto"
