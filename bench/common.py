"""Shared pieces of the benchmarks: the result record, the scale, and a throwaway PostgreSQL database.

`bench_database()` never touches the dev database: it creates `oms_bench_<pid>` next to the database named by
DATABASE_URL (used only as an admin connection), points Django at it, migrates, yields, and drops it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class BenchResult:
    """One measured figure and the comparison figure measured in the same run."""

    name: str
    value: float
    unit: str
    comparison: str
    comparison_value: float | None
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / comparison_value (None when there is no comparison figure)."""
        if not self.comparison_value:
            return None
        return self.value / self.comparison_value

    def as_dict(self) -> dict:
        """JSON-ready record (docs/benchmarks.json)."""
        data = asdict(self)
        data["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        return data


class Skip(Exception):
    """A benchmark that cannot run here; the message says why (printed, not a failure)."""


def bench_scale() -> float:
    """BENCH_SCALE from the environment (default 1.0; 0.1 for a quick run)."""
    try:
        return float(os.environ.get("BENCH_SCALE", "1.0"))
    except ValueError:
        raise SystemExit(f"BENCH_SCALE must be a number, got {os.environ['BENCH_SCALE']!r}")


def redacted(url: str) -> str:
    """A database URL without its password (for printed output and docs)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def postgres_admin_url() -> str:
    """DATABASE_URL if it names PostgreSQL; raises Skip otherwise."""
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql", "postgis"):
        raise Skip("needs PostgreSQL: set DATABASE_URL=postgres://USER@HOST:PORT/DB (an admin connection)")
    return url


def setup_django() -> None:
    """Import path and settings for a standalone script; safe to call twice."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")
    import django

    django.setup()


def migrate() -> None:
    """Create the schema: real migrations, or with BENCH_SYNCDB=1 straight from the models (while a
    migration lags behind a model change in a work tree)."""
    from django.apps import apps
    from django.conf import settings
    from django.core.management import call_command

    if os.environ.get("BENCH_SYNCDB") == "1":
        settings.MIGRATION_MODULES = {app.label: None for app in apps.get_app_configs()}
        call_command("migrate", run_syncdb=True, verbosity=0)
    else:
        call_command("migrate", verbosity=0)


@contextmanager
def bench_database() -> Iterator[str]:
    """Create `oms_bench_<pid>`, set Django up on it, migrate, yield its name; drop it afterwards."""
    import psycopg

    admin = postgres_admin_url()
    name = f"oms_bench_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    previous = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    try:
        setup_django()
        migrate()
        yield name
    finally:
        try:
            from django.db import connections

            connections.close_all()
        finally:
            os.environ["DATABASE_URL"] = previous
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_version() -> str:
    """Vendor and version of the database Django is connected to."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            return f"SQLite {cursor.fetchone()[0]}"
    return connection.vendor


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of `values`; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
