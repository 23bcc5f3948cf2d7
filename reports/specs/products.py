"""Best sellers and slow movers by SKU, with stock on hand and days of cover."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Sum
from django.utils.translation import gettext_lazy as _

from orders.models import Order, OrderLine, Product, StockLevel
from reports.forms import ReportParams, TopForm
from reports.queries import NOT_SALES, SALES, estimated_rows, money_sum, prefer_covering_indexes
from reports.registry import Chart, Column, ReportSpec, SectionData, SectionSpec, register
from reports.specs.base import in_range_q, orders_in_range, related_in_range


def most_orders_count(params: ReportParams) -> bool:
    """Whether, by the planner's estimate, the report's sales orders are most of all orders (PostgreSQL only).

    Then the lines are best filtered by what they leave out (an anti-join with the few other orders) than by
    what they keep: a hash join with nearly every order costs about as much again as reading the lines.
    """
    counted = estimated_rows(orders_in_range(params).filter(SALES))
    return counted is not None and counted > estimated_rows(Order.objects.order_by()) / 2


def _sales_lines(params: ReportParams, product_ids=None, *, by_exclusion: bool = False):
    """Lines of sales orders placed in the range (optionally of some products only).

    `by_exclusion` gives the same lines as every line but those of the other orders (not sales, out of the
    range, channels or warehouses): an order line always has an order, so the two sets are complements.
    """
    if by_exclusion:
        others = Order.objects.exclude(in_range_q(params) & SALES).filter(pk=OuterRef("order_id"))
        qs = OrderLine.objects.order_by().filter(~Exists(others))
    else:
        qs = related_in_range(
            OrderLine.objects.exclude(order__status__in=NOT_SALES), params, "order__placed_at"
        )
    if product_ids is not None:
        qs = qs.filter(product_id__in=product_ids)
    return qs


def _sales_by_product(params: ReportParams, *, by_exclusion: bool = False):
    """Units and revenue per product over sales orders placed in the range (one GROUP BY, hashed)."""
    return (
        _sales_lines(params, by_exclusion=by_exclusion)
        .values("product_id")
        .annotate(units=Sum("quantity"), revenue=money_sum("total"))
    )


def _orders_by_product(params: ReportParams, product_ids, *, by_exclusion: bool = False) -> dict[int, int]:
    """Orders per product, for the products shown only: counting distinct orders sorts every line, so it is
    kept off the query over all products."""
    rows = (
        _sales_lines(params, product_ids, by_exclusion=by_exclusion)
        .values("product_id")
        .annotate(orders=Count("order_id", distinct=True))
    )
    return {row["product_id"]: row["orders"] for row in rows}


def _stock_by_product(params: ReportParams, product_ids=None) -> dict[int, dict]:
    """On-hand and available units per product, in the selected warehouses (all when none)."""
    qs = StockLevel.objects.order_by()
    if params.warehouses:
        qs = qs.filter(warehouse__in=params.warehouses)
    if product_ids is not None:
        qs = qs.filter(product_id__in=product_ids)
    rows = qs.values("product_id").annotate(on_hand=Sum("on_hand"), reserved=Sum("reserved"))
    return {row["product_id"]: row for row in rows}


def _row(product: dict, sales: dict | None, stock: dict | None, days: int) -> dict:
    """One SKU row; days of cover = on hand ÷ average units sold per day in the period."""
    units = (sales or {}).get("units") or 0
    on_hand = (stock or {}).get("on_hand") or 0
    reserved = (stock or {}).get("reserved") or 0
    per_day = units / days if days else 0
    return {
        "sku": product["sku"],
        "name": product["name"],
        "category": product["category"],
        "units": units,
        "orders": (sales or {}).get("orders") or 0,
        "revenue": (sales or {}).get("revenue") or Decimal("0"),
        "on_hand": on_hand,
        "available": on_hand - reserved,
        "units_per_day": per_day,
        "days_of_cover": (on_hand / per_day) if per_day else None,
    }


def query(params: ReportParams) -> dict[str, SectionData]:
    """Top sellers by units; slow movers: SKUs with stock that sold least (including not at all).

    One GROUP BY over the lines and one over stock; the two per-SKU aggregates are then ranked. When the
    report covers most orders, the lines are selected by exclusion (see most_orders_count).
    """
    prefer_covering_indexes()
    limit = params.options.get("limit") or 20
    by_exclusion = most_orders_count(params)
    sold = {row["product_id"]: row for row in _sales_by_product(params, by_exclusion=by_exclusion)}
    stocked = _stock_by_product(params)
    best_ids = sorted(sold, key=lambda pid: (-(sold[pid]["units"] or 0), pid))[:limit]
    slow_ids = sorted(
        (pid for pid, row in stocked.items() if (row["on_hand"] or 0) > 0),
        key=lambda pid: ((sold.get(pid) or {}).get("units") or 0, -(stocked[pid]["on_hand"] or 0), pid),
    )[:limit]
    orders = _orders_by_product(params, [*best_ids, *slow_ids], by_exclusion=by_exclusion)
    for pid, count in orders.items():
        sold[pid]["orders"] = count
    products = {
        p["pk"]: p
        for p in Product.objects.filter(pk__in=[*best_ids, *slow_ids]).values("pk", "sku", "name", "category")
    }
    best_rows = [_row(products[pid], sold.get(pid), stocked.get(pid), params.days) for pid in best_ids]
    slow_rows = [_row(products[pid], sold.get(pid), stocked.get(pid), params.days) for pid in slow_ids]
    totals = {
        "sku": str(_("All SKUs")),
        "units": sum(row["units"] or 0 for row in sold.values()),
        "revenue": sum((row["revenue"] for row in sold.values()), Decimal("0")),
        "on_hand": sum(row["on_hand"] or 0 for row in stocked.values()),
    }
    return {
        "best": SectionData(best_rows, totals),
        "slow": SectionData(
            slow_rows,
            note=_("SKUs with stock on hand, fewest units sold first (%(days)s days).")
            % {"days": params.days},
        ),
    }


def _product_dict(product: Product) -> dict:
    """The product fields a row shows."""
    return {"pk": product.pk, "sku": product.sku, "name": product.name, "category": product.category}


COLUMNS = (
    Column("sku", _("SKU")),
    Column("name", _("Product")),
    Column("category", _("Category")),
    Column("units", _("Units sold"), "int"),
    Column("orders", _("Orders"), "int"),
    Column("revenue", _("Revenue"), "money"),
    Column("on_hand", _("On hand"), "int"),
    Column("available", _("Available"), "int"),
    Column("units_per_day", _("Units per day"), "float"),
    Column("days_of_cover", _("Days of cover"), "float"),
)

register(
    ReportSpec(
        code="products",
        title=_("Best sellers and slow movers"),
        description=_("SKUs ranked by units sold, with stock on hand and days of cover."),
        form_class=TopForm,
        query=query,
        order=30,
        sections=(
            SectionSpec("best", _("Best sellers"), COLUMNS, chart=Chart("bar", "sku", ("units",))),
            SectionSpec("slow", _("Slow movers"), COLUMNS, chart=Chart("bar", "sku", ("days_of_cover",))),
        ),
        notes=(
            _(
                "Units and revenue: lines of orders placed in the period, excluding cancelled and closed orders "
                "(revenue = line totals). On hand: stock in the selected warehouses (all when none is selected). "
                "Days of cover: on hand ÷ units sold per day over the period; empty when nothing sold."
            ),
        ),
    )
)
