from django.core.management.base import BaseCommand

from proxies.assignment import proxy_load, rebalance
from proxies.models import ProxyServer


class Command(BaseCommand):
    help = "Places every account that needs a proxy, fill-first, after moving accounts off proxies over capacity."

    def handle(self, *args, **options):
        moved, placed = rebalance()
        self.stdout.write(f"{moved} moved off full proxies, {placed} placed")
        load = proxy_load()
        for proxy in ProxyServer.objects.all():
            state = "" if proxy.enabled else " (disabled)"
            self.stdout.write(f"{proxy.name}: {load.get(proxy.id, 0)}/{proxy.capacity}{state}")
