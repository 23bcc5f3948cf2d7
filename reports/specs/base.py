"""Querysets every spec starts from: orders (or rows of an order) restricted to the report's filters."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from orders.models import Order
from reports.forms import ReportParams
from reports.queries import date_bounds, filter_orders


def orders_in_range(params: ReportParams, field: str = "placed_at") -> QuerySet:
    """Orders whose `field` falls in the report's local date range, in its channels and warehouses."""
    start, end = date_bounds(params.date_from, params.date_to)
    qs = Order.objects.filter(**{f"{field}__gte": start, f"{field}__lt": end}).order_by()
    return filter_orders(qs, channels=params.channels, warehouses=params.warehouses)


def in_range_q(params: ReportParams, field: str = "placed_at") -> Q:
    """The condition orders_in_range() applies, as a Q on orders (to negate it: Order.objects.exclude(q))."""
    start, end = date_bounds(params.date_from, params.date_to)
    q = Q(**{f"{field}__gte": start, f"{field}__lt": end})
    if params.channels:
        q &= Q(channel__in=list(params.channels))
    if params.warehouses:
        q &= Q(warehouse__in=list(params.warehouses))
    return q


def related_in_range(qs: QuerySet, params: ReportParams, field: str, *, prefix: str = "order__") -> QuerySet:
    """Rows pointing at orders (lines, events, payments) filtered by `field` and the orders' channel/warehouse."""
    start, end = date_bounds(params.date_from, params.date_to)
    qs = qs.filter(**{f"{field}__gte": start, f"{field}__lt": end}).order_by()
    return filter_orders(qs, prefix=prefix, channels=params.channels, warehouses=params.warehouses)
