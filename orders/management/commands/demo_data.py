"""`manage.py demo_data --orders N --seed S [--today YYYY-MM-DD] [--if-empty]`: load realistic demo data."""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.demo import DemoGenerator, database_supports_demo
from orders.models import Order


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(_("--today: '%(value)s' is not a date (YYYY-MM-DD)") % {"value": value})


class Command(BaseCommand):
    """Thin wrapper around orders.demo.DemoGenerator; the same seed and --today give the same data."""

    help = "Load demo channels, products, stock, customers and orders (deterministic for a seed and date)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=2000, help="number of orders (default 2000)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument("--today", type=_date, default=None, help="base date YYYY-MM-DD (default: today)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when orders already exist")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, orders: int, seed: int, today: dt.date | None, if_empty: bool, **options) -> None:
        if orders < 0:
            raise CommandError(_("--orders must be zero or more"))
        if if_empty and Order.objects.exists():
            self.stdout.write(_("Orders already exist; demo data skipped."))
            return
        if not database_supports_demo():
            raise CommandError(
                _("this database cannot return ids from bulk inserts; use PostgreSQL or SQLite")
            )
        today = today or timezone.localdate()
        started = time.perf_counter()
        show = not options["no_progress"] and options.get("verbosity", 1) > 0
        stats = DemoGenerator(orders=orders, seed=seed, today=today, progress=show).run()
        elapsed = time.perf_counter() - started
        counts = ", ".join(f"{name} {count}" for name, count in sorted(stats.items()) if ":" not in name)
        self.stdout.write(
            self.style.SUCCESS(
                _("Demo data loaded in %(s).1f s (seed %(seed)s, up to %(today)s): %(counts)s")
                % {"s": elapsed, "seed": seed, "today": today, "counts": counts}
            )
        )
