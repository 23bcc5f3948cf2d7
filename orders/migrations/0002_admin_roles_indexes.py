"""Staff role groups (see orders/roles.py) and the indexes behind the order list.

Indexes (created through the schema editor from the same expressions the admin queries use, so the SQL
matches; they are not model state, so other migrations are unaffected):
- order_exception_pinned: (has_exception DESC, placed_at DESC, id DESC), the default list ordering with
  exception orders pinned first;
- order_buyer_phone_tail: RIGHT(buyer_phone, 4), for "last 4 digits" search;
- order_receiver_name_prefix (PostgreSQL): receiver_name varchar_pattern_ops, for prefix search.
"""

from django.db import migrations, models
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.db.models.functions import Right


def _indexes(vendor):
    indexes = [
        models.Index(
            ExpressionWrapper(~Q(exception_reason=""), output_field=BooleanField()).desc(),
            F("placed_at").desc(),
            F("id").desc(),
            name="order_exception_pinned",
        ),
        models.Index(Right("buyer_phone", 4), name="order_buyer_phone_tail"),
    ]
    if vendor == "postgresql":
        indexes.append(
            models.Index(fields=["receiver_name"], name="order_receiver_name_prefix", opclasses=["varchar_pattern_ops"])
        )
    return indexes


def add_indexes(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    for index in _indexes(schema_editor.connection.vendor):
        schema_editor.add_index(Order, index)


def remove_indexes(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    for index in _indexes(schema_editor.connection.vendor):
        schema_editor.remove_index(Order, index)


def create_roles(apps, schema_editor):
    from orders.roles import sync_roles

    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor):
    from orders.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(add_indexes, remove_indexes),
        migrations.RunPython(create_roles, remove_roles),
    ]
