"""record_payment: partial and full payments, idempotency, refunds, and bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.actors import Actor, ActorKind
from oms.errors import ValidationFailed
from orders import services
from orders.choices import EventType, OrderStatus, OrderType, PaymentKind, PaymentMethod, PaymentStatus
from orders.models import OrderEvent, Payment
from orders.tests.factories import TEST_ACTOR, make_order, order_in_status

S = OrderStatus
D = Decimal
pytestmark = pytest.mark.django_db


def pay(order, amount, **kwargs):
    """Record a payment (or, with kind=refund, a refund) by Alipay."""
    return services.record_payment(
        order, amount=amount, method=PaymentMethod.ALIPAY, actor=TEST_ACTOR, **kwargs
    )


def events(order, type):
    return OrderEvent.objects.filter(order=order, type=type)


def test_full_payment_moves_to_review(product, clerk):
    order = make_order([(product, 2)])
    payment = services.record_payment(
        order,
        amount="20.00",
        method=PaymentMethod.WECHAT_PAY,
        transaction_id="WX1",
        actor=Actor.for_user(clerk),
    )
    order.refresh_from_db()
    assert (order.status, order.payment_status, order.paid_amount) == (
        S.PENDING_REVIEW,
        PaymentStatus.PAID,
        D("20"),
    )
    assert order.paid_at == payment.paid_at
    assert (payment.kind, payment.amount, payment.currency, payment.status) == (
        PaymentKind.PAYMENT,
        D("20.00"),
        "CNY",
        Payment.Status.SUCCEEDED,
    )
    recorded = events(order, EventType.PAYMENT_RECORDED).get()
    assert (recorded.actor_kind, recorded.actor_user, recorded.data["transaction_id"]) == (
        ActorKind.USER,
        clerk,
        "WX1",
    )
    assert recorded.data["amount"] == "20.00"
    changed = events(order, EventType.STATUS_CHANGED).get()
    assert changed.data == {"source": S.PENDING_PAYMENT, "target": S.PENDING_REVIEW}
    assert changed.actor_user == clerk


def test_partial_payments_add_up(product):
    order = make_order([(product, 2)])
    pay(order, "5")
    order.refresh_from_db()
    assert (order.status, order.payment_status, order.outstanding_amount) == (
        S.PENDING_PAYMENT,
        PaymentStatus.PARTIALLY_PAID,
        D("15.00"),
    )
    first_paid_at = order.paid_at
    pay(order, "15")
    order.refresh_from_db()
    assert (order.status, order.payment_status, order.paid_amount) == (
        S.PENDING_REVIEW,
        PaymentStatus.PAID,
        D("20"),
    )
    assert order.paid_at == first_paid_at  # the first payment's time stays
    assert order.payments.count() == 2


def test_presale_deposit_moves_to_review(product):
    order = make_order([(product, 2)], order_type=OrderType.PRESALE)
    pay(order, "2")
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (S.PENDING_REVIEW, PaymentStatus.PARTIALLY_PAID)


def test_same_transaction_id_is_recorded_once(product, snapshot):
    order = make_order([(product, 2)])
    first = pay(order, "5", transaction_id="ALI-1")
    before = snapshot()
    again = pay(order, "5", transaction_id="ALI-1")
    assert again == first
    assert snapshot() == before
    pay(order, "5", transaction_id="ALI-2")
    order.refresh_from_db()
    assert order.paid_amount == D("10.00")


def test_refunds_update_payment_status(product):
    order = order_in_status(S.PENDING_REVIEW, lines=[(product, 2)])
    pay(order, "5", kind=PaymentKind.REFUND, transaction_id="R1")
    order.refresh_from_db()
    assert (order.payment_status, order.refunded_amount, order.status) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        D("5.00"),
        S.PENDING_REVIEW,
    )
    assert order.outstanding_amount == D("5.00")
    pay(order, "15", kind=PaymentKind.REFUND, transaction_id="R2")
    order.refresh_from_db()
    assert (order.payment_status, order.refunded_amount) == (PaymentStatus.REFUNDED, D("20.00"))
    assert events(order, EventType.PAYMENT_RECORDED).filter(data__kind="refund").count() == 2
    # a refund id may equal a payment id: idempotency is per kind
    assert pay(order, "1", transaction_id="R1").kind == PaymentKind.PAYMENT


def test_a_fully_refunded_order_can_be_closed(product):
    order = order_in_status(S.DELIVERED, lines=[(product, 2)])
    pay(order, "20", kind=PaymentKind.REFUND)
    services.close_order(order, reason="returned", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.status == S.CLOSED


BAD = [
    ({"amount": "0"}, "invalid_amount", "amount"),
    ({"amount": "-5"}, "invalid_amount", "amount"),
    ({"amount": "five"}, "invalid_amount", "amount"),
    ({"method": "bitcoin"}, "invalid_choice", "method"),
    ({"kind": "gift"}, "invalid_choice", "kind"),
    ({"currency": "USD"}, "currency_mismatch", "currency"),
    ({"kind": PaymentKind.REFUND, "amount": "20.01"}, "refund_exceeds_paid", "amount"),
]


@pytest.mark.parametrize(("change", "code", "field"), BAD, ids=[row[1] for row in BAD])
def test_record_payment_bad_input(product, snapshot, change, code, field):
    order = order_in_status(S.PENDING_REVIEW, lines=[(product, 2)])
    before = snapshot()
    arguments = {"amount": "5", "method": PaymentMethod.ALIPAY, **change}
    with pytest.raises(ValidationFailed) as refused:
        services.record_payment(order, actor=TEST_ACTOR, **arguments)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert snapshot() == before


def test_refund_beyond_earlier_refunds_is_refused(product, snapshot):
    order = order_in_status(S.PENDING_REVIEW, lines=[(product, 2)])
    pay(order, "15", kind=PaymentKind.REFUND)
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        pay(order, "5.01", kind=PaymentKind.REFUND)
    assert refused.value.code == "refund_exceeds_paid"
    assert snapshot() == before
