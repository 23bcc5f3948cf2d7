"""On PostgreSQL, order numbers come from a sequence: no row lock held until the creating transaction ends."""

from django.db import migrations


def create_sequence(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS orders_order_number_seq")
    schema_editor.execute(
        "SELECT setval('orders_order_number_seq', GREATEST(COALESCE((SELECT MAX(last) FROM orders_ordernumbersequence), 0), 1),"
        " (SELECT COUNT(*) > 0 FROM orders_ordernumbersequence))"
    )


def drop_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS orders_order_number_seq")


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_fulfilment_money")]

    operations = [migrations.RunPython(create_sequence, drop_sequence)]
