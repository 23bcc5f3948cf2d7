"""Turning an order into a presale: it waits for stock instead of becoming a 'stock short' exception."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import TransitionNotAllowed
from orders.choices import EventType, ExceptionReason, OrderStatus, OrderType
from orders.models import Order
from orders.services.events import record_event
from orders.services.lifecycle import lock_order

_CONVERTIBLE = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PENDING_REVIEW, OrderStatus.ON_HOLD})
"""Before stock is taken: once the order awaits shipment its stock is reserved (or already waiting)."""


def convert_to_presale(order: Order | int, *, actor: Actor, reason: str = "") -> bool:
    """Make `order` a presale (confirm then waits for stock); clears a 'stock short' exception.

    Returns False when it already was a presale. Refused (TransitionNotAllowed) once the order awaits
    shipment or later, and for installment/trade-in orders, whose payment rules differ.
    """
    with transaction.atomic():
        locked = lock_order(order)
        if locked.order_type == OrderType.PRESALE:
            return False
        if locked.order_type != OrderType.NORMAL or locked.status not in _CONVERTIBLE:
            raise TransitionNotAllowed(
                _("order %(n)s (%(type)s, %(status)s) cannot become a presale")
                % {
                    "n": locked.number,
                    "type": OrderType(locked.order_type).label.lower(),
                    "status": OrderStatus(locked.status).label.lower(),
                },
                code="presale_not_allowed",
                field="order_type",
            )
        fields = ["order_type", "updated_at"]
        locked.order_type = OrderType.PRESALE
        cleared = locked.exception_reason == ExceptionReason.STOCK_SHORT
        if cleared:
            locked.exception_reason, locked.exception_detail, locked.exception_at = "", "", None
            fields += ["exception_reason", "exception_detail", "exception_at"]
        locked.save(update_fields=fields)
        record_event(
            locked,
            type=EventType.UPDATED,
            actor=actor,
            message=_("Converted to presale: ships when stock arrives") + (f" ({reason})" if reason else ""),
            changes={"order_type": [OrderType.NORMAL, OrderType.PRESALE]},
            cleared_exception=ExceptionReason.STOCK_SHORT if cleared else "",
        )
        return True
