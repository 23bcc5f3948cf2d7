"""Special order types: presale terms and stock oldest first, installment schedules and overdue flags,
trade-in credit and the inspection guard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from oms.errors import TransitionNotAllowed, ValidationFailed
from orders import services, state
from orders.choices import (
    ExceptionReason,
    InspectionStatus,
    OrderStatus,
    OrderType,
    PaymentMethod,
    PaymentStatus,
    StockStatus,
)
from orders.models import PaymentDue
from orders.services import special
from orders.tasks_fulfilment import flag_overdue_payments_task
from orders.tests.factories import TEST_ACTOR, make_order, pay_in_full, stocked_product

S = OrderStatus
pytestmark = pytest.mark.django_db
NOW = timezone.now()


def test_presale_deposit_balance_and_oldest_first(warehouse):
    product = stocked_product(warehouse=warehouse, sku="PRE", on_hand=0)
    orders = []
    for minutes in (30, 10, 20):  # placed out of pk order: allocation follows placed_at
        order = make_order([(product, 1)], placed_at=NOW - dt.timedelta(minutes=minutes))
        special.set_presale_terms(
            order,
            deposit="3.00",
            balance_due_at=NOW + dt.timedelta(days=7),
            ship_from=dt.date(2030, 1, 1),
            actor=TEST_ACTOR,
        )
        services.record_payment(order, amount="3.00", method=PaymentMethod.ALIPAY, actor=TEST_ACTOR)
        services.confirm_order(order, actor=TEST_ACTOR)
        order.refresh_from_db()
        assert (order.order_type, order.payment_status, order.stock_status) == (
            OrderType.PRESALE,
            PaymentStatus.PARTIALLY_PAID,
            StockStatus.WAITING,
        )
        orders.append(order)
    assert [d.kind for d in orders[0].dues.all()] == ["deposit", "balance"]
    assert orders[0].presale_terms.ship_from == dt.date(2030, 1, 1)

    services.adjust_stock(
        sku="PRE", warehouse_code=warehouse.code, delta=2, reason="arrival", actor=TEST_ACTOR
    )

    status = {o.pk: o.__class__.objects.get(pk=o.pk).stock_status for o in orders}
    assert [status[o.pk] for o in orders] == [StockStatus.RESERVED, StockStatus.WAITING, StockStatus.RESERVED]
    with pytest.raises(ValidationFailed):
        special.set_presale_terms(orders[1], deposit="10.00", balance_due_at=NOW, actor=TEST_ACTOR)


def test_installments_overdue_flag_once_and_paid_dues(product):
    order = make_order([(product, 3)], order_type=OrderType.INSTALLMENT)
    special.create_installment_plan(
        order,
        dues=[
            ("10.00", NOW - dt.timedelta(days=20)),
            ("10.00", NOW - dt.timedelta(days=1)),
            ("10.00", NOW + dt.timedelta(days=30)),
        ],
        actor=TEST_ACTOR,
    )
    with pytest.raises(ValidationFailed):
        special.create_installment_plan(order, dues=[("10.00", NOW), ("10.00", NOW)], actor=TEST_ACTOR)
    services.record_payment(order, amount="10.00", method=PaymentMethod.CARD, actor=TEST_ACTOR)
    order.refresh_from_db()
    states = special.due_states(list(order.dues.all()), order.paid_amount, NOW)
    assert [(s.paid, s.overdue) for s in states] == [(True, False), (False, True), (False, False)]

    assert flag_overdue_payments_task() == "1 orders flagged"
    order.refresh_from_db()
    assert order.exception_reason == ExceptionReason.PAYMENT_OVERDUE
    assert special.flag_overdue_payments() == []  # idempotent
    assert PaymentDue.objects.filter(order=order, overdue_flagged_at__isnull=False).count() == 1


def test_trade_in_credit_and_inspection_guard(product):
    order = make_order([(product, 10)])  # 100.00
    special.register_trade_in(order, description="iPhone 11 64G", assessed_value="30.00", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (order.order_type, order.total, order.discount) == (
        OrderType.TRADE_IN,
        Decimal("70.00"),
        Decimal("30.00"),
    )
    assert order.trade_in_inspection == InspectionStatus.PENDING
    pay_in_full(order)
    services.confirm_order(order, actor=TEST_ACTOR)
    with pytest.raises(TransitionNotAllowed) as refused:
        services.ship_order(order, carrier="SF", tracking_number="SF1", actor=TEST_ACTOR)
    assert refused.value.code == "trade_in_not_inspected"

    special.inspect_trade_in(order, passed=False, note="screen broken", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (order.total, order.payment_status) == (Decimal("100.00"), PaymentStatus.PARTIALLY_PAID)
    special.inspect_trade_in(order, passed=True, assessed_value="20.00", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (order.total, order.trade_in_inspection) == (Decimal("80.00"), InspectionStatus.PASSED)
    services.ship_order(order, carrier="SF", tracking_number="SF1", actor=TEST_ACTOR)


def test_trade_in_guard_is_pure():
    from types import SimpleNamespace

    base = {"number": "SO1", "order_type": OrderType.TRADE_IN}
    assert state.guard_trade_in_inspected(SimpleNamespace(**base, trade_in_inspection="pending"), S.SHIPPED)
    assert (
        state.guard_trade_in_inspected(SimpleNamespace(**base, trade_in_inspection="passed"), S.SHIPPED)
        is None
    )
    normal = SimpleNamespace(number="SO2", order_type=OrderType.NORMAL)
    assert state.guard_trade_in_inspected(normal, S.PARTIALLY_SHIPPED) is None
    assert state.guard_trade_in_inspected in state.GUARDS[(S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED)]
