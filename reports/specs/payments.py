"""Payment collection cycle: order → payment and shipment → settlement, distribution per channel."""

from __future__ import annotations

from django.db.models import Avg, Count, F, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from orders.choices import PaymentKind
from orders.models import Payment
from reports.forms import MediansForm, ReportParams
from reports.queries import (
    DAY_BUCKETS,
    SALES,
    HoursBetween,
    bucket_counts,
    grouped_with_totals,
    percentile,
    prefer_covering_indexes,
)
from reports.registry import Chart, Column, ReportSpec, SectionData, SectionSpec, register
from reports.specs.base import orders_in_range, related_in_range


def _distribution(hours, *, count_name: str, count, medians: bool) -> dict:
    """Count, average and median days, and the day buckets of an hours expression."""
    return {
        count_name: count,
        "days_avg": Avg(hours) / 24.0,
        "days_median": percentile(hours, 0.5, enabled=medians) / 24.0,
        **bucket_counts(hours, DAY_BUCKETS),
    }


def order_to_payment(params: ReportParams) -> SectionData:
    """Orders placed in the range and paid: days from placing to payment, per channel."""
    qs = orders_in_range(params).filter(SALES, paid_at__isnull=False, paid_at__gte=F("placed_at"))
    aggregates = _distribution(
        HoursBetween("paid_at", "placed_at"),
        count_name="count",
        count=Count("pk"),
        medians=bool(params.options.get("medians")),
    )
    rows, totals = grouped_with_totals(
        qs,
        ["channel_id"],
        aggregates,
        labels={"channel_name": Coalesce("channel__name", Value(gettext("(No channel)")))},
        order_by=["channel_name"],
    )
    totals["channel_name"] = gettext("Total")
    return SectionData(rows, totals)


def settlements():
    """Settlement payments: successful payments of kind 'payment' dated after their order's shipment."""
    return Payment.objects.filter(
        kind=PaymentKind.PAYMENT,
        status=Payment.Status.SUCCEEDED,
        order__shipped_at__isnull=False,
        paid_at__gt=F("order__shipped_at"),
    )


def shipment_to_settlement(params: ReportParams) -> SectionData:
    """Settlements of orders shipped in the range: days from shipment to the settling payment, per channel."""
    qs = related_in_range(settlements(), params, "order__shipped_at")
    aggregates = _distribution(
        HoursBetween("paid_at", "order__shipped_at"),
        count_name="count",
        count=Count("order_id", distinct=True),
        medians=bool(params.options.get("medians")),
    )
    rows, totals = grouped_with_totals(
        qs,
        ["order__channel_id"],
        aggregates,
        labels={"channel_name": Coalesce("order__channel__name", Value(gettext("(No channel)")))},
        order_by=["channel_name"],
        distinct_within_groups=True,  # an order has one channel: distinct orders add up across channels
    )
    totals["channel_name"] = gettext("Total")
    note = ""
    if not rows:
        note = _(
            "No settlement recorded for orders shipped in this period: no successful payment is dated after "
            "its order's shipment. Channels that pay before shipment have no settlement cycle to show."
        )
    return SectionData(rows, totals if rows else None, note)


def query(params: ReportParams) -> dict[str, SectionData]:
    """Both cycles."""
    prefer_covering_indexes()
    return {"payment": order_to_payment(params), "settlement": shipment_to_settlement(params)}


def _columns(count_label) -> tuple[Column, ...]:
    """Channel, counts, average and median days, then one column per day bucket."""
    return (
        Column("channel_name", _("Channel")),
        Column("count", count_label, "int"),
        Column("days_avg", _("Average (days)"), "days"),
        Column("days_median", _("Median (days)"), "days"),
        *(Column(bucket.key, bucket.label, "int") for bucket in DAY_BUCKETS),
    )


BUCKET_KEYS = tuple(bucket.key for bucket in DAY_BUCKETS)

register(
    ReportSpec(
        code="payment_cycle",
        title=_("Payment collection cycle"),
        description=_("Days from order to payment, and from shipment to settlement, per channel."),
        form_class=MediansForm,
        query=query,
        order=60,
        sections=(
            SectionSpec(
                "payment",
                _("Order → payment"),
                _columns(_("Paid orders")),
                chart=Chart("stacked_bar", "channel_name", BUCKET_KEYS),
            ),
            SectionSpec(
                "settlement",
                _("Shipment → settlement"),
                _columns(_("Settled orders")),
                chart=Chart("stacked_bar", "channel_name", BUCKET_KEYS),
            ),
        ),
        notes=(
            _(
                "Order → payment: sales orders placed in the period that are paid, from placing to the order's "
                "payment time. Shipment → settlement: for orders shipped in the period, each successful payment "
                "of kind 'payment' dated after the shipment (cash on delivery, platform settlement, instalments) "
                "counts as a settlement, measured from the shipment. Distributions are counts per bucket; "
                "medians are exact on PostgreSQL and left empty on SQLite."
            ),
        ),
    )
)
