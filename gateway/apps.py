from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway keys"

    def ready(self):
        from gateway import audit, signals

        signals.connect()
        audit.connect()
