from django.core.management.base import BaseCommand

from accounts.upkeep import REFRESH_AHEAD, refresh_expiring_tokens


class Command(BaseCommand):
    help = "Refreshes the OAuth tokens that expire soon, once (Celery beat does it every few minutes)."

    def add_arguments(self, parser):
        parser.add_argument("--within", type=float, default=REFRESH_AHEAD,
                            help=f"refresh tokens expiring within this many seconds (default {REFRESH_AHEAD:g})")

    def handle(self, *args, within, **options):
        outcome = refresh_expiring_tokens(within)
        for name in outcome.done:
            self.stdout.write(f"refreshed {name}")
        for name, message in outcome.failed.items():
            self.stderr.write(f"failed {name}: {message}")
        self.stdout.write(str(outcome))
