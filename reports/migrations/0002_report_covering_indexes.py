"""Covering indexes for the reports over a year of orders (issue 7), on PostgreSQL only.

Each carries the columns its reports read, so that PostgreSQL scans the index alone (index-only scan, a third of
the table's pages or less) instead of the whole orders or payments table:

- report_order_placed: orders by time of placing, with what the period reports group and sum (sales, channels,
  order times, order → payment, and the order ids the best sellers report joins lines to).
- report_order_shipped: shipped orders by time of shipment (shipment → settlement).
- report_payment_settlement: successful payments by order (shipment → settlement).

They live with the reports, which are their only readers; orders migration 0006 holds the older ones. The
report session lowers random_page_cost so that the planner takes these scans (reports.queries).
"""

from django.db import migrations

INDEXES = {
    "report_order_placed": (
        "CREATE INDEX IF NOT EXISTS report_order_placed ON orders_order (placed_at) "
        "INCLUDE (id, status, channel_id, warehouse_id, total, refunded_amount, paid_at, shipped_at)"
    ),
    "report_order_shipped": (
        "CREATE INDEX IF NOT EXISTS report_order_shipped ON orders_order (shipped_at) "
        "INCLUDE (id, channel_id, warehouse_id) WHERE shipped_at IS NOT NULL"
    ),
    "report_payment_settlement": (
        "CREATE INDEX IF NOT EXISTS report_payment_settlement ON orders_payment (order_id) "
        "INCLUDE (paid_at) WHERE kind = 'payment' AND status = 'succeeded'"
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in INDEXES.values():
        schema_editor.execute(statement)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), ("orders", "0006_report_indexes")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
