"""The work-queue index: status first, then the pinned list ordering (exceptions first, newest first).

Every queue (to review, to ship, on hold, ...) and the status filter read the list in this order, so a page
is an index range scan, with or without a further channel filter. Built with the same expressions as the
list's ordering (see migration 0002), so the SQL matches.
"""

from django.db import migrations, models
from django.db.models import BooleanField, ExpressionWrapper, F, Q

INDEX = models.Index(
    F("status"),
    ExpressionWrapper(~Q(exception_reason=""), output_field=BooleanField()).desc(),
    F("placed_at").desc(),
    F("id").desc(),
    name="order_status_pinned",
)


def add_index(apps, schema_editor):
    schema_editor.add_index(apps.get_model("orders", "Order"), INDEX)


def remove_index(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("orders", "Order"), INDEX)


class Migration(migrations.Migration):
    dependencies = [("orders", "0006_report_indexes")]

    operations = [migrations.RunPython(add_index, remove_index)]
