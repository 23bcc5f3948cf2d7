"""Headline figures for the admin home page: today and this week, with 14-day sparklines and links.

`headline_figures(request)` is called by oms/dashboard.py; the snippet reports/_dashboard_figures.html renders
it. Six small queries, all aggregates over the last 14 local days or index-backed counts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from orders.choices import EventType
from orders.models import Order, OrderEvent
from orders.queues import QUEUES
from reports.forms import local_today
from reports.queries import SALES, date_bounds, money_sum, trunc_local

DAYS = 14


def _series(rows, key: str, days: list[dt.date], zero: Any = 0) -> list[Any]:
    """Per-day values of `key` for every day (0 for days without rows)."""
    by_day = {row["day"]: row[key] for row in rows}
    return [by_day.get(day, zero) for day in days]


def _queue(code: str):
    """The work queue with this code (orders.queues), for its filter and changelist query."""
    return next(queue for queue in QUEUES if queue.code == code)


def headline_figures(request: HttpRequest, *, today: dt.date | None = None) -> dict[str, Any]:
    """Orders, revenue, to ship, exceptions and on hold: today, this week, 14-day series and order-list links."""
    if not request.user.has_perm("orders.view_order"):
        return {}
    today = today or local_today()
    days = [today - dt.timedelta(days=offset) for offset in range(DAYS - 1, -1, -1)]
    week_start = today - dt.timedelta(days=today.weekday())
    start, end = date_bounds(days[0], today)
    orders_url = reverse("admin:orders_order_changelist")

    placed = (
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
        .order_by()
        .annotate(day=trunc_local("placed_at", "day"))
        .values("day")
        .annotate(orders=Count("pk", filter=SALES), revenue=money_sum("total", filter=SALES))
    )
    placed = list(placed)
    shipped = list(
        Order.objects.filter(shipped_at__gte=start, shipped_at__lt=end)
        .order_by()
        .annotate(day=trunc_local("shipped_at", "day"))
        .values("day")
        .annotate(shipped=Count("pk"))
    )
    events = list(
        OrderEvent.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            type__in=[EventType.EXCEPTION_FLAGGED, EventType.HOLD_SET],
        )
        .order_by()
        .annotate(day=trunc_local("created_at", "day"))
        .values("day")
        .annotate(
            flagged=Count("pk", filter=models_q(EventType.EXCEPTION_FLAGGED)),
            held=Count("pk", filter=models_q(EventType.HOLD_SET)),
        )
    )
    orders_series = _series(placed, "orders", days)
    revenue_series = _series(placed, "revenue", days, Decimal("0"))
    shipped_series = _series(shipped, "shipped", days)
    flagged_series = _series(events, "flagged", days)
    held_series = _series(events, "held", days)
    in_week = [index for index, day in enumerate(days) if day >= week_start]

    def week_sum(series: list) -> Any:
        return sum(series[index] for index in in_week)

    def range_url(first: dt.date, last: dt.date, field: str = "placed_at") -> str:
        return f"{orders_url}?{field}_from={first.isoformat()}&{field}_to={last.isoformat()}"

    ship, exceptions, hold = _queue("ship"), _queue("exceptions"), _queue("hold")
    figures = [
        {
            "code": "orders",
            "label": _("Orders"),
            "value": orders_series[-1],
            "kind": "int",
            "today": orders_series[-1],
            "week": week_sum(orders_series),
            "url": range_url(today, today),
            "week_url": range_url(week_start, today),
            "series": orders_series,
            "series_label": _("Orders per day, last 14 days"),
        },
        {
            "code": "revenue",
            "label": _("Revenue"),
            "value": revenue_series[-1],
            "kind": "money",
            "today": revenue_series[-1],
            "week": week_sum(revenue_series),
            "url": range_url(today, today),
            "week_url": range_url(week_start, today),
            "series": [float(value) for value in revenue_series],
            "series_label": _("Revenue per day, last 14 days"),
        },
        {
            "code": "to_ship",
            "label": _("To ship"),
            "value": Order.objects.filter(ship.filter).count(),
            "kind": "int",
            "today": shipped_series[-1],
            "week": week_sum(shipped_series),
            "today_label": _("shipped today"),
            "week_label": _("shipped this week"),
            "url": f"{orders_url}?{ship.query}",
            "week_url": range_url(week_start, today, "shipped_at"),
            "series": shipped_series,
            "series_label": _("Orders shipped per day, last 14 days"),
        },
        {
            "code": "exceptions",
            "label": _("Exceptions"),
            "value": Order.objects.filter(exceptions.filter).count(),
            "kind": "int",
            "today": flagged_series[-1],
            "week": week_sum(flagged_series),
            "today_label": _("flagged today"),
            "week_label": _("flagged this week"),
            "url": f"{orders_url}?{exceptions.query}",
            "week_url": f"{orders_url}?{exceptions.query}",
            "series": flagged_series,
            "series_label": _("Exceptions flagged per day, last 14 days"),
        },
        {
            "code": "on_hold",
            "label": _("On hold"),
            "value": Order.objects.filter(hold.filter).count(),
            "kind": "int",
            "today": held_series[-1],
            "week": week_sum(held_series),
            "today_label": _("held today"),
            "week_label": _("held this week"),
            "url": f"{orders_url}?{hold.query}",
            "week_url": f"{orders_url}?{hold.query}",
            "series": held_series,
            "series_label": _("Holds set per day, last 14 days"),
        },
    ]
    return {
        "today": today,
        "week_start": week_start,
        "days": days,
        "figures": figures,
        "reports_url": reverse("admin:reports_catalog"),
    }


def models_q(event_type: str):
    """Q for one event type (a tiny helper so the aggregate filters read well)."""
    from django.db.models import Q

    return Q(type=event_type)
