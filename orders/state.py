"""The order lifecycle: one transition table and its guards. Pure: no database access.

orders.services.transitions is the only code that writes Order.status, and it asks this module first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from orders.choices import InspectionStatus, OrderStatus, OrderType, PaymentStatus, StockStatus

S = OrderStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.CANCELLED, S.CLOSED}),
    S.PENDING_REVIEW: frozenset({S.AWAITING_SHIPMENT, S.ON_HOLD, S.CANCELLED}),
    S.AWAITING_SHIPMENT: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.ON_HOLD, S.CANCELLED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED, S.ON_HOLD}),
    S.SHIPPED: frozenset({S.DELIVERED, S.COMPLETED, S.CLOSED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.CLOSED}),
    S.COMPLETED: frozenset({S.CLOSED}),
    S.ON_HOLD: frozenset(
        {S.PENDING_PAYMENT, S.PENDING_REVIEW, S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED, S.CANCELLED}
    ),
    S.CANCELLED: frozenset(),
    S.CLOSED: frozenset(),
}
"""Every legal move: current status → the statuses it may go to."""

TERMINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)
CANCELLABLE_BEFORE_HOLD = frozenset({S.PENDING_PAYMENT, S.PENDING_REVIEW, S.AWAITING_SHIPMENT})


@dataclass(frozen=True)
class Refusal:
    """Why a move is refused: a stable code and a message a clerk can act on."""

    code: str
    message: str


Guard = Callable[[Any, str], Refusal | None]


def _label(status: str) -> str:
    return str(S(status).label).lower()


def guard_payment_for_review(order: Any, target: str) -> Refusal | None:
    """An order leaves 'pending payment' only once paid (presale/installment: once a deposit is in)."""
    enough = {PaymentStatus.PAID}
    if order.order_type in (OrderType.PRESALE, OrderType.INSTALLMENT):
        enough.add(PaymentStatus.PARTIALLY_PAID)
    if order.payment_status not in enough:
        return Refusal("payment_required", _("order %(number)s is not paid yet") % {"number": order.number})
    return None


def guard_ready_to_ship(order: Any, target: str) -> Refusal | None:
    """Shipping needs a complete address and reserved stock."""
    if not order.address_is_complete:
        return Refusal(
            "address_incomplete",
            _("order %(number)s has an incomplete shipping address") % {"number": order.number},
        )
    if order.stock_status == StockStatus.WAITING:
        return Refusal(
            "stock_not_reserved", _("order %(number)s is still waiting for stock") % {"number": order.number}
        )
    return None


def guard_release_to_previous(order: Any, target: str) -> Refusal | None:
    """A released order returns to the status it was held from (cancelling is always possible)."""
    if target == S.CANCELLED:
        if order.held_from_status not in CANCELLABLE_BEFORE_HOLD:
            return Refusal(
                "transition_not_allowed",
                _("order %(number)s was held after shipping started and cannot be cancelled")
                % {"number": order.number},
            )
        return None
    if target != order.held_from_status:
        return Refusal(
            "release_target_mismatch",
            _("order %(number)s was held from '%(previous)s' and can only be released back to it")
            % {"number": order.number, "previous": _label(order.held_from_status or S.PENDING_REVIEW)},
        )
    return None


def guard_refunded_to_close(order: Any, target: str) -> Refusal | None:
    """A paid order is closed only after a full refund; an unpaid one may be closed (timed out)."""
    if order.payment_status in (PaymentStatus.UNPAID, PaymentStatus.REFUNDED):
        return None
    return Refusal(
        "refund_required",
        _("order %(number)s must be fully refunded before it is closed") % {"number": order.number},
    )


def guard_trade_in_inspected(order: Any, target: str) -> Refusal | None:
    """A trade-in order ships only once the buyer's old item passed inspection."""
    if order.order_type != OrderType.TRADE_IN:
        return None
    if getattr(order, "trade_in_inspection", "") == InspectionStatus.PASSED:
        return None
    return Refusal(
        "trade_in_not_inspected",
        _("order %(number)s is a trade-in: the old item must pass inspection before shipping")
        % {"number": order.number},
    )


GUARDS: dict[tuple[str, str], tuple[Guard, ...]] = {
    (S.PENDING_PAYMENT, S.PENDING_REVIEW): (guard_payment_for_review,),
    (S.AWAITING_SHIPMENT, S.SHIPPED): (guard_ready_to_ship, guard_trade_in_inspected),
    (S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED): (guard_ready_to_ship, guard_trade_in_inspected),
    **{(S.ON_HOLD, target): (guard_release_to_previous,) for target in TRANSITIONS[S.ON_HOLD]},
    **{
        (source, S.CLOSED): (guard_refunded_to_close,)
        for source in TRANSITIONS
        if S.CLOSED in TRANSITIONS[source]
    },
}
"""Extra conditions on some moves, each a pure function of the order's fields."""


def allowed_targets(status: str) -> frozenset[str]:
    """The statuses the table allows from `status` (before guards)."""
    return TRANSITIONS[status]


def check_transition(order: Any, target: str) -> Refusal | None:
    """Return why moving `order` to `target` is refused, or None if the move is legal now."""
    source = order.status
    if target not in TRANSITIONS.get(source, ()):
        if source == target:
            message = _("order %(number)s is already %(status)s")
        elif target == S.CANCELLED:
            message = _("order %(number)s is %(status)s and cannot be cancelled")
        elif target == S.ON_HOLD:
            message = _("order %(number)s is %(status)s and cannot be put on hold")
        else:
            message = _("order %(number)s is %(status)s and cannot move to %(target)s")
        return Refusal(
            "transition_not_allowed",
            message % {"number": order.number, "status": _label(source), "target": _label(target)},
        )
    for guard in GUARDS.get((source, target), ()):
        refusal = guard(order, target)
        if refusal is not None:
            return refusal
    return None


def legal_targets(order: Any) -> list[str]:
    """The statuses `order` can move to right now, guards included (for the order page's buttons)."""
    return [target for target in TRANSITIONS[order.status] if check_transition(order, target) is None]


def fulfillment_status_for(quantities: list[tuple[int, int]]) -> str:
    """Derive the fulfilment status from (ordered, shipped) quantities per line."""
    from orders.choices import FulfillmentStatus

    shipped = sum(s for _q, s in quantities)
    if shipped == 0:
        return FulfillmentStatus.UNFULFILLED
    if all(s >= q for q, s in quantities):
        return FulfillmentStatus.FULFILLED
    return FulfillmentStatus.PARTIALLY_FULFILLED


def payment_status_for(total: Any, paid: Any, refunded: Any) -> str:
    """Derive the payment status from the order total and the sums paid and refunded."""
    if refunded > 0:
        return PaymentStatus.REFUNDED if refunded >= paid else PaymentStatus.PARTIALLY_REFUNDED
    if total <= 0:
        return PaymentStatus.PAID  # nothing to pay (gift, fully discounted)
    if paid <= 0:
        return PaymentStatus.UNPAID
    if paid >= total:
        return PaymentStatus.PAID
    return PaymentStatus.PARTIALLY_PAID
