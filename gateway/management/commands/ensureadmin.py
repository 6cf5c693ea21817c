import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "admin"


def write_private(path: Path, text: str):
    """Writes a file only its owner can read (mode 600, also when it existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


class Command(BaseCommand):
    help = (
        "Creates the superuser 'admin' with a random password when there is no superuser "
        "(GATEWAY_ADMIN_PASSWORD, if set, is used instead and not printed)."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        existing = User.objects.filter(is_superuser=True).order_by("pk").first()
        if existing:
            self.stdout.write(
                f"a superuser exists; to reset its password: python manage.py changepassword {existing.get_username()}"
            )
            return
        given = os.environ.get("GATEWAY_ADMIN_PASSWORD", "")
        password = given or secrets.token_urlsafe(18)
        user = User.objects.filter(username=USERNAME).first() or User(username=USERNAME)
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        if given:
            self.stdout.write(f"created superuser '{USERNAME}' with the password from GATEWAY_ADMIN_PASSWORD")
            return
        path = Path(settings.DATA_DIR) / "admin_password"
        write_private(path, password + "\n")
        self.stdout.write(f"created superuser '{USERNAME}', password (shown once, also in {path}): {password}")
