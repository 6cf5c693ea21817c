from django.apps import AppConfig


class ProxiesConfig(AppConfig):
    name = "proxies"

    def ready(self):
        from proxies import signals

        signals.connect()
