"""Returns and refunds: a return request with lines and a reason, approved or refused, goods received
(back to stock or written off), and the refund recorded through record_payment(kind=refund).

The order's payment status follows from its payments (partially refunded, refunded); its fulfilment status
becomes 'returned' once every ordered unit came back. Locks: the order row first, then the return row.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import TransitionNotAllowed, ValidationFailed
from oms.money import CENT, ZERO, to_money
from orders.choices import EventType, FulfillmentStatus, PaymentKind, PaymentMethod
from orders.models import Order, OrderLine, Payment, ReturnLine, ReturnRequest, StockLevel, Warehouse
from orders.services.events import record_event
from orders.services.lifecycle import lock_order
from orders.services.payments import record_payment

R = ReturnRequest.Status
OPEN = (R.REQUESTED, R.APPROVED, R.RECEIVED)
"""Returns still in progress: their units cannot be asked back a second time."""


def returnable_quantities(order: Order) -> dict[int, int]:
    """Units per order line pk that can still be asked back: shipped minus those in non-refused returns."""
    asked: dict[int, int] = defaultdict(int)
    for row in (
        ReturnLine.objects.filter(return_request__order=order)
        .exclude(return_request__status=R.REFUSED)
        .values("order_line_id")
        .annotate(total=Sum("quantity"))
    ):
        asked[row["order_line_id"]] = row["total"] or 0
    return {line.pk: line.quantity_shipped - asked[line.pk] for line in order.lines.order_by("pk")}


def line_value(line: OrderLine, quantity: int) -> Decimal:
    """What `quantity` units of `line` cost the buyer (the line total prorated, to the cent)."""
    if quantity >= line.quantity:
        return line.total
    return (line.total * quantity / line.quantity).quantize(CENT)


def return_value(request: ReturnRequest) -> Decimal:
    """The value of a return's units (received units once goods arrived, else the units asked back)."""
    total = ZERO
    for rline in request.lines.select_related("order_line"):
        quantity = rline.quantity_received if request.status in (R.RECEIVED, R.REFUNDED) else rline.quantity
        total += line_value(rline.order_line, quantity)
    return total


def request_return(
    order: Order | int,
    *,
    lines: dict[int, int],
    reason: str,
    actor: Actor,
    refund_amount: Decimal | str | None = None,
    warehouse: Warehouse | None = None,
    note: str = "",
) -> ReturnRequest:
    """Open a return for shipped units (`lines`: order line pk → units) with a reason.

    `refund_amount` overrides the value of the units (e.g. keep the shipping fee); it may not exceed
    what the buyer paid and was not yet refunded.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("a return reason is required"), code="reason_required", field="reason")
    if not lines:
        raise ValidationFailed(_("choose the units to return"), code="required", field="lines")
    with transaction.atomic():
        locked = lock_order(order)
        available = returnable_quantities(locked)
        for line_pk, quantity in lines.items():
            if line_pk not in available:
                raise ValidationFailed(
                    _("line %(pk)s is not on order %(n)s") % {"pk": line_pk, "n": locked.number},
                    code="unknown_line",
                    field="lines",
                )
            if not isinstance(quantity, int) or quantity <= 0 or quantity > available[line_pk]:
                raise ValidationFailed(
                    _("line %(pk)s: cannot return %(q)s units (%(a)s shipped and not yet asked back)")
                    % {"pk": line_pk, "q": quantity, "a": available[line_pk]},
                    code="invalid_quantity",
                    field="lines",
                )
        amount = None
        if refund_amount is not None and refund_amount != "":
            amount = to_money(refund_amount, field="refund_amount")
            refundable = locked.paid_amount - locked.refunded_amount
            if amount < 0 or amount > refundable:
                raise ValidationFailed(
                    _("refund %(a)s must be between 0 and %(r)s (paid and not yet refunded)")
                    % {"a": amount, "r": refundable},
                    code="refund_exceeds_paid",
                    field="refund_amount",
                )
        request = ReturnRequest.objects.create(
            order=locked,
            reason=reason[:300],
            note=note,
            refund_amount=amount,
            warehouse=warehouse or locked.warehouse,
        )
        ReturnLine.objects.bulk_create(
            [
                ReturnLine(return_request=request, order_line_id=pk, quantity=qty)
                for pk, qty in sorted(lines.items())
            ]
        )
        record_event(
            locked,
            type=EventType.RETURN_CHANGED,
            actor=actor,
            message=_("Return R%(id)s requested (%(units)s units): %(reason)s")
            % {"id": request.pk, "units": sum(lines.values()), "reason": reason},
            return_id=request.pk,
            status=R.REQUESTED,
            lines={str(pk): qty for pk, qty in lines.items()},
        )
        return request


def _lock_return(request: ReturnRequest | int) -> tuple[Order, ReturnRequest]:
    pk = request.pk if isinstance(request, ReturnRequest) else request
    order_id = ReturnRequest.objects.values_list("order_id", flat=True).get(pk=pk)
    order = lock_order(order_id)
    return order, ReturnRequest.objects.select_for_update().get(pk=pk)


def _refuse_move(request: ReturnRequest, allowed: tuple[str, ...], verb: str) -> None:
    if request.status not in allowed:
        raise TransitionNotAllowed(
            _("return R%(id)s is %(status)s and cannot be %(verb)s")
            % {"id": request.pk, "status": request.get_status_display().lower(), "verb": verb},
            code="return_transition_not_allowed",
            field="status",
        )


def approve_return(request: ReturnRequest | int, *, actor: Actor, note: str = "") -> ReturnRequest:
    """Accept a requested return: the buyer may send the goods back."""
    with transaction.atomic():
        order, locked = _lock_return(request)
        _refuse_move(locked, (R.REQUESTED,), _("approved"))
        locked.status, locked.decided_at = R.APPROVED, timezone.now()
        locked.save(update_fields=["status", "decided_at"])
        record_event(
            order,
            type=EventType.RETURN_CHANGED,
            actor=actor,
            message=_("Return R%(id)s approved") % {"id": locked.pk} + (f": {note}" if note else ""),
            return_id=locked.pk,
            status=R.APPROVED,
        )
        return locked


def refuse_return(request: ReturnRequest | int, *, reason: str, actor: Actor) -> ReturnRequest:
    """Refuse a requested return with a reason; its units can be asked back again later."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("a refusal reason is required"), code="reason_required", field="reason")
    with transaction.atomic():
        order, locked = _lock_return(request)
        _refuse_move(locked, (R.REQUESTED, R.APPROVED), _("refused"))
        locked.status, locked.decided_at, locked.refuse_reason = R.REFUSED, timezone.now(), reason[:300]
        locked.save(update_fields=["status", "decided_at", "refuse_reason"])
        record_event(
            order,
            type=EventType.RETURN_CHANGED,
            actor=actor,
            message=_("Return R%(id)s refused: %(reason)s") % {"id": locked.pk, "reason": reason},
            return_id=locked.pk,
            status=R.REFUSED,
        )
        return locked


def receive_return(
    request: ReturnRequest | int,
    *,
    actor: Actor,
    quantities: dict[int, int] | None = None,
    write_off: set[int] | frozenset[int] = frozenset(),
) -> ReturnRequest:
    """Record the goods that arrived (`quantities`: order line pk → units, default all asked back).

    Units of lines in `write_off` are written off (damaged); the others go back on hand in the return's
    warehouse, stock rows touched in product-pk order. When every ordered unit came back, the order's
    fulfilment status becomes 'returned'.
    """
    with transaction.atomic():
        order, locked = _lock_return(request)
        _refuse_move(locked, (R.APPROVED,), _("received"))
        rlines = {
            rl.order_line_id: rl for rl in locked.lines.select_related("order_line", "order_line__product")
        }
        wanted = quantities if quantities is not None else {pk: rl.quantity for pk, rl in rlines.items()}
        for line_pk, quantity in wanted.items():
            if line_pk not in rlines:
                raise ValidationFailed(
                    _("line %(pk)s is not on return R%(id)s") % {"pk": line_pk, "id": locked.pk},
                    code="unknown_line",
                    field="lines",
                )
            if not isinstance(quantity, int) or quantity < 0 or quantity > rlines[line_pk].quantity:
                raise ValidationFailed(
                    _("line %(pk)s: cannot receive %(q)s units (%(a)s asked back)")
                    % {"pk": line_pk, "q": quantity, "a": rlines[line_pk].quantity},
                    code="invalid_quantity",
                    field="lines",
                )
        if not any(wanted.values()):
            raise ValidationFailed(_("no units received"), code="nothing_received", field="lines")
        warehouse_id = locked.warehouse_id or order.warehouse_id
        restock: dict[int, int] = defaultdict(int)
        for line_pk, rline in rlines.items():
            quantity = wanted.get(line_pk, 0)
            rline.quantity_received = quantity
            rline.disposition = (
                ""
                if not quantity
                else (
                    ReturnLine.Disposition.WRITE_OFF
                    if line_pk in write_off
                    else ReturnLine.Disposition.RESTOCK
                )
            )
            rline.save(update_fields=["quantity_received", "disposition"])
            if quantity and line_pk not in write_off:
                restock[rline.order_line.product_id] += quantity
        if restock and warehouse_id is None:
            raise ValidationFailed(
                _("return R%(id)s has no warehouse to restock into") % {"id": locked.pk},
                code="required",
                field="warehouse",
            )
        for product_id, quantity in sorted(restock.items()):
            level, _created = StockLevel.objects.get_or_create(
                product_id=product_id, warehouse_id=warehouse_id
            )
            StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + quantity)
        locked.status, locked.received_at = R.RECEIVED, timezone.now()
        locked.save(update_fields=["status", "received_at"])
        record_event(
            order,
            type=EventType.RETURN_CHANGED,
            actor=actor,
            message=_("Return R%(id)s received: %(restocked)s units back to stock, %(written)s written off")
            % {
                "id": locked.pk,
                "restocked": sum(restock.values()),
                "written": sum(q for pk, q in wanted.items() if pk in write_off),
            },
            return_id=locked.pk,
            status=R.RECEIVED,
            received={str(pk): qty for pk, qty in wanted.items()},
            written_off=sorted(write_off),
        )
        _derive_returned(order)
        return locked


def returned_quantities(order: Order) -> dict[int, int]:
    """Units per order line pk that came back in received returns."""
    return {
        row["order_line_id"]: row["total"] or 0
        for row in ReturnLine.objects.filter(
            return_request__order=order, return_request__status__in=(R.RECEIVED, R.REFUNDED)
        )
        .values("order_line_id")
        .annotate(total=Sum("quantity_received"))
    }


def _derive_returned(order: Order) -> None:
    """Set fulfilment status 'returned' once every ordered unit came back (computed, never typed in)."""
    back = returned_quantities(order)
    lines = list(order.lines.all())
    all_back = lines and all(back.get(line.pk, 0) >= line.quantity for line in lines)
    if all_back and order.fulfillment_status != FulfillmentStatus.RETURNED:
        order.fulfillment_status = FulfillmentStatus.RETURNED
        order.save(update_fields=["fulfillment_status", "updated_at"])


def _refund_method(order: Order) -> str:
    """The method of the order's latest successful payment (refunds go back the way money came)."""
    method = (
        order.payments.filter(kind=PaymentKind.PAYMENT, status=Payment.Status.SUCCEEDED)
        .order_by("-paid_at", "-pk")
        .values_list("method", flat=True)
        .first()
    )
    return method or PaymentMethod.OTHER


def refund_order(
    order: Order | int,
    *,
    amount: Decimal | str,
    reason: str,
    actor: Actor,
    method: str = "",
    transaction_id: str = "",
) -> Payment:
    """Refund part or all of what was paid, with or without a return (price adjustment, unshipped units).

    Never more than paid minus already refunded (record_payment refuses it). Idempotent per transaction id.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("a refund reason is required"), code="reason_required", field="reason")
    with transaction.atomic():
        locked = lock_order(order)
        payment = record_payment(
            locked,
            amount=amount,
            method=method or _refund_method(locked),
            kind=PaymentKind.REFUND,
            transaction_id=transaction_id,
            actor=actor,
        )
        record_event(
            locked,
            type=EventType.NOTE_ADDED,
            actor=actor,
            message=_("Refund %(amount)s: %(reason)s") % {"amount": payment.amount, "reason": reason},
            payment=payment.pk,
        )
        return payment


def refund_return(
    request: ReturnRequest | int,
    *,
    actor: Actor,
    amount: Decimal | str | None = None,
    method: str = "",
    transaction_id: str = "",
) -> Payment:
    """Refund an approved or received return (default: its agreed amount, else the value of its units).

    The refund's transaction id defaults to 'return-<id>', so repeating the call never refunds twice.
    """
    with transaction.atomic():
        order, locked = _lock_return(request)
        _refuse_move(locked, (R.APPROVED, R.RECEIVED), _("refunded"))
        if amount is None or amount == "":
            value = locked.refund_amount if locked.refund_amount is not None else return_value(locked)
        else:
            value = to_money(amount, field="amount")
        value = min(value, order.paid_amount - order.refunded_amount)
        if value <= 0:
            raise ValidationFailed(
                _("nothing left to refund on order %(n)s") % {"n": order.number},
                code="nothing_to_refund",
                field="amount",
            )
        payment = record_payment(
            order,
            amount=value,
            method=method or _refund_method(order),
            kind=PaymentKind.REFUND,
            transaction_id=transaction_id or f"return-{locked.pk}",
            actor=actor,
        )
        locked.status, locked.refunded_at = R.REFUNDED, timezone.now()
        locked.refunded_amount = payment.amount
        locked.save(update_fields=["status", "refunded_at", "refunded_amount"])
        record_event(
            order,
            type=EventType.RETURN_CHANGED,
            actor=actor,
            message=_("Return R%(id)s refunded %(amount)s") % {"id": locked.pk, "amount": payment.amount},
            return_id=locked.pk,
            status=R.REFUNDED,
            amount=payment.amount,
        )
        return payment
