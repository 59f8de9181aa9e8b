import base64
import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Write a .env with fresh secrets for a local install, unless one exists."

    def handle(self, *args, **options):
        path = settings.BASE_DIR / ".env"
        if path.exists():
            self.stdout.write(".env exists; keeping it.")
            return
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        path.write_text(
            "# Written by `make run` for a local install; see .env.example for every setting.\n"
            "DEBUG=true\n"
            f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
            f"CREDENTIALS_KEYS={key}\n"
        )
        path.chmod(0o600)
        self.stdout.write("Wrote .env with new secrets.")
