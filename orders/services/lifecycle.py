"""Lifecycle verbs. `_change_status` is the only code in OMS that writes Order.status."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor, ActorKind
from oms.errors import OMSError, StockShortage, TransitionNotAllowed, ValidationFailed
from orders import hooks, state
from orders.choices import (
    EventType,
    ExceptionReason,
    HoldKind,
    OrderStatus,
    OrderType,
    StockStatus,
)
from orders.models import Order
from orders.services.events import record_event
from orders.services.stock import release_order_stock, reserve_order_stock

S = OrderStatus

_TIMESTAMP_FOR = {
    S.SHIPPED: "shipped_at",
    S.DELIVERED: "delivered_at",
    S.COMPLETED: "completed_at",
    S.CANCELLED: "cancelled_at",
}


def lock_order(order: Order | int) -> Order:
    """Re-read the order with its row locked for the rest of the transaction."""
    pk = order.pk if isinstance(order, Order) else order
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the joins to channel/warehouse.
    return Order.objects.select_for_update(of=("self",)).select_related("channel", "warehouse").get(pk=pk)


def _change_status(
    order: Order,
    target: str,
    *,
    actor: Actor,
    message: str = "",
    fields: dict[str, Any] | None = None,
    **data: Any,
) -> Order:
    """Move a locked order to `target`: check the table and guards, save, write the event, queue hooks.

    Callers hold the row lock (lock_order) inside transaction.atomic(). Raises TransitionNotAllowed.
    """
    refusal = state.check_transition(order, target)
    if refusal is not None:
        raise TransitionNotAllowed(refusal.message, code=refusal.code, field="status")
    source = order.status
    changed = {"status": target, **(fields or {})}
    stamp = _TIMESTAMP_FOR.get(target)
    if stamp and getattr(order, stamp) is None and stamp not in changed:
        changed[stamp] = timezone.now()
    for name, value in changed.items():
        setattr(order, name, value)
    order.save(update_fields=[*changed, "updated_at"])
    event = record_event(
        order,
        type=EventType.STATUS_CHANGED,
        actor=actor,
        message=message
        or _("%(source)s → %(target)s") % {"source": S(source).label, "target": S(target).label},
        source=source,
        target=target,
        **data,
    )
    hooks.dispatch(
        "status_changed", order_id=order.pk, source=source, target=target, actor=actor, event_id=event.pk
    )
    return order


_VERB_FOR_TARGET = {
    S.AWAITING_SHIPMENT: "confirm_order",
    S.PARTIALLY_SHIPPED: "ship_order",
    S.SHIPPED: "ship_order",
    S.DELIVERED: "mark_delivered",
    S.ON_HOLD: "hold_order",
    S.CANCELLED: "cancel_order",
    S.CLOSED: "close_order",
}
"""Moves with side effects of their own (stock, shipments, hold details): only their verb may make them."""


def transition_order(
    order: Order | int, target: str, *, actor: Actor, message: str = "", **data: Any
) -> Order:
    """Move an order to `target` when the move has no side effects (paid → review, → completed).

    A move that reserves, ships, releases stock, holds or releases a hold is refused with code
    'verb_required' naming the verb to call, so no caller can skip its stock or permission checks.
    """
    with transaction.atomic():
        locked = lock_order(order)
        refusal = state.check_transition(locked, target)
        if refusal is not None:
            raise TransitionNotAllowed(refusal.message, code=refusal.code, field="status")
        verb = "release_hold" if locked.status == S.ON_HOLD else _VERB_FOR_TARGET.get(target)
        if verb:
            raise TransitionNotAllowed(
                _("order %(number)s: use %(verb)s for this move") % {"number": locked.number, "verb": verb},
                code="verb_required",
                field="status",
                verb=verb,
            )
        return _change_status(locked, target, actor=actor, message=message, **data)


def confirm_order(order: Order | int, *, actor: Actor) -> Order:
    """Approve a reviewed order for shipping and reserve its stock.

    Short stock: a presale order waits for stock (awaiting shipment, stock waiting); any other order stays in
    review, is flagged as a 'stock short' exception and StockShortage is raised.
    """
    pk = order.pk if isinstance(order, Order) else order
    try:
        with transaction.atomic():
            locked = lock_order(pk)
            if locked.status == S.ON_HOLD:
                # The table allows on hold → awaiting shipment only as a release (release_hold checks rights).
                raise TransitionNotAllowed(
                    _("order %(number)s is on hold; release the hold instead") % {"number": locked.number},
                    code="release_required",
                    field="status",
                )
            refusal = state.check_transition(locked, S.AWAITING_SHIPMENT)
            if refusal is not None:
                raise TransitionNotAllowed(refusal.message, code=refusal.code, field="status")
            reserve_order_stock(locked, actor=actor)
            return _change_status(
                locked,
                S.AWAITING_SHIPMENT,
                actor=actor,
                fields={"stock_status": StockStatus.RESERVED},
                message=_("Confirmed"),
            )
    except StockShortage as shortage:
        with transaction.atomic():
            locked = lock_order(pk)
            if locked.order_type == OrderType.PRESALE:
                record_event(locked, type=EventType.STOCK_SHORT, actor=actor, message=shortage.message)
                return _change_status(
                    locked,
                    S.AWAITING_SHIPMENT,
                    actor=actor,
                    fields={"stock_status": StockStatus.WAITING},
                    message=_("Confirmed; presale waits for stock"),
                )
            _flag_exception(locked, ExceptionReason.STOCK_SHORT, shortage.message, actor=actor)
        raise


def cancel_order(order: Order | int, *, reason: str, actor: Actor) -> Order:
    """Cancel an order that has not shipped; its reserved stock is released."""
    if not reason or not reason.strip():
        raise ValidationFailed(_("a cancel reason is required"), code="reason_required", field="reason")
    with transaction.atomic():
        locked = lock_order(order)
        refusal = state.check_transition(locked, S.CANCELLED)
        if refusal is not None:
            raise TransitionNotAllowed(refusal.message, code=refusal.code, field="status")
        release_order_stock(locked, actor=actor)
        new_stock = StockStatus.RELEASED if locked.stock_status != StockStatus.NONE else StockStatus.NONE
        return _change_status(
            locked,
            S.CANCELLED,
            actor=actor,
            message=_("Cancelled: %(reason)s") % {"reason": reason},
            fields={
                "cancel_reason": reason[:200],
                "stock_status": new_stock,
                "hold_kind": "",
                "hold_reason": "",
            },
            reason=reason,
        )


def hold_order(order: Order | int, *, kind: str, reason: str, actor: Actor) -> Order:
    """Put an order on hold (review, finance review, delayed) with a reason; stock stays reserved."""
    if kind not in HoldKind.values:
        raise ValidationFailed(
            _("unknown hold kind '%(kind)s'") % {"kind": kind}, code="invalid_choice", field="kind"
        )
    if not reason or not reason.strip():
        raise ValidationFailed(_("a hold reason is required"), code="reason_required", field="reason")
    with transaction.atomic():
        locked = lock_order(order)
        source = locked.status
        changed = _change_status(
            locked,
            S.ON_HOLD,
            actor=actor,
            message=_("On hold (%(kind)s): %(reason)s") % {"kind": HoldKind(kind).label, "reason": reason},
            fields={
                "held_from_status": source,
                "hold_kind": kind,
                "hold_reason": reason[:200],
                "held_at": timezone.now(),
            },
            kind=kind,
            reason=reason,
        )
        record_event(changed, type=EventType.HOLD_SET, actor=actor, message=reason, kind=kind)
        hooks.dispatch_on_commit("hold_set", order_id=changed.pk, kind=kind, reason=reason, actor=actor)
        return changed


def release_hold(order: Order | int, *, actor: Actor, note: str = "") -> Order:
    """Release a held order back to the status it was held from. A finance hold needs finance permission."""
    with transaction.atomic():
        locked = lock_order(order)
        if locked.status != S.ON_HOLD:
            raise TransitionNotAllowed(
                _("order %(number)s is not on hold") % {"number": locked.number},
                code="not_on_hold",
                field="status",
            )
        if locked.hold_kind == HoldKind.FINANCE and (
            actor.kind == ActorKind.RULE
            or (actor.user is not None and not actor.user.has_perm("orders.finance_review_order"))
        ):
            raise TransitionNotAllowed(
                _("order %(number)s is in finance review; only finance can approve it")
                % {"number": locked.number},
                code="finance_permission_required",
                field="status",
            )
        kind, reason = locked.hold_kind, locked.hold_reason
        changed = _change_status(
            locked,
            locked.held_from_status or S.PENDING_REVIEW,
            actor=actor,
            message=_("Hold released") + (f": {note}" if note else ""),
            fields={"held_from_status": "", "hold_kind": "", "hold_reason": "", "held_at": None},
            released_kind=kind,
            released_reason=reason,
        )
        record_event(changed, type=EventType.HOLD_RELEASED, actor=actor, message=note or reason, kind=kind)
        if changed.status == S.PENDING_PAYMENT and state.check_transition(changed, S.PENDING_REVIEW) is None:
            # Paid while it was held: move on to review as record_payment would have.
            _change_status(
                changed, S.PENDING_REVIEW, actor=actor, message=_("Paid while on hold; waiting for review")
            )
        return changed


def mark_delivered(order: Order | int, *, actor: Actor, at=None) -> Order:
    """Record that the buyer received a shipped order."""
    from orders.choices import FulfillmentStatus

    with transaction.atomic():
        locked = lock_order(order)
        return _change_status(
            locked,
            S.DELIVERED,
            actor=actor,
            fields={"delivered_at": at or timezone.now(), "fulfillment_status": FulfillmentStatus.DELIVERED},
        )


def complete_order(order: Order | int, *, actor: Actor) -> Order:
    """Close the deal: the buyer confirmed receipt or the platform completed the trade."""
    with transaction.atomic():
        return _change_status(lock_order(order), S.COMPLETED, actor=actor)


def close_order(order: Order | int, *, reason: str, actor: Actor) -> Order:
    """Close an unpaid (timed-out) or fully refunded order; any reservation is released."""
    if not reason or not reason.strip():
        raise ValidationFailed(
            _("a reason is required to close an order"), code="reason_required", field="reason"
        )
    with transaction.atomic():
        locked = lock_order(order)
        refusal = state.check_transition(locked, S.CLOSED)
        if refusal is not None:
            raise TransitionNotAllowed(refusal.message, code=refusal.code, field="status")
        release_order_stock(locked, actor=actor)
        return _change_status(locked, S.CLOSED, actor=actor, message=reason, reason=reason)


def _flag_exception(order: Order, reason: str, detail: str, *, actor: Actor) -> None:
    order.exception_reason = reason
    order.exception_detail = detail[:300]
    order.exception_at = timezone.now()
    order.save(update_fields=["exception_reason", "exception_detail", "exception_at", "updated_at"])
    record_event(order, type=EventType.EXCEPTION_FLAGGED, actor=actor, message=detail, reason=reason)


def flag_exception(order: Order | int, *, reason: str, detail: str = "", actor: Actor) -> Order:
    """Mark an order as needing attention, with a reason from ExceptionReason and a free detail."""
    if reason not in ExceptionReason.values:
        raise ValidationFailed(
            _("unknown exception reason '%(reason)s'") % {"reason": reason},
            code="invalid_choice",
            field="reason",
        )
    with transaction.atomic():
        locked = lock_order(order)
        _flag_exception(locked, reason, detail or str(ExceptionReason(reason).label), actor=actor)
        return locked


def resolve_exception(order: Order | int, *, resolution: str, note: str = "", actor: Actor) -> Order:
    """Clear an order's exception, recording how it was resolved (for suggesting resolutions later)."""
    if not resolution:
        raise ValidationFailed(
            _("say how the exception was resolved"), code="reason_required", field="resolution"
        )
    with transaction.atomic():
        locked = lock_order(order)
        if not locked.exception_reason:
            raise OMSError(
                _("order %(number)s has no exception") % {"number": locked.number}, code="no_exception"
            )
        reason = locked.exception_reason
        locked.exception_reason = ""
        locked.exception_detail = ""
        locked.exception_at = None
        locked.save(update_fields=["exception_reason", "exception_detail", "exception_at", "updated_at"])
        record_event(
            locked,
            type=EventType.EXCEPTION_RESOLVED,
            actor=actor,
            message=note or resolution,
            reason=reason,
            resolution=resolution,
        )
        return locked


def add_note(order: Order | int, *, text: str, actor: Actor) -> None:
    """Add a note to the order's timeline."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(_("the note is empty"), code="required", field="text")
    pk = order.pk if isinstance(order, Order) else order
    record_event(Order(pk=pk), type=EventType.NOTE_ADDED, actor=actor, message=text[:5000])
