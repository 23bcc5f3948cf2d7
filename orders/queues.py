"""Work queues shown on the admin home page, each a filtered order list with its count."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from orders.choices import HoldKind, OrderStatus, OrderType, StockStatus


@dataclass(frozen=True)
class WorkQueue:
    """A named slice of orders clerks work through."""

    code: str
    title: str
    filter: Q
    query: str
    permission: str = "orders.view_order"


QUEUES = [
    WorkQueue("review", _("To review"), Q(status=OrderStatus.PENDING_REVIEW), "status__exact=pending_review"),
    WorkQueue(
        "finance",
        _("Finance review"),
        Q(status=OrderStatus.ON_HOLD, hold_kind=HoldKind.FINANCE),
        "status__exact=on_hold&hold_kind__exact=finance",
    ),
    WorkQueue(
        "ship",
        _("To ship"),
        Q(status=OrderStatus.AWAITING_SHIPMENT, stock_status=StockStatus.RESERVED),
        "status__exact=awaiting_shipment&stock_status__exact=reserved",
    ),
    WorkQueue("exceptions", _("Exceptions"), ~Q(exception_reason=""), "has_exception=yes"),
    WorkQueue("hold", _("On hold"), Q(status=OrderStatus.ON_HOLD), "status__exact=on_hold"),
    WorkQueue(
        "presale",
        _("Presale waiting for stock"),
        Q(order_type=OrderType.PRESALE, stock_status=StockStatus.WAITING),
        "order_type__exact=presale&stock_status__exact=waiting",
    ),
]


def work_queues(user) -> list[dict]:
    """The queues the user may see, with their counts and links to the filtered order list."""
    from orders.models import Order

    if not user.has_perm("orders.view_order"):
        return []
    url = reverse("admin:orders_order_changelist")
    return [
        {
            "code": queue.code,
            "title": queue.title,
            "count": Order.objects.filter(queue.filter).count(),
            "url": f"{url}?{queue.query}",
        }
        for queue in QUEUES
    ]
