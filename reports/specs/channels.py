"""Channel share and comparison: orders, revenue, AOV, cancellation and refund rates, paid → shipped hours."""

from __future__ import annotations

from django.db.models import Avg, Count, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from reports.forms import MediansForm, ReportParams
from reports.queries import (
    CANCELLED,
    SALES,
    HoursBetween,
    grouped_with_totals,
    money_sum,
    percentile,
    prefer_covering_indexes,
    ratio,
)
from reports.registry import Chart, Column, ReportSpec, SectionData, SectionSpec, register
from reports.specs.base import orders_in_range

SHIPPED_AFTER_PAYMENT = SALES & Q(
    paid_at__isnull=False, shipped_at__isnull=False, shipped_at__gte=F("paid_at")
)


def channel_aggregates(medians: bool = False) -> dict:
    """Everything compared per channel, as aggregates over the orders placed in the period."""
    hours = HoursBetween("shipped_at", "paid_at")
    paid = SALES & Q(paid_at__isnull=False)
    return {
        "placed": Count("pk"),
        "orders": Count("pk", filter=SALES),
        "revenue": money_sum("total", filter=SALES),
        "aov": ratio(money_sum("total", filter=SALES), Count("pk", filter=SALES)),
        "cancelled": Count("pk", filter=CANCELLED),
        "cancellation_rate": ratio(Count("pk", filter=CANCELLED), Count("pk")),
        "refunded_orders": Count("pk", filter=paid & Q(refunded_amount__gt=0)),
        "refund_rate": ratio(Count("pk", filter=paid & Q(refunded_amount__gt=0)), Count("pk", filter=paid)),
        "refunds": money_sum("refunded_amount", filter=SALES),
        "ship_hours_avg": Avg(hours, filter=SHIPPED_AFTER_PAYMENT),
        "ship_hours_median": percentile(hours, 0.5, filter=SHIPPED_AFTER_PAYMENT, enabled=medians),
    }


def query(params: ReportParams) -> dict[str, SectionData]:
    """One row per channel (orders without a channel form their own row) and the database totals, from one
    query; a channel's share is its revenue ÷ the totals' revenue."""
    prefer_covering_indexes()
    rows, totals = grouped_with_totals(
        orders_in_range(params),
        ["channel_id"],
        channel_aggregates(bool(params.options.get("medians"))),
        labels={"channel_name": Coalesce("channel__name", Value(gettext("(No channel)")))},
        order_by=["-revenue", "channel_name"],
    )
    for row in [*rows, totals]:
        row["share"] = float(row["revenue"]) / float(totals["revenue"]) if totals["revenue"] else None
    totals["channel_name"] = gettext("Total")
    return {"channels": SectionData(rows, totals)}


register(
    ReportSpec(
        code="channels",
        title=_("Channel comparison"),
        description=_(
            "Each channel's share of revenue, orders, average order value, cancellation and refund rates, "
            "and hours from payment to shipment."
        ),
        form_class=MediansForm,
        query=query,
        order=20,
        sections=(
            SectionSpec(
                key="channels",
                title=_("Channels"),
                columns=(
                    Column("channel_name", _("Channel")),
                    Column("placed", _("Orders placed"), "int"),
                    Column("orders", _("Orders (not cancelled)"), "int"),
                    Column("revenue", _("Revenue"), "money"),
                    Column("share", _("Revenue share"), "percent"),
                    Column("aov", _("Average order value"), "money"),
                    Column("cancelled", _("Cancelled"), "int"),
                    Column("cancellation_rate", _("Cancellation rate"), "percent"),
                    Column("refunded_orders", _("Refunded orders"), "int"),
                    Column("refund_rate", _("Refund rate"), "percent"),
                    Column("refunds", _("Refunds"), "money"),
                    Column("ship_hours_avg", _("Paid → shipped, average (h)"), "hours"),
                    Column("ship_hours_median", _("Paid → shipped, median (h)"), "hours"),
                ),
                chart=Chart("doughnut", "channel_name", ("revenue",)),
            ),
        ),
        notes=(
            _(
                "Cancellation rate: cancelled or closed orders ÷ orders placed. Refund rate: paid orders with any "
                "refund ÷ paid orders. Paid → shipped: hours from payment to shipment of shipped orders. Medians "
                "are exact on PostgreSQL and left empty on SQLite."
            ),
        ),
    )
)
