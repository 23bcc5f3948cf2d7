"""Returns and refunds: request, approve/refuse, goods received (restocked or written off), refund; the
order's payment and fulfilment statuses follow; a fully refunded order can be closed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.errors import TransitionNotAllowed, ValidationFailed
from orders import services
from orders.choices import EventType, FulfillmentStatus, OrderStatus, PaymentStatus
from orders.models import OrderEvent, Payment, ReturnRequest, StockLevel
from orders.services import returns
from orders.tests.factories import TEST_ACTOR, order_in_status

S = OrderStatus
R = ReturnRequest.Status
pytestmark = pytest.mark.django_db


def on_hand(product) -> int:
    return StockLevel.objects.get(product=product).on_hand


def test_partial_shipment_partial_refund_then_return(product):
    """Ship 1 of 3, refund 5.00 as a goodwill gesture, then the shipped unit comes back and is refunded."""
    order = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 3)])
    line = order.lines.get()
    services.ship_order(order, carrier="SF", tracking_number="SF1", quantities={line.pk: 1}, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (order.status, order.fulfillment_status) == (
        S.PARTIALLY_SHIPPED,
        FulfillmentStatus.PARTIALLY_FULFILLED,
    )
    assert on_hand(product) == 99

    returns.refund_order(order, amount="5.00", reason="late delivery", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (order.paid_amount, order.refunded_amount) == (Decimal("30.00"), Decimal("5.00"))
    assert order.payment_status == PaymentStatus.PARTIALLY_REFUNDED

    with pytest.raises(ValidationFailed) as refused:
        returns.request_return(order, lines={line.pk: 2}, reason="too big", actor=TEST_ACTOR)
    assert refused.value.code == "invalid_quantity"  # only 1 unit was shipped

    request = returns.request_return(order, lines={line.pk: 1}, reason="too big", actor=TEST_ACTOR)
    returns.approve_return(request, actor=TEST_ACTOR)
    returns.receive_return(request, actor=TEST_ACTOR)
    assert on_hand(product) == 100  # back on hand in the order's warehouse
    payment = returns.refund_return(request, actor=TEST_ACTOR)

    assert payment.amount == Decimal("10.00") and payment.kind == "refund"
    order.refresh_from_db()
    request.refresh_from_db()
    assert request.status == R.REFUNDED and request.refunded_amount == Decimal("10.00")
    assert (order.paid_amount, order.refunded_amount) == (Decimal("30.00"), Decimal("15.00"))
    assert order.payment_status == PaymentStatus.PARTIALLY_REFUNDED
    assert order.fulfillment_status == FulfillmentStatus.PARTIALLY_FULFILLED  # 2 units still to ship
    types = list(
        OrderEvent.objects.filter(order=order, type=EventType.RETURN_CHANGED).values_list("data", flat=True)
    )
    assert [d["status"] for d in reversed(types)] == [R.REQUESTED, R.APPROVED, R.RECEIVED, R.REFUNDED]


def test_full_return_refund_and_close(product):
    """Everything shipped comes back and is refunded: fulfilment 'returned', payment 'refunded', closable."""
    order = order_in_status(S.SHIPPED, lines=[(product, 2)])
    line = order.lines.get()
    request = returns.request_return(order, lines={line.pk: 2}, reason="wrong colour", actor=TEST_ACTOR)
    returns.approve_return(request, actor=TEST_ACTOR)
    returns.receive_return(request, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.fulfillment_status == FulfillmentStatus.RETURNED

    with pytest.raises(TransitionNotAllowed) as refused:
        services.close_order(order, reason="returned", actor=TEST_ACTOR)
    assert refused.value.code == "refund_required"

    returns.refund_return(request, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED
    services.close_order(order, reason="returned and refunded", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.status == S.CLOSED


def test_write_off_does_not_restock_and_partial_receipt(product):
    """Damaged units are written off; units that never arrived are neither restocked nor refunded."""
    order = order_in_status(S.SHIPPED, lines=[(product, 3)])
    line = order.lines.get()
    request = returns.request_return(order, lines={line.pk: 3}, reason="broken", actor=TEST_ACTOR)
    returns.approve_return(request, actor=TEST_ACTOR)
    before = on_hand(product)
    returns.receive_return(request, quantities={line.pk: 2}, write_off={line.pk}, actor=TEST_ACTOR)
    assert on_hand(product) == before
    rline = request.lines.get()
    assert (rline.quantity_received, rline.disposition) == (2, "write_off")
    assert returns.refund_return(request, actor=TEST_ACTOR).amount == Decimal("20.00")
    order.refresh_from_db()
    assert order.fulfillment_status == FulfillmentStatus.FULFILLED  # one unit is still with the buyer


def test_refuse_and_illegal_moves(product, snapshot):
    """Refusing needs a reason; a refused return frees its units; no move skips a step."""
    order = order_in_status(S.SHIPPED, lines=[(product, 1)])
    line = order.lines.get()
    request = returns.request_return(order, lines={line.pk: 1}, reason="changed mind", actor=TEST_ACTOR)
    with pytest.raises(TransitionNotAllowed):
        returns.receive_return(request, actor=TEST_ACTOR)  # not approved yet
    with pytest.raises(ValidationFailed):
        returns.refuse_return(request, reason=" ", actor=TEST_ACTOR)
    with pytest.raises(ValidationFailed):
        returns.request_return(order, lines={line.pk: 1}, reason="again", actor=TEST_ACTOR)  # already asked
    returns.refuse_return(request, reason="used", actor=TEST_ACTOR)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed):
        returns.refund_return(request, actor=TEST_ACTOR)
    assert snapshot() == before
    again = returns.request_return(order, lines={line.pk: 1}, reason="second try", actor=TEST_ACTOR)
    assert again.status == R.REQUESTED


def test_refunds_never_exceed_paid(product, snapshot):
    """A refund over what is left is refused and writes nothing; the return's agreed amount is capped too."""
    order = order_in_status(S.SHIPPED, lines=[(product, 1)])
    returns.refund_order(order, amount="6.00", reason="coupon", actor=TEST_ACTOR)
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        returns.refund_order(order, amount="4.01", reason="more", actor=TEST_ACTOR)
    assert refused.value.code == "refund_exceeds_paid"
    with pytest.raises(ValidationFailed):
        returns.request_return(
            order, lines={order.lines.get().pk: 1}, reason="x", refund_amount="4.01", actor=TEST_ACTOR
        )
    assert snapshot() == before
    request = returns.request_return(order, lines={order.lines.get().pk: 1}, reason="x", actor=TEST_ACTOR)
    returns.approve_return(request, actor=TEST_ACTOR)
    assert returns.refund_return(request, actor=TEST_ACTOR).amount == Decimal("4.00")  # value 10, 4 left
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED
    assert Payment.objects.filter(order=order, kind="refund").count() == 2
