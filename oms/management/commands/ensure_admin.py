"""Create the `admin` superuser once; password from OMS_ADMIN_PASSWORD, else generated and printed once."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the 'admin' superuser if it does not exist yet."

    def handle(self, *args, **options) -> None:
        """Create the superuser, or say that it exists."""
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            self.stdout.write("Superuser 'admin' already exists.")
            return
        password = os.environ.get("OMS_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@example.com", password)
        if os.environ.get("OMS_ADMIN_PASSWORD"):
            self.stdout.write(
                self.style.SUCCESS("Created superuser 'admin' with the password from OMS_ADMIN_PASSWORD.")
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Created superuser 'admin' with password: {password}"))
            self.stdout.write("Write it down: it is shown only this once.")
