"""The report builder: a custom report is one or two dimensions, some measures and filters, kept as JSON.

The definition is validated against whitelists below (no field paths from users reach the ORM) and turned
into one GROUP BY query. When a dimension or measure needs order lines (SKU, category, units) the query runs
over lines and revenue is line revenue; otherwise over orders and revenue is the order total.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from orders.choices import OrderStatus
from orders.models import Order, OrderLine
from reports.forms import ReportForm, ReportParams
from reports.queries import SALES, money_sum, ratio, report_session, trunc_local
from reports.registry import Chart, Column, ReportResult, Section, SectionSpec
from reports.specs.base import orders_in_range, related_in_range


@dataclass(frozen=True)
class Dimension:
    """A way to group: `expression(prefix)` gives the ORM expression, prefix '' for orders, 'order__' for lines."""

    key: str
    label: Any
    kind: str
    expression: Callable[[str], Any]
    needs_lines: bool = False
    time: bool = False


def _segment(prefix: str):
    """'new' for a customer's first sales order ever, 'returning' otherwise, 'guest' without a customer."""
    earlier = Order.objects.filter(
        SALES, customer=OuterRef(f"{prefix}customer"), placed_at__lt=OuterRef(f"{prefix}placed_at")
    )
    return Case(
        When(**{f"{prefix}customer__isnull": True}, then=Value("guest")),
        When(Exists(earlier), then=Value("returning")),
        default=Value("new"),
        output_field=CharField(),
    )


DIMENSIONS: dict[str, Dimension] = {
    d.key: d
    for d in (
        Dimension("day", _("Day"), "date", lambda p: trunc_local(f"{p}placed_at", "day"), time=True),
        Dimension("week", _("Week"), "date", lambda p: trunc_local(f"{p}placed_at", "week"), time=True),
        Dimension("month", _("Month"), "date", lambda p: trunc_local(f"{p}placed_at", "month"), time=True),
        Dimension(
            "channel",
            _("Channel"),
            "text",
            lambda p: Coalesce(f"{p}channel__name", Value(gettext("(No channel)"))),
        ),
        Dimension(
            "warehouse",
            _("Warehouse"),
            "text",
            lambda p: Coalesce(f"{p}warehouse__name", Value(gettext("(Unassigned)"))),
        ),
        Dimension("province", _("Province"), "text", lambda p: Coalesce(f"{p}province", Value(""))),
        Dimension("status", _("Status"), "text", lambda p: Coalesce(f"{p}status", Value(""))),
        Dimension("segment", _("Customer segment"), "text", _segment),
        Dimension("sku", _("SKU"), "text", lambda p: Coalesce("sku", Value("")), needs_lines=True),
        Dimension(
            "category",
            _("Category"),
            "text",
            lambda p: Coalesce("product__category", Value("")),
            needs_lines=True,
        ),
    )
}

SEGMENT_LABELS = {"new": _("New customer"), "returning": _("Returning customer"), "guest": _("No customer")}


@dataclass(frozen=True)
class Measure:
    """An aggregate: `orders_expr` over orders, `lines_expr` over lines (None when it has no line meaning)."""

    key: str
    label: Any
    kind: str
    orders_expr: Callable[[], Any] | None
    lines_expr: Callable[[], Any] | None
    needs_lines: bool = False


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure("orders", _("Orders"), "int", lambda: Count("pk"), lambda: Count("order_id", distinct=True)),
        Measure("revenue", _("Revenue"), "money", lambda: money_sum("total"), lambda: money_sum("total")),
        Measure(
            "aov",
            _("Average order value"),
            "money",
            lambda: ratio(money_sum("total"), Count("pk")),
            lambda: ratio(money_sum("total"), Count("order_id", distinct=True)),
        ),
        Measure("units", _("Units"), "int", None, lambda: Sum("quantity"), needs_lines=True),
        Measure("refunds", _("Refunds"), "money", lambda: money_sum("refunded_amount"), None),
    )
}

CHART_KINDS = [
    ("bar", _("Bars")),
    ("line", _("Line")),
    ("stacked_bar", _("Stacked bars")),
    ("doughnut", _("Doughnut")),
]


class BuilderForm(ReportForm):
    """The definition of a custom report: dimensions, measures, filters and chart."""

    dimension_1 = forms.ChoiceField(
        label=_("Group by"),
        choices=[(k, d.label) for k, d in DIMENSIONS.items()],
        widget=UnfoldAdminSelectWidget,
    )
    dimension_2 = forms.ChoiceField(
        label=_("Then by"),
        choices=[("", "—"), *((k, d.label) for k, d in DIMENSIONS.items())],
        required=False,
        widget=UnfoldAdminSelectWidget,
    )
    measures = forms.MultipleChoiceField(
        label=_("Measures"),
        choices=[(k, m.label) for k, m in MEASURES.items()],
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
    )
    status = forms.MultipleChoiceField(
        label=_("Statuses"),
        choices=OrderStatus.choices,
        required=False,
        help_text=_("Leave empty for all orders except cancelled and closed ones."),
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
    )
    province = forms.CharField(
        label=_("Provinces"),
        required=False,
        help_text=_("Comma-separated; empty for all."),
        widget=UnfoldAdminTextInputWidget,
    )
    category = forms.CharField(
        label=_("Categories"),
        required=False,
        help_text=_("Comma-separated; empty for all."),
        widget=UnfoldAdminTextInputWidget,
    )
    chart = forms.ChoiceField(
        label=_("Chart"), choices=CHART_KINDS, initial="bar", widget=UnfoldAdminSelectWidget
    )
    limit = forms.IntegerField(
        label=_("Rows at most"), min_value=1, max_value=5000, initial=500, required=False
    )

    def clean(self) -> dict[str, Any]:
        """Check the combination: two different dimensions, measures meaningful for the rows grouped."""
        data = super().clean()
        dims = [d for d in (data.get("dimension_1"), data.get("dimension_2")) if d]
        if len(set(dims)) != len(dims):
            raise forms.ValidationError(_("Choose two different dimensions."), code="same_dimension")
        measures = data.get("measures") or []
        lines = any(DIMENSIONS[d].needs_lines for d in dims) or any(MEASURES[m].needs_lines for m in measures)
        if lines and "refunds" in measures:
            raise forms.ValidationError(
                _("Refunds are recorded per order: they cannot be split by SKU, category or units."),
                code="refunds_by_line",
            )
        data["limit"] = data.get("limit") or 500
        return data

    def to_params(self) -> ReportParams:
        """Parameters with the builder definition in options and readable labels."""
        params = super().to_params()
        params.options["province"] = _split(self.cleaned_data.get("province"))
        params.options["category"] = _split(self.cleaned_data.get("category"))
        return params


def _split(text: str | None) -> list[str]:
    """Comma-separated text as a list of non-empty items."""
    return [part.strip() for part in (text or "").replace("，", ",").split(",") if part.strip()]


def run_custom(params: ReportParams, title: str) -> ReportResult:
    """Run a custom report definition (validated by BuilderForm) as one GROUP BY query."""
    options = params.options
    dims = [DIMENSIONS[d] for d in (options.get("dimension_1"), options.get("dimension_2")) if d]
    measures = [MEASURES[m] for m in options.get("measures") or []]
    on_lines = any(d.needs_lines for d in dims) or any(m.needs_lines for m in measures)
    prefix = "order__" if on_lines else ""
    if on_lines:
        qs = related_in_range(OrderLine.objects.all(), params, "order__placed_at")
    else:
        qs = orders_in_range(params)
    statuses = options.get("status") or []
    if statuses:
        qs = qs.filter(**{f"{prefix}status__in": statuses})
    elif "status" not in [d.key for d in dims]:
        qs = (
            qs.filter(**{f"{prefix}pk__in": Order.objects.filter(SALES).values("pk")})
            if on_lines
            else qs.filter(SALES)
        )
    if options.get("province"):
        qs = qs.filter(**{f"{prefix}province__in": options["province"]})
    if options.get("category"):
        category_filter = Q(product__category__in=options["category"])
        if not on_lines:
            category_filter = Q(lines__product__category__in=options["category"])
            qs = qs.filter(pk__in=Order.objects.filter(category_filter).values("pk"))
        else:
            qs = qs.filter(category_filter)

    annotations = {f"dim_{i}": d.expression(prefix) for i, d in enumerate(dims)}
    aggregates = {m.key: (m.lines_expr if on_lines else m.orders_expr)() for m in measures}
    dim_keys = list(annotations)
    first_sort = dim_keys if dims[0].time else [f"-{measures[0].key}", *dim_keys]
    with report_session():
        rows = list(
            qs.annotate(**annotations)
            .values(*dim_keys)
            .annotate(**aggregates)
            .order_by(*first_sort)[: options["limit"]]
        )
        totals = qs.aggregate(**aggregates)
    for row in rows:
        for i, d in enumerate(dims):
            row[f"dim_{i}"] = _display(d.key, row[f"dim_{i}"])
    totals["dim_0"] = gettext("Total")

    columns = tuple(Column(f"dim_{i}", d.label, d.kind) for i, d in enumerate(dims)) + tuple(
        Column(m.key, m.label, m.kind) for m in measures
    )
    chart_kind = options.get("chart") or "bar"
    if dims[0].time and chart_kind == "doughnut":
        chart_kind = "line"
    chart = Chart(
        chart_kind,
        "dim_0",
        tuple(m.key for m in measures[:1])
        if len(dims) > 1
        else tuple(m.key for m in measures if m.kind != "money") or tuple(m.key for m in measures),
        pivot="dim_1" if len(dims) > 1 else "",
    )
    spec = SectionSpec("custom", title, columns, chart)
    note = (
        _("Revenue is the sum of order lines (goods only).") if on_lines and "revenue" in aggregates else ""
    )
    return ReportResult(CUSTOM_CODE, title, params.describe(), [Section(spec, rows, totals, note)])


CUSTOM_CODE = "custom"


def _display(dimension: str, value: Any) -> Any:
    """Codes shown as labels (statuses, segments)."""
    if dimension == "status":
        return str(OrderStatus(value).label) if value in OrderStatus.values else value
    if dimension == "segment":
        return str(SEGMENT_LABELS.get(value, value))
    return value
