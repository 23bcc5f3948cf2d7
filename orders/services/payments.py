"""Payments and refunds; the order's payment status is derived from them, never typed in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import ValidationFailed
from oms.money import ZERO, to_money
from orders import hooks, state
from orders.choices import EventType, OrderStatus, PaymentKind, PaymentMethod
from orders.models import Order, Payment
from orders.services.events import record_event
from orders.services.lifecycle import _change_status, lock_order


def record_payment(
    order: Order | int,
    *,
    amount: Decimal | str,
    method: str,
    actor: Actor,
    currency: str = "",
    transaction_id: str = "",
    paid_at: dt.datetime | None = None,
    kind: str = PaymentKind.PAYMENT,
) -> Payment:
    """Record money received (or refunded) and re-derive the payment status.

    A pending-payment order that becomes paid moves on to review through the state machine. A payment with
    a transaction id already recorded on this order is not recorded twice (idempotent).
    """
    amount = to_money(amount, field="amount")
    if amount <= 0:
        raise ValidationFailed(_("amount must be positive"), code="invalid_amount", field="amount")
    if method not in PaymentMethod.values:
        raise ValidationFailed(
            _("unknown payment method '%(m)s'") % {"m": method}, code="invalid_choice", field="method"
        )
    if kind not in PaymentKind.values:
        raise ValidationFailed(
            _("unknown payment kind '%(k)s'") % {"k": kind}, code="invalid_choice", field="kind"
        )
    with transaction.atomic():
        locked = lock_order(order)
        if currency and currency != locked.currency:
            raise ValidationFailed(
                _("payment currency %(got)s does not match the order currency %(expected)s")
                % {"got": currency, "expected": locked.currency},
                code="currency_mismatch",
                field="currency",
            )
        if transaction_id:
            existing = locked.payments.filter(transaction_id=transaction_id, kind=kind).first()
            if existing:
                return existing
        totals = {
            row["kind"]: row["sum"] or ZERO
            for row in locked.payments.filter(status=Payment.Status.SUCCEEDED)
            .values("kind")
            .annotate(sum=Sum("amount"))
        }
        paid = totals.get(PaymentKind.PAYMENT, ZERO) + (amount if kind == PaymentKind.PAYMENT else ZERO)
        refunded = totals.get(PaymentKind.REFUND, ZERO) + (amount if kind == PaymentKind.REFUND else ZERO)
        if kind == PaymentKind.REFUND and refunded > paid:
            raise ValidationFailed(
                _("refund of %(amount)s exceeds what was paid (%(paid)s)")
                % {"amount": amount, "paid": paid - refunded + amount},
                code="refund_exceeds_paid",
                field="amount",
            )
        payment = Payment.objects.create(
            order=locked,
            kind=kind,
            method=method,
            amount=amount,
            currency=locked.currency,
            transaction_id=transaction_id,
            paid_at=paid_at or timezone.now(),
        )
        locked.paid_amount = paid
        locked.refunded_amount = refunded
        locked.payment_status = state.payment_status_for(locked.total, paid, refunded)
        fields = ["paid_amount", "refunded_amount", "payment_status", "updated_at"]
        if kind == PaymentKind.PAYMENT and locked.paid_at is None:
            locked.paid_at = payment.paid_at
            fields.append("paid_at")
        locked.save(update_fields=fields)
        record_event(
            locked,
            type=EventType.PAYMENT_RECORDED,
            actor=actor,
            message=_("%(kind)s of %(amount)s %(cur)s via %(method)s")
            % {
                "kind": PaymentKind(kind).label,
                "amount": amount,
                "cur": locked.currency,
                "method": PaymentMethod(method).label,
            },
            amount=amount,
            kind=kind,
            method=method,
            transaction_id=transaction_id,
        )
        if (
            locked.status == OrderStatus.PENDING_PAYMENT
            and state.check_transition(locked, OrderStatus.PENDING_REVIEW) is None
        ):
            _change_status(
                locked, OrderStatus.PENDING_REVIEW, actor=actor, message=_("Paid; waiting for review")
            )
        hooks.dispatch("payment_received", order_id=locked.pk, payment_id=payment.pk, kind=kind, actor=actor)
        return payment
