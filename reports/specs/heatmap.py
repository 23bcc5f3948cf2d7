"""Orders and revenue by hour of day × weekday (local time): when buyers order and spend most."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils.translation import gettext_lazy as _

from reports.forms import ReportForm, ReportParams
from reports.queries import SALES, local_tz, money_sum, prefer_covering_indexes
from reports.registry import Chart, Column, ReportSpec, SectionData, SectionSpec, register
from reports.specs.base import orders_in_range

WEEKDAYS = (
    ("d1", _("Mon")),
    ("d2", _("Tue")),
    ("d3", _("Wed")),
    ("d4", _("Thu")),
    ("d5", _("Fri")),
    ("d6", _("Sat")),
    ("d7", _("Sun")),
)


def query(params: ReportParams) -> dict[str, SectionData]:
    """One GROUP BY (hour, ISO weekday) query; the 168 cells are laid out as a grid per measure."""
    prefer_covering_indexes()
    cells = (
        orders_in_range(params)
        .filter(SALES)
        .annotate(
            hour=ExtractHour("placed_at", tzinfo=local_tz()),
            weekday=ExtractIsoWeekDay("placed_at", tzinfo=local_tz()),
        )
        .values("hour", "weekday")
        .annotate(orders=Count("pk"), revenue=money_sum("total"))
    )
    grid = {(cell["hour"], cell["weekday"]): cell for cell in cells}
    sections = {}
    for measure, zero in (("orders", 0), ("revenue", Decimal("0"))):
        rows = []
        for hour in range(24):
            row = {"hour": f"{hour:02d}:00"}
            for day in range(1, 8):
                row[f"d{day}"] = grid.get((hour, day), {}).get(measure, zero)
            row["total"] = sum(row[f"d{day}"] for day in range(1, 8))
            rows.append(row)
        totals = {"hour": str(_("Total"))}
        for key in [f"d{day}" for day in range(1, 8)] + ["total"]:
            totals[key] = sum(row[key] for row in rows)
        sections[measure] = SectionData(rows, totals)
    return sections


def _columns(kind: str) -> tuple[Column, ...]:
    """Hour, one column per weekday, and the row total."""
    return (
        Column("hour", _("Hour")),
        *(Column(key, label, kind) for key, label in WEEKDAYS),
        Column("total", _("Total"), kind),
    )


register(
    ReportSpec(
        code="heatmap",
        title=_("Order times"),
        description=_("Orders and revenue by hour of day and weekday: when buyers order and spend most."),
        form_class=ReportForm,
        query=query,
        order=50,
        sections=(
            SectionSpec(
                "orders",
                _("Orders by hour and weekday"),
                _columns("int"),
                chart=Chart("heatmap", "hour", tuple(key for key, _label in WEEKDAYS)),
            ),
            SectionSpec(
                "revenue",
                _("Revenue by hour and weekday"),
                _columns("money"),
                chart=Chart("heatmap", "hour", tuple(key for key, _label in WEEKDAYS)),
            ),
        ),
        notes=(
            _(
                "Sales orders (not cancelled or closed) by the local hour and weekday in which they were placed. "
                "Row and column totals add up the cells."
            ),
        ),
    )
)
