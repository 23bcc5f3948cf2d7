"""Orders and revenue by day, week or month, with an earlier period beside each bucket."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from reports.forms import ReportParams, SalesForm
from reports.queries import (
    MONEY_FIELD,
    SALES,
    bucket_starts,
    grouped_with_totals,
    money_sum,
    prefer_covering_indexes,
    ratio,
    trunc_local,
)
from reports.registry import Chart, Column, ReportSpec, SectionData, SectionSpec, register
from reports.specs.base import orders_in_range


def sales_aggregates() -> dict:
    """Orders, revenue, refunds, net revenue and average order value of sales orders."""
    return {
        "orders": Count("pk"),
        "revenue": money_sum("total"),
        "refunds": money_sum("refunded_amount"),
        "net_revenue": money_sum("total") - money_sum("refunded_amount"),
        "aov": ratio(money_sum("total"), Count("pk")),
    }


def compare_range(params: ReportParams) -> tuple[dt.date, dt.date]:
    """The comparison range, shaped so that buckets line up one for one.

    Same period last year: the same dates a year earlier. Previous period: by month, the same days as many
    months earlier as the range has months (March → February); by day or week, the range shifted back by its
    length (rounded up to whole weeks for weeks, so weekdays line up).
    """
    grain = params.options.get("grain") or "day"
    if params.options.get("compare") == "last_year":
        return _year_earlier(params.date_from), _year_earlier(params.date_to)
    if grain == "month":
        months = len(bucket_starts(params.date_from, params.date_to, "month"))
        return _months_earlier(params.date_from, months), _months_earlier(params.date_to, months)
    days = params.days if grain == "day" else -(-params.days // 7) * 7
    span = dt.timedelta(days=days)
    return params.date_from - span, params.date_to - span


def _months_earlier(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier, clamped to the end of a shorter month."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    first = dt.date(year, month + 1, 1)
    next_first = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.replace(day=min(day.day, (next_first - dt.timedelta(days=1)).day))


def _year_earlier(day: dt.date) -> dt.date:
    """The same day one year earlier (29 Feb becomes 28 Feb)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _series(params: ReportParams, grain: str) -> tuple[dict[dt.date, dict], dict]:
    """Aggregates per local bucket for the params' range and over the whole range (one query)."""
    rows, totals = grouped_with_totals(
        orders_in_range(params).filter(SALES).annotate(bucket=trunc_local("placed_at", grain)),
        ["bucket"],
        sales_aggregates(),
    )
    return {row["bucket"]: row for row in rows}, totals


def _change(current, previous) -> float | None:
    """Relative change from `previous` to `current` (None when there is nothing to compare with)."""
    if not previous:
        return None
    return float((Decimal(current) - Decimal(previous)) / Decimal(previous))


def query(params: ReportParams) -> dict[str, SectionData]:
    """Buckets of the range with the aligned buckets of the comparison range, and database totals."""
    prefer_covering_indexes()
    grain = params.options.get("grain") or "day"
    prev_from, prev_to = compare_range(params)
    previous_params = ReportParams(prev_from, prev_to, params.channels, params.warehouses, params.options)
    (current, totals), (previous, prev_totals) = _series(params, grain), _series(previous_params, grain)
    current_starts = bucket_starts(params.date_from, params.date_to, grain)
    previous_starts = bucket_starts(prev_from, prev_to, grain)
    zero = {
        "orders": 0,
        "revenue": Decimal("0"),
        "refunds": Decimal("0"),
        "net_revenue": Decimal("0"),
        "aov": None,
    }
    rows = []
    for index, start in enumerate(current_starts):
        now = current.get(start, zero)
        prev_start = previous_starts[index] if index < len(previous_starts) else None
        before = previous.get(prev_start, zero) if prev_start else zero
        rows.append(
            {
                "period": start,
                "orders": now["orders"],
                "revenue": now["revenue"],
                "refunds": now["refunds"],
                "net_revenue": now["net_revenue"],
                "aov": now["aov"],
                "prev_period": prev_start,
                "prev_orders": before["orders"],
                "prev_revenue": before["revenue"],
                "orders_change": _change(now["orders"], before["orders"]),
                "revenue_change": _change(now["revenue"], before["revenue"]),
            }
        )
    totals.update(
        prev_orders=prev_totals["orders"],
        prev_revenue=prev_totals["revenue"],
        orders_change=_change(totals["orders"], prev_totals["orders"]),
        revenue_change=_change(totals["revenue"], prev_totals["revenue"]),
    )
    note = _("Compared with %(start)s – %(end)s.") % {
        "start": prev_from.isoformat(),
        "end": prev_to.isoformat(),
    }
    return {"periods": SectionData(rows, totals, note)}


register(
    ReportSpec(
        code="sales",
        title=_("Orders and revenue"),
        description=_("Orders and revenue by day, week or month, with the previous period beside it."),
        form_class=SalesForm,
        query=query,
        order=10,
        sections=(
            SectionSpec(
                key="periods",
                title=_("Orders and revenue by period"),
                columns=(
                    Column("period", _("Period"), "date"),
                    Column("orders", _("Orders"), "int"),
                    Column("revenue", _("Revenue"), "money"),
                    Column("refunds", _("Refunds"), "money"),
                    Column("net_revenue", _("Net revenue"), "money"),
                    Column("aov", _("Average order value"), "money"),
                    Column("prev_period", _("Compared period"), "date"),
                    Column("prev_orders", _("Orders (compared)"), "int"),
                    Column("prev_revenue", _("Revenue (compared)"), "money"),
                    Column("orders_change", _("Orders change"), "percent"),
                    Column("revenue_change", _("Revenue change"), "percent"),
                ),
                chart=Chart(
                    "line", "period", ("revenue", "prev_revenue"), secondary=("orders", "prev_orders")
                ),
            ),
        ),
        notes=(
            _(
                "Orders: orders placed in the period, excluding cancelled and closed ones. Revenue: their order "
                "totals (goods, shipping and tax, after discounts). Net revenue: revenue less refunds. Days and "
                "weeks (Monday to Sunday) are counted in the merchant's time zone."
            ),
        ),
    )
)

__all__ = ["MONEY_FIELD", "compare_range", "query", "sales_aggregates"]
