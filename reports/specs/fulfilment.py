"""Fulfilment: paid → shipped time against a target, late and overdue orders by warehouse."""

from __future__ import annotations

import datetime as dt

from django.db.models import Avg, Count, F, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from reports.forms import FulfilmentForm, ReportParams
from reports.queries import (
    HOUR_BUCKETS,
    SALES,
    HoursBetween,
    bucket_counts,
    grouped_with_totals,
    percentile,
    ratio,
)
from reports.registry import Chart, Column, ReportSpec, SectionData, SectionSpec, register
from reports.specs.base import orders_in_range


def fulfilment_aggregates(target_hours: int, now: dt.datetime, medians: bool = False) -> dict:
    """Counts against the target, durations and buckets for orders paid in the period."""
    hours = HoursBetween("shipped_at", "paid_at")
    shipped = Q(shipped_at__isnull=False)
    target = dt.timedelta(hours=target_hours)
    on_time = shipped & Q(LessThanOrEqual(hours.duration(), target))
    late = shipped & Q(GreaterThan(hours.duration(), target))
    overdue = Q(shipped_at__isnull=True, paid_at__lt=now - dt.timedelta(hours=target_hours))
    return {
        "paid": Count("pk"),
        "shipped": Count("pk", filter=shipped),
        "on_time": Count("pk", filter=on_time),
        "late": Count("pk", filter=late),
        "late_rate": ratio(Count("pk", filter=late), Count("pk", filter=shipped)),
        "overdue": Count("pk", filter=overdue),
        "hours_avg": Avg(hours, filter=shipped),
        "hours_median": percentile(hours, 0.5, filter=shipped, enabled=medians),
        "hours_p90": percentile(hours, 0.9, filter=shipped, enabled=medians),
        **bucket_counts(hours, HOUR_BUCKETS),
    }


def query(params: ReportParams) -> dict[str, SectionData]:
    """One row per warehouse (unassigned orders form their own row) and database totals."""
    target = params.options.get("target_hours") or 48
    qs = (
        orders_in_range(params, "paid_at")
        .filter(SALES)
        .filter(Q(shipped_at__isnull=True) | Q(shipped_at__gte=F("paid_at")))
    )
    rows, totals = grouped_with_totals(
        qs,
        ["warehouse_id"],
        fulfilment_aggregates(target, timezone.now(), bool(params.options.get("medians"))),
        labels={"warehouse_name": Coalesce("warehouse__name", Value(gettext("(Unassigned)")))},
        order_by=["warehouse_name"],
    )
    totals["warehouse_name"] = gettext("Total")
    note = _("Target: shipped within %(hours)s hours of payment.") % {"hours": target}
    return {"warehouses": SectionData(rows, totals, note)}


register(
    ReportSpec(
        code="fulfilment",
        title=_("Fulfilment against target"),
        description=_(
            "Hours from payment to shipment against a target, late and overdue orders by warehouse."
        ),
        form_class=FulfilmentForm,
        query=query,
        order=80,
        sections=(
            SectionSpec(
                "warehouses",
                _("Warehouses"),
                (
                    Column("warehouse_name", _("Warehouse")),
                    Column("paid", _("Paid orders"), "int"),
                    Column("shipped", _("Shipped"), "int"),
                    Column("on_time", _("On time"), "int"),
                    Column("late", _("Late"), "int"),
                    Column("late_rate", _("Late rate"), "percent"),
                    Column("overdue", _("Not shipped, overdue"), "int"),
                    Column("hours_avg", _("Paid → shipped, average (h)"), "hours"),
                    Column("hours_median", _("Median (h)"), "hours"),
                    Column("hours_p90", _("90th percentile (h)"), "hours"),
                    *(Column(bucket.key, bucket.label, "int") for bucket in HOUR_BUCKETS),
                ),
                chart=Chart("stacked_bar", "warehouse_name", ("on_time", "late", "overdue")),
            ),
        ),
        notes=(
            _(
                "Sales orders paid in the period. On time: shipped within the target hours of payment; late: "
                "shipped after it; overdue: not shipped yet and already past the target. Percentiles are exact "
                "on PostgreSQL and left empty on SQLite."
            ),
        ),
    )
)
