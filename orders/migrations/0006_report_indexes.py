"""Indexes for the reports (issue 7), on PostgreSQL only: partial and covering indexes that SQLite lacks.

- order_customer_sales_placed: sales orders (not cancelled or closed) by customer and time, carrying the
  columns the customers report aggregates, so that it reads the customers' orders in order from the index
  alone and the builder's "new customer" probe stays index-only. (The covering indexes by time that the
  period reports scan came later, in reports migration 0002.)
- order_event_type_time: events of one type in a period (exceptions and holds report, dashboard).

Statistics on the local-time expressions the reports group by (day, ISO week, month; hour × weekday), in the
merchant's time zone at migration time. Without them PostgreSQL takes a million distinct buckets for granted
(as many as placed_at values) and sorts every order instead of hashing into a few hundred groups. They only
inform the planner: after a TIME_ZONE change they stop matching and reports are slower, never wrong.
"""

from django.conf import settings
from django.db import migrations

INDEXES = {
    "order_customer_sales_placed": (
        "CREATE INDEX IF NOT EXISTS order_customer_sales_placed ON orders_order (customer_id, placed_at) "
        "INCLUDE (total, channel_id, warehouse_id) WHERE status NOT IN ('cancelled', 'closed')"
    ),
    "order_event_type_time": (
        "CREATE INDEX IF NOT EXISTS order_event_type_time ON orders_orderevent (type, created_at)"
    ),
}


def local(expression: str) -> str:
    """A local-time expression of orders_order.placed_at exactly as the reports' ORM queries write it."""
    zone = settings.TIME_ZONE.replace("'", "''")
    return expression.format(f""""orders_order"."placed_at" AT TIME ZONE '{zone}'""")


STATISTICS = {
    "order_local_day": [local("DATE_TRUNC('day', {})")],
    "order_local_week": [local("DATE_TRUNC('week', {})")],
    "order_local_month": [local("DATE_TRUNC('month', {})")],
    "order_local_hour_weekday": [local("EXTRACT(HOUR FROM {})"), local("EXTRACT(ISODOW FROM {})")],
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in INDEXES.values():
        schema_editor.execute(statement)
    for name, expressions in STATISTICS.items():
        columns = ", ".join(f"({expression})" for expression in expressions)
        schema_editor.execute(f"CREATE STATISTICS IF NOT EXISTS {name} ON {columns} FROM orders_order")
    # Gather the new statistics now only if there is data: analysing an empty table makes PostgreSQL plan
    # the first bulk loads (foreign-key checks at commit) as if the table stayed empty.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM orders_order)")
        if cursor.fetchone()[0]:
            schema_editor.execute("ANALYZE orders_order")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    for name in STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_order_number_sequence")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
