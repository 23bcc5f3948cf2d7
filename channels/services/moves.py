"""Platform status moves applied to an existing OMS order, always through the order services.

The platform is the truth about payment, cancellation and what happened after shipping, but it never forces the
state machine: a move it refuses flags the order with a SYNC_CONFLICT exception and is reported. A platform status
that lags behind OMS (OMS shipped, the platform has not heard yet) is not a conflict: nothing happens.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import OMSError, StockShortage
from orders.choices import ExceptionReason, OrderStatus, PaymentMethod, PaymentStatus
from orders.models import Order
from orders.services import (
    cancel_order,
    close_order,
    complete_order,
    confirm_order,
    flag_exception,
    mark_delivered,
    record_payment,
    transition_order,
)

S = OrderStatus

#: The forward path of an order; a platform status maps onto a point of it (or onto cancelled / closed).
LINEAR = [
    S.PENDING_PAYMENT,
    S.PENDING_REVIEW,
    S.AWAITING_SHIPMENT,
    S.PARTIALLY_SHIPPED,
    S.SHIPPED,
    S.DELIVERED,
    S.COMPLETED,
]
RANK = {status: index for index, status in enumerate(LINEAR)}
#: Intermediate statuses a walk passes through only when they are the target itself.
_SKIPPABLE = {S.PARTIALLY_SHIPPED, S.DELIVERED}


def steps_towards(current: str, target: str) -> list[str]:
    """The statuses to pass through from `current` to a later `target` on the forward path (pure)."""
    if current not in RANK or target not in RANK or RANK[target] <= RANK[current]:
        return []
    between = LINEAR[RANK[current] + 1 : RANK[target]]
    return [status for status in between if status not in _SKIPPABLE] + [target]


def apply_platform_status(
    order: Order | int, target: str, *, platform_order: Any, actor: Actor, channel: Any
) -> str | None:
    """Move `order` towards the platform's (mapped) status; returns the conflict message, or None.

    Payment comes first (a platform that reports the order paid records a platform payment, idempotent by
    transaction id), then cancel / close / the forward walk. A refused move rolls back the whole walk and flags
    the order SYNC_CONFLICT with the platform's status in the detail.
    """
    pk = order.pk if isinstance(order, Order) else order
    current = Order.objects.only("status").get(pk=pk).status
    if current == target:
        return None
    reason = _("platform status %(status)s") % {"status": platform_order.platform_status}
    try:
        with transaction.atomic():
            locked = Order.objects.get(pk=pk)
            paid = platform_order.paid_amount or 0
            if (
                target not in (S.PENDING_PAYMENT, S.CANCELLED, S.CLOSED)
                and locked.payment_status == PaymentStatus.UNPAID
                and paid > 0
            ):
                record_payment(
                    locked,
                    amount=min(paid, locked.total) if locked.total else paid,
                    method=PaymentMethod.PLATFORM,
                    actor=actor,
                    transaction_id=f"{channel.code}:{platform_order.external_id}"[:128],
                    paid_at=platform_order.paid_at,
                )
                locked.refresh_from_db()
            if target == S.CANCELLED:
                cancel_order(locked, reason=reason, actor=actor)
            elif target == S.CLOSED:
                close_order(locked, reason=reason, actor=actor)
            else:
                for step in steps_towards(locked.status, target) if locked.status != S.ON_HOLD else [target]:
                    _step(locked.pk, step, actor=actor, reason=reason)
    except StockShortage:
        return None  # confirm_order already flagged the order 'stock short'; the clerk takes it from there
    except OMSError as exc:
        detail = _("%(platform)s says %(status)s (→ %(target)s), OMS refused: %(why)s") % {
            "platform": channel.platform,
            "status": platform_order.platform_status,
            "target": S(target).label,
            "why": exc.message,
        }
        flag_exception(pk, reason=ExceptionReason.SYNC_CONFLICT, detail=detail, actor=actor)
        return detail
    return None


def _step(pk: int, status: str, *, actor: Actor, reason: str) -> None:
    """One forward move through the matching verb, so its side effects (stock, timestamps, hooks) happen."""
    current = Order.objects.only("status").get(pk=pk).status
    if current == status:
        return
    if status == S.AWAITING_SHIPMENT and current == S.PENDING_REVIEW:
        confirm_order(pk, actor=actor)
    elif status == S.DELIVERED:
        mark_delivered(pk, actor=actor)
    elif status == S.COMPLETED:
        complete_order(pk, actor=actor)
    else:
        transition_order(pk, status, actor=actor, message=reason)
