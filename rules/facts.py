"""Gathering the facts rule conditions test: the only database reads of rule evaluation.

`gather_facts(orders, names)` returns {order pk: {fact name: value}} for a whole batch with a fixed number
of queries (one for the orders, with customer history as subqueries, and one each for lines, stock, tags
and restricted regions, only when a requested fact needs them). A live trigger asks for one order;
a backtest asks for thousands at a time.

Customer history counts are relative to each order's own placed_at (so backtests see what the rule
would have seen), include the order itself, and leave out other cancelled or closed orders.
Stock facts use today's stock (an old order in a backtest is judged against current stock).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.choices import OrderStatus
from orders.models import Order, OrderLine, StockLevel
from rules.conditions import FACTS, region_path

_ORDER_FIELDS = (
    "pk",
    "number",
    "total",
    "subtotal",
    "order_type",
    "status",
    "payment_status",
    "buyer_note",
    "seller_note",
    "placed_at",
    "province",
    "city",
    "district",
    "street",
    "receiver_name",
    "receiver_phone",
    "customer_id",
    "warehouse_id",
    "channel__code",
    "channel__platform",
    "channel__default_warehouse_id",
)
_LINE_FACTS = {"order.item_count", "lines.sku", "lines.category", "lines.quantity", "lines.max_quantity"}
_STOCK_FACTS = {"stock.any_line_short", "stock.short_skus", "stock.min_available"}
_HISTORY_WINDOWS = {
    "customer.orders_last_7_days": 7,
    "customer.orders_last_30_days": 30,
    "customer.orders_last_90_days": 90,
}
_ENDED = (OrderStatus.CANCELLED, OrderStatus.CLOSED)


def _history(days: int | None) -> QuerySet:
    """The customer's orders up to and including the outer order (within `days` before it, if given)."""
    earlier = Q(placed_at__lt=OuterRef("placed_at")) | Q(
        placed_at=OuterRef("placed_at"), pk__lte=OuterRef("pk")
    )
    history = (
        Order.objects.filter(customer_id=OuterRef("customer_id"))
        .filter(earlier)
        .filter(Q(pk=OuterRef("pk")) | ~Q(status__in=_ENDED))
    )
    if days:
        history = history.filter(placed_at__gt=OuterRef("placed_at") - dt.timedelta(days=days))
    return history.order_by().values("customer_id")


def _count(days: int | None) -> Subquery:
    return Subquery(_history(days).annotate(n=Count("pk")).values("n")[:1])


def _annotations(names: set[str]) -> dict[str, Any]:
    annotations: dict[str, Any] = {}
    for name, days in _HISTORY_WINDOWS.items():
        if name in names:
            annotations[f"h_{days}"] = _count(days)
    if "customer.is_first_order" in names:
        annotations["h_all"] = _count(None)
    if "customer.lifetime_spend" in names:
        money = DecimalField(max_digits=16, decimal_places=2)
        spend = _history(None).annotate(s=Sum("total")).values("s")[:1]
        annotations["h_spend"] = Coalesce(
            Subquery(spend, output_field=money), Decimal("0"), output_field=money
        )
    return annotations


def _restricted_paths() -> tuple[tuple[str, ...], ...]:
    from rules.models import RestrictedRegion

    rows = RestrictedRegion.objects.filter(is_active=True).values_list("province", "city", "district")
    return tuple(path for path in (region_path(row) for row in rows) if path)


def gather_facts(
    orders: QuerySet | Iterable[int], names: Iterable[str] | None = None
) -> dict[int, dict[str, Any]]:
    """Facts of every order in `orders` (a queryset or pks), restricted to `names` (default: all facts)."""
    wanted = set(FACTS) if names is None else set(names)
    queryset = orders if isinstance(orders, QuerySet) else Order.objects.filter(pk__in=list(orders))
    if not queryset.query.is_sliced:
        queryset = queryset.order_by("pk")
    rows = list(queryset.values(*_ORDER_FIELDS, **_annotations(wanted)))
    if not rows:
        return {}
    ids = [row["pk"] for row in rows]
    lines = _lines(ids, "lines.category" in wanted) if wanted & (_LINE_FACTS | _STOCK_FACTS) else {}
    stock = _stock(lines) if wanted & _STOCK_FACTS else {}
    tags = _tags(ids) if "order.tags" in wanted else {}
    restricted = _restricted_paths() if "address.restricted" in wanted else ()
    getters = [(name, getter) for name, getter in _ORDER_GETTERS.items() if name in wanted]
    result = {}
    for row in rows:
        facts = {name: getter(row) for name, getter in getters}
        if "address.restricted" in wanted:
            path = region_path((row["province"], row["city"], row["district"]))
            facts["address.restricted"] = bool(path) and any(path[: len(r)] == r for r in restricted)
        if "order.tags" in wanted:
            facts["order.tags"] = tags.get(row["pk"], [])
        _customer_facts(row, facts, wanted)
        if wanted & (_LINE_FACTS | _STOCK_FACTS):
            order_lines = lines.get(row["pk"], [])
            if wanted & _LINE_FACTS:
                facts.update({k: v for k, v in _line_facts(order_lines).items() if k in wanted})
            if wanted & _STOCK_FACTS:
                facts.update({k: v for k, v in _stock_facts(row, order_lines, stock).items() if k in wanted})
        result[row["pk"]] = facts
    return result


def facts_for_order(order_id: int, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The facts of one order (all facts by default); {} if the order does not exist."""
    return gather_facts([order_id], names).get(order_id, {})


def _complete(row: dict[str, Any]) -> bool:
    return all(row[key] for key in ("receiver_name", "receiver_phone", "province", "city", "street"))


_ORDER_GETTERS: dict[str, Any] = {
    "order.total": lambda row: row["total"],
    "order.subtotal": lambda row: row["subtotal"],
    "order.channel": lambda row: row["channel__code"] or "",
    "order.platform": lambda row: row["channel__platform"] or "",
    "order.type": lambda row: row["order_type"],
    "order.status": lambda row: row["status"],
    "order.payment_status": lambda row: row["payment_status"],
    "order.buyer_note": lambda row: row["buyer_note"],
    "order.seller_note": lambda row: row["seller_note"],
    "order.placed_hour": lambda row: timezone.localtime(row["placed_at"]).hour,
    "order.placed_weekday": lambda row: timezone.localtime(row["placed_at"]).isoweekday(),
    "address.province": lambda row: row["province"],
    "address.city": lambda row: row["city"],
    "address.district": lambda row: row["district"],
    "address.region": lambda row: (row["province"], row["city"], row["district"]),
    "address.complete": _complete,
}
"""Facts read straight from the order row."""


def _customer_facts(row: dict[str, Any], facts: dict[str, Any], wanted: set[str]) -> None:
    no_customer = row["customer_id"] is None
    for name, days in _HISTORY_WINDOWS.items():
        if name in wanted:
            facts[name] = 1 if no_customer else (row[f"h_{days}"] or 1)
    if "customer.is_first_order" in wanted:
        facts["customer.is_first_order"] = no_customer or (row["h_all"] or 1) == 1
    if "customer.lifetime_spend" in wanted:
        facts["customer.lifetime_spend"] = row["total"] if no_customer else row["h_spend"]


def _lines(order_ids: list[int], with_category: bool) -> dict[int, list[tuple]]:
    fields = ["order_id", "sku", "quantity", "quantity_reserved", "product_id"]
    if with_category:
        fields.append("product__category")
    lines: dict[int, list[tuple]] = defaultdict(list)
    for values in OrderLine.objects.filter(order_id__in=order_ids).order_by().values_list(*fields):
        lines[values[0]].append(values[1:] if with_category else (*values[1:], ""))
    return lines


def _stock(lines: dict[int, list[tuple]]) -> dict[int, dict[int, int]]:
    """Available units per product and active warehouse: {product pk: {warehouse pk: available}}."""
    product_ids = {line[3] for order_lines in lines.values() for line in order_lines}
    stock: dict[int, dict[int, int]] = defaultdict(dict)
    levels = StockLevel.objects.filter(product_id__in=product_ids, warehouse__is_active=True).values_list(
        "product_id", "warehouse_id", "on_hand", "reserved"
    )
    for product_id, warehouse_id, on_hand, reserved in levels:
        stock[product_id][warehouse_id] = on_hand - reserved
    return stock


def _line_facts(lines: list[tuple]) -> dict[str, Any]:
    return {
        "order.item_count": len(lines),
        "lines.sku": [line[0] for line in lines],
        "lines.category": sorted({line[4] for line in lines if line[4]}),
        "lines.quantity": sum(line[1] for line in lines),
        "lines.max_quantity": max((line[1] for line in lines), default=0),
    }


def _stock_facts(row: dict[str, Any], lines: list[tuple], stock: dict[int, dict[int, int]]) -> dict[str, Any]:
    """Short lines: unreserved units above what the order's warehouse (or the best active one) has."""
    warehouse_id = row["warehouse_id"] or row["channel__default_warehouse_id"]
    needs: dict[int, int] = defaultdict(int)
    skus: dict[int, str] = {}
    for sku, quantity, reserved, product_id, _category in lines:
        needs[product_id] += quantity - reserved
        skus[product_id] = sku
    short, available = [], []
    for product_id, need in needs.items():
        levels = stock.get(product_id, {})
        have = levels.get(warehouse_id, 0) if warehouse_id else max(levels.values(), default=0)
        available.append(have)
        if need > have:
            short.append(skus[product_id])
    return {
        "stock.any_line_short": bool(short),
        "stock.short_skus": sorted(short),
        "stock.min_available": min(available) if available else None,
    }


def _tags(order_ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = defaultdict(list)
    through = Order.tags.through.objects.filter(order_id__in=order_ids).values_list("order_id", "tag__name")
    for order_id, name in through:
        tags[order_id].append(name)
    return tags
