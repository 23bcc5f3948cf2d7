"""Out of the box: the four preset rules (disabled, for a manager to switch on), a starting list of
restricted regions, and the every-minute retry of notifications and rule webhook calls."""

from django.db import migrations
from django.utils import translation

PRESET_CODES = ("finance_review_large_order", "restricted_region_delay", "third_order_coupon", "out_of_stock_presale")
REGIONS = (("西藏自治区", "Tibet: couriers delay deliveries"), ("新疆维吾尔自治区", "Xinjiang: couriers delay deliveries"))
SCHEDULE = "rules: retry due notifications and webhook calls"


def forwards(apps, schema_editor):
    from django.conf import settings

    from rules.actions_spec import get_preset

    Rule = apps.get_model("rules", "Rule")
    with translation.override(settings.LANGUAGE_CODE):
        for priority, code in enumerate(PRESET_CODES, start=1):
            if Rule.objects.filter(preset=code).exists():
                continue
            preset = get_preset(code)
            Rule.objects.create(
                name=preset["name"],
                description=preset["description"],
                trigger=preset["trigger"],
                conditions=preset["conditions"],
                actions=preset["actions"],
                priority=priority * 10,
                enabled=False,
                preset=code,
            )
    RestrictedRegion = apps.get_model("rules", "RestrictedRegion")
    for province, note in REGIONS:
        RestrictedRegion.objects.get_or_create(province=province, city="", district="", defaults={"note": note})
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SCHEDULE,
        defaults={"func": "rules.tasks.retry_due_outbox_task", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("rules", "Rule").objects.filter(preset__in=PRESET_CODES, enabled=False).delete()
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
