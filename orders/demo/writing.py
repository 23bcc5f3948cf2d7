"""Bulk writing for the demo: COPY on PostgreSQL, bulk_create elsewhere; historic timestamps; progress."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, models
from django.utils.translation import gettext

from orders.demo.reference import BATCH
from orders.models import (
    Customer,
    Order,
    OrderEvent,
    Payment,
)

# --- writing -------------------------------------------------------------------------------------------


class RowWriter:
    """Bulk inserts: bulk_create in batches, or on PostgreSQL `COPY` with ids taken from the table's sequence.

    On PostgreSQL, rows that children point at get explicit ids from `nextval()` (so the sequence stays
    right) and every table is loaded with COPY, the fastest path the server has; elsewhere bulk_create
    returns the ids. Values are the model instances' attributes, so both paths write the same rows.
    """

    def __init__(self) -> None:
        self.copy = connection.vendor == "postgresql"

    def write(self, model: type[models.Model], objs: list, *, ids: bool = False) -> None:
        """Insert `objs`; with ids=True their primary keys are set afterwards."""
        if not objs:
            return
        if not self.copy:
            model.objects.bulk_create(objs, batch_size=BATCH)
            return
        fields = [f for f in model._meta.concrete_fields if not (f.primary_key and not ids)]
        if ids:
            table = model._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, len(objs)],
                )
                for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                    obj.pk = pk
        from psycopg.types.json import Jsonb

        getters = [(f.attname, isinstance(f, models.JSONField)) for f in fields]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for obj in objs:
                copy.write_row(
                    [Jsonb(getattr(obj, name)) if js else getattr(obj, name) for name, js in getters]
                )


def progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="orders", file=sys.stderr, disable=not enabled, desc=gettext("Demo orders"))


@contextmanager
def historic_timestamps() -> Iterator[None]:
    """Let bulk inserts keep the historic created_at/updated_at we set (auto_now fields would stamp 'now').

    Flips the auto_now flags of the affected fields for the duration; demo data runs in a command, not
    concurrently with request handling in the same process.
    """
    fields: list[tuple[models.DateTimeField, bool, bool]] = []
    for model in (Order, OrderEvent, Payment, Customer):
        for f in model._meta.concrete_fields:
            if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
                fields.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in fields:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def database_supports_demo() -> bool:
    """bulk_create must return primary keys (PostgreSQL, SQLite ≥ 3.35, MariaDB)."""
    return bool(connection.features.can_return_rows_from_bulk_insert)
