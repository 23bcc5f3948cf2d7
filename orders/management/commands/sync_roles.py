"""`manage.py sync_roles`: create the staff role groups and add any permissions they are missing."""

from django.core.management.base import BaseCommand

from orders.roles import sync_roles


class Command(BaseCommand):
    help = "Create the clerk, warehouse, finance, manager and integrator groups and top up their permissions."

    def handle(self, *args, **options) -> None:
        for name, count in sync_roles().items():
            self.stdout.write(f"{name}: {count} permissions added")
