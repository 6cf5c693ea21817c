from django.core.management.base import BaseCommand

from gateway.crypto import rotate_all


class Command(BaseCommand):
    help = ("Re-encrypts every stored secret under the first GATEWAY_ENCRYPTION_KEY. Put the new key first "
            "and keep the old ones after it (comma-separated) until this has run; then drop the old ones.")

    def handle(self, *args, **options):
        rotated, unreadable = rotate_all()
        self.stdout.write(f"re-encrypted {rotated} secrets")
        if unreadable:
            self.stderr.write(f"{unreadable} secrets could not be read with any configured key and were left as they are")
