from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand


def new_key() -> str:
    return Fernet.generate_key().decode()


class Command(BaseCommand):
    help = "Prints a new Fernet key for GATEWAY_ENCRYPTION_KEY."
    requires_system_checks = []

    def handle(self, *args, **options):
        self.stdout.write(new_key())
