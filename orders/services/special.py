"""Special order types: presale (deposit, balance due date, ship-from date, stock reserved when it
arrives, oldest first), installments (a payment schedule; overdue ones flag the order) and trade-in (the
old item's assessed value credited against the total; the order ships only once the item passed
inspection — the guard lives in orders/state.py).

Payment schedules are PaymentDue rows; whether a due is paid is derived from the order's net paid amount
(dues settle in sequence), never typed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import StockShortage, TransitionNotAllowed, ValidationFailed
from oms.money import ZERO, to_money
from orders import state
from orders.choices import (
    EventType,
    ExceptionReason,
    InspectionStatus,
    OrderStatus,
    OrderType,
    PaymentKind,
    StockStatus,
)
from orders.models import Order, Payment, PaymentDue, PresaleTerms, Product, TradeIn, Warehouse
from orders.services.events import record_event
from orders.services.lifecycle import _flag_exception, lock_order
from orders.services.stock import reserve_order_stock

_BEFORE_SHIPPING = frozenset(
    {
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PENDING_REVIEW,
        OrderStatus.AWAITING_SHIPMENT,
        OrderStatus.ON_HOLD,
    }
)


# ---------------------------------------------------------------------------------------------- money


def payment_sums(order: Order) -> tuple[Decimal, Decimal]:
    """(paid, refunded): the sums of the order's successful payments and refunds."""
    totals = {
        row["kind"]: row["sum"] or ZERO
        for row in order.payments.filter(status=Payment.Status.SUCCEEDED)
        .values("kind")
        .annotate(sum=Sum("amount"))
    }
    return totals.get(PaymentKind.PAYMENT, ZERO), totals.get(PaymentKind.REFUND, ZERO)


def rederive_payment_status(order: Order) -> list[str]:
    """Recompute paid, refunded and payment status of a locked order from its payments; returns fields saved."""
    paid, refunded = payment_sums(order)
    wanted = {
        "paid_amount": paid,
        "refunded_amount": refunded,
        "payment_status": state.payment_status_for(order.total, paid, refunded),
    }
    changed = [name for name, value in wanted.items() if getattr(order, name) != value]
    for name in changed:
        setattr(order, name, wanted[name])
    if changed:
        order.save(update_fields=[*changed, "updated_at"])
    return changed


def _set_total(order: Order, *, discount: Decimal) -> None:
    """Give a locked order a new order-level discount, recompute its total and payment status."""
    total = order.subtotal - discount + order.shipping_fee + order.tax
    if total < 0:
        raise ValidationFailed(
            _("the credit exceeds the order amount"), code="amounts_mismatch", field="assessed_value"
        )
    order.discount, order.total = discount, total
    order.save(update_fields=["discount", "total", "updated_at"])
    rederive_payment_status(order)


# ---------------------------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class DueState:
    """A due with its derived state: paid (covered by the net paid amount), overdue, or open."""

    due: PaymentDue
    paid: bool
    overdue: bool


def due_states(dues: Sequence[PaymentDue], net_paid: Decimal, now: dt.datetime) -> list[DueState]:
    """Which dues are covered by `net_paid` (settled in sequence) and which unpaid ones are past due. Pure."""
    covered = ZERO
    states = []
    for due in sorted(dues, key=lambda d: d.sequence):
        covered += due.amount
        paid = net_paid >= covered
        states.append(DueState(due=due, paid=paid, overdue=not paid and due.due_at < now))
    return states


def _replace_schedule(
    order: Order, dues: list[tuple[str, Decimal, dt.datetime]], *, actor: Actor
) -> list[PaymentDue]:
    if sum((amount for _kind, amount, _at in dues), ZERO) != order.total:
        raise ValidationFailed(
            _("the schedule adds up to %(sum)s, the order total is %(total)s")
            % {"sum": sum((a for _k, a, _t in dues), ZERO), "total": order.total},
            code="amounts_mismatch",
            field="dues",
        )
    for _kind, amount, _at in dues:
        if amount <= 0:
            raise ValidationFailed(_("every due must be positive"), code="invalid_amount", field="dues")
    order.dues.all().delete()
    rows = PaymentDue.objects.bulk_create(
        [
            PaymentDue(order=order, sequence=n, kind=kind, amount=amount, due_at=at)
            for n, (kind, amount, at) in enumerate(dues, start=1)
        ]
    )
    record_event(
        order,
        type=EventType.PAYMENT_SCHEDULE,
        actor=actor,
        message=_("Payment schedule: %(dues)s")
        % {"dues": ", ".join(f"{PaymentDue.Kind(k).label} {a} ({t:%Y-%m-%d})" for k, a, t in dues)},
        dues=[{"kind": k, "amount": a, "due_at": t} for k, a, t in dues],
    )
    return rows


def set_presale_terms(
    order: Order | int,
    *,
    deposit: Decimal | str,
    deposit_due_at: dt.datetime | None = None,
    balance_due_at: dt.datetime,
    ship_from: dt.date | None = None,
    actor: Actor,
) -> PresaleTerms:
    """Make a presale's deposit and balance schedule (balance = total − deposit) and its ship-from date.

    A normal order not yet shipping becomes a presale (through convert_to_presale, as the rules engine does).
    """
    from orders.services.presale import convert_to_presale

    deposit = to_money(deposit, field="deposit")
    with transaction.atomic():
        locked = lock_order(order)
        if locked.order_type == OrderType.NORMAL:
            convert_to_presale(locked, actor=actor, reason=_("presale terms set"))
            locked = lock_order(locked)
        if locked.order_type != OrderType.PRESALE or locked.status not in _BEFORE_SHIPPING:
            raise TransitionNotAllowed(
                _("order %(n)s cannot take presale terms now") % {"n": locked.number},
                code="presale_not_allowed",
                field="order_type",
            )
        if not ZERO < deposit < locked.total:
            raise ValidationFailed(
                _("the deposit must be more than 0 and less than the total %(t)s") % {"t": locked.total},
                code="invalid_amount",
                field="deposit",
            )
        _replace_schedule(
            locked,
            [
                (PaymentDue.Kind.DEPOSIT, deposit, deposit_due_at or locked.placed_at),
                (PaymentDue.Kind.BALANCE, locked.total - deposit, balance_due_at),
            ],
            actor=actor,
        )
        terms, _created = PresaleTerms.objects.update_or_create(
            order=locked, defaults={"ship_from": ship_from, "balance_due_at": balance_due_at}
        )
        return terms


def create_installment_plan(
    order: Order | int, *, dues: Sequence[tuple[Decimal | str, dt.datetime]], actor: Actor
) -> list[PaymentDue]:
    """Give an installment order its payment schedule: (amount, due date) pairs adding up to the total."""
    if len(dues) < 2:
        raise ValidationFailed(
            _("an installment plan needs at least two dues"), code="required", field="dues"
        )
    with transaction.atomic():
        locked = lock_order(order)
        if locked.order_type != OrderType.INSTALLMENT:
            raise TransitionNotAllowed(
                _("order %(n)s is not an installment order") % {"n": locked.number},
                code="not_installment",
                field="order_type",
            )
        rows = [(PaymentDue.Kind.INSTALLMENT, to_money(a, field="dues"), at) for a, at in dues]
        return _replace_schedule(locked, rows, actor=actor)


def flag_overdue_payments(*, actor: Actor | None = None, now: dt.datetime | None = None) -> list[int]:
    """Flag 'payment overdue' on every open order with an unpaid due past its date; once per due. Idempotent."""
    actor = actor or Actor.system("payment schedule")
    now = now or timezone.now()
    flagged: list[int] = []
    candidates = (
        PaymentDue.objects.filter(due_at__lt=now, overdue_flagged_at__isnull=True)
        .exclude(order__status__in=(OrderStatus.CANCELLED, OrderStatus.CLOSED))
        .values_list("order_id", flat=True)
        .distinct()
    )
    for order_id in sorted(set(candidates)):
        with transaction.atomic():
            locked = lock_order(order_id)
            dues = list(locked.dues.select_for_update().order_by("sequence"))
            overdue = [
                s.due
                for s in due_states(dues, locked.paid_amount - locked.refunded_amount, now)
                if s.overdue and s.due.overdue_flagged_at is None
            ]
            if not overdue:
                continue
            PaymentDue.objects.filter(pk__in=[d.pk for d in overdue]).update(overdue_flagged_at=now)
            if locked.exception_reason != ExceptionReason.PAYMENT_OVERDUE:
                first = overdue[0]
                _flag_exception(
                    locked,
                    ExceptionReason.PAYMENT_OVERDUE,
                    _("%(kind)s %(n)s of %(amount)s was due %(date)s")
                    % {
                        "kind": first.get_kind_display(),
                        "n": first.sequence,
                        "amount": first.amount,
                        "date": timezone.localtime(first.due_at).strftime("%Y-%m-%d"),
                    },
                    actor=actor,
                )
                flagged.append(order_id)
    return flagged


# ---------------------------------------------------------------------------------------------- presale stock


def allocate_arrived_stock(product: Product | int, warehouse: Warehouse | int, *, actor: Actor) -> list[int]:
    """Reserve newly arrived stock for presale orders waiting for it, oldest placed first.

    Called when stock is adjusted upward. Each waiting order is reserved all or nothing (its stock rows in
    product-pk order, as every reservation); an order that still does not fit keeps waiting, and younger
    orders may still fit. Returns the pks of the orders now reserved.
    """
    product_id = product.pk if isinstance(product, Product) else product
    warehouse_id = warehouse.pk if isinstance(warehouse, Warehouse) else warehouse
    waiting = list(
        Order.objects.filter(
            order_type=OrderType.PRESALE,
            status=OrderStatus.AWAITING_SHIPMENT,
            stock_status=StockStatus.WAITING,
            warehouse_id=warehouse_id,
            lines__product_id=product_id,
        )
        .order_by("placed_at", "pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    reserved: list[int] = []
    for order_id in waiting:
        try:
            with transaction.atomic():
                locked = lock_order(order_id)
                if (
                    locked.stock_status != StockStatus.WAITING
                    or locked.status != OrderStatus.AWAITING_SHIPMENT
                ):
                    continue
                reserve_order_stock(locked, actor=actor)
                locked.stock_status = StockStatus.RESERVED
                locked.save(update_fields=["stock_status", "updated_at"])
                reserved.append(order_id)
        except StockShortage:
            continue
    return reserved


# ---------------------------------------------------------------------------------------------- trade-in


def register_trade_in(
    order: Order | int, *, description: str, assessed_value: Decimal | str, actor: Actor
) -> TradeIn:
    """Record the buyer's old item and credit its assessed value against the total (as order discount).

    The order becomes a trade-in and waits for the item's inspection before it may ship.
    """
    description = (description or "").strip()
    if not description:
        raise ValidationFailed(_("describe the old item"), code="required", field="description")
    value = to_money(assessed_value, field="assessed_value")
    if value < 0:
        raise ValidationFailed(
            _("the assessed value cannot be negative"), code="invalid_amount", field="assessed_value"
        )
    with transaction.atomic():
        locked = lock_order(order)
        if locked.status not in _BEFORE_SHIPPING or locked.order_type not in (
            OrderType.NORMAL,
            OrderType.TRADE_IN,
        ):
            raise TransitionNotAllowed(
                _("order %(n)s cannot take a trade-in now") % {"n": locked.number},
                code="trade_in_not_allowed",
                field="order_type",
            )
        if TradeIn.objects.filter(order=locked).exists():
            raise ValidationFailed(
                _("order %(n)s already has a trade-in") % {"n": locked.number},
                code="duplicate",
                field="order",
            )
        _set_total(locked, discount=locked.discount + value)
        locked.order_type, locked.trade_in_inspection = OrderType.TRADE_IN, InspectionStatus.PENDING
        locked.save(update_fields=["order_type", "trade_in_inspection", "updated_at"])
        trade_in = TradeIn.objects.create(
            order=locked, description=description[:300], assessed_value=value, credited_amount=value
        )
        record_event(
            locked,
            type=EventType.TRADE_IN_CHANGED,
            actor=actor,
            message=_("Trade-in: %(item)s, %(value)s credited; waiting for inspection")
            % {"item": description, "value": value},
            assessed_value=value,
        )
        return trade_in


def inspect_trade_in(
    order: Order | int,
    *,
    passed: bool,
    actor: Actor,
    note: str = "",
    assessed_value: Decimal | str | None = None,
) -> TradeIn:
    """Record the old item's inspection. Passed: the order may ship (optionally at a re-assessed value).
    Failed: the credit is withdrawn, so the buyer owes the full price, and the order cannot ship.
    """
    with transaction.atomic():
        locked = lock_order(order)
        trade_in = TradeIn.objects.select_for_update().filter(order=locked).first()
        if trade_in is None or locked.status not in _BEFORE_SHIPPING:
            raise TransitionNotAllowed(
                _("order %(n)s has no trade-in waiting for inspection") % {"n": locked.number},
                code="no_trade_in",
                field="trade_in",
            )
        credit = ZERO
        if passed:
            credit = trade_in.assessed_value if assessed_value is None else to_money(assessed_value)
            if credit < 0:
                raise ValidationFailed(
                    _("the assessed value cannot be negative"), code="invalid_amount", field="assessed_value"
                )
            trade_in.assessed_value = credit
        _set_total(locked, discount=locked.discount - trade_in.credited_amount + credit)
        trade_in.credited_amount = credit
        trade_in.inspection_note = note[:300]
        trade_in.inspected_at = timezone.now()
        trade_in.save(update_fields=["assessed_value", "credited_amount", "inspection_note", "inspected_at"])
        locked.trade_in_inspection = InspectionStatus.PASSED if passed else InspectionStatus.FAILED
        locked.save(update_fields=["trade_in_inspection", "updated_at"])
        record_event(
            locked,
            type=EventType.TRADE_IN_CHANGED,
            actor=actor,
            message=(
                _("Trade-in passed inspection, %(value)s credited") % {"value": credit}
                if passed
                else _("Trade-in failed inspection; credit withdrawn")
            )
            + (f": {note}" if note else ""),
            passed=passed,
            credited=credit,
        )
        return trade_in
