"""ship_order: shipments and their lines, events, and refusals that leave nothing half-written."""

from __future__ import annotations

import datetime as dt

import pytest

from oms.errors import TransitionNotAllowed, ValidationFailed
from orders import services
from orders.choices import EventType, HoldKind, OrderStatus
from orders.models import OrderEvent, Shipment
from orders.tests.factories import TEST_ACTOR, make_order, order_in_status, pay_in_full

S = OrderStatus
pytestmark = pytest.mark.django_db


def test_ship_creates_shipment_lines_and_events(product, clerk_actor):
    order = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 3)])
    when = dt.datetime(2025, 5, 1, 9, tzinfo=dt.UTC)
    shipment = services.ship_order(
        order, carrier=" SF ", tracking_number=" SF100 ", shipped_at=when, actor=clerk_actor
    )
    order.refresh_from_db()
    assert (shipment.carrier, shipment.tracking_number, shipment.shipped_at) == ("SF", "SF100", when)
    assert shipment.warehouse_id == order.warehouse_id
    assert list(shipment.lines.values_list("order_line__sku", "quantity")) == [("TEE-RED-M", 3)]
    assert (order.status, order.shipped_at) == (S.SHIPPED, when)
    created = OrderEvent.objects.get(order=order, type=EventType.SHIPMENT_CREATED)
    assert created.data == {"carrier": "SF", "tracking_number": "SF100", "shipment": shipment.pk}
    assert created.actor_label == "clerk"
    types = list(OrderEvent.objects.filter(order=order).order_by("pk").values_list("type", flat=True))
    assert types[-3:] == [EventType.STOCK_DEDUCTED, EventType.SHIPMENT_CREATED, EventType.STATUS_CHANGED]


def test_held_orders_never_ship(snapshot):
    order = order_in_status(S.ON_HOLD, from_status=S.AWAITING_SHIPMENT, hold_kind=HoldKind.DELAYED)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.ship_order(order, carrier="SF", tracking_number="SF1", actor=TEST_ACTOR)
    assert (refused.value.code, refused.value.field) == ("transition_not_allowed", "status")
    assert snapshot() == before


def test_incomplete_address_cannot_ship(product, snapshot):
    order = make_order([(product, 1)], street="")
    pay_in_full(order)
    services.confirm_order(order, actor=TEST_ACTOR)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.ship_order(order, carrier="SF", tracking_number="SF1", actor=TEST_ACTOR)
    assert refused.value.code == "address_incomplete"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({"tracking_number": ""}, "required", "tracking_number"),
        ({"tracking_number": "   "}, "required", "tracking_number"),
        ({"carrier": ""}, "required", "carrier"),
        ({"quantities": {"first": 4}}, "invalid_quantity", "lines"),
        ({"quantities": {"first": 0}}, "invalid_quantity", "lines"),
        ({"quantities": {"first": -1}}, "invalid_quantity", "lines"),
        ({"quantities": {"first": 1, "second": 2}}, "invalid_quantity", "lines"),
        ({"quantities": {"other": 1}}, "unknown_line", "lines"),
    ],
    ids=[
        "no_tracking",
        "blank_tracking",
        "no_carrier",
        "over",
        "zero",
        "negative",
        "second_over",
        "foreign_line",
    ],
)
def test_ship_bad_input(product, snapshot, kwargs, code, field):
    order = order_in_status(S.PARTIALLY_SHIPPED, lines=[(product, 3), (product, 1)])
    first, second = order.lines.order_by("pk")  # first: 1 of 3 shipped; second: 0 of 1
    other = order_in_status(S.PENDING_PAYMENT).lines.get()
    names = {"first": first.pk, "second": second.pk, "other": other.pk}
    if "quantities" in kwargs:
        kwargs = {"quantities": {names[name]: qty for name, qty in kwargs["quantities"].items()}}
    arguments = {"carrier": "SF", "tracking_number": "SF1", **kwargs}
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        services.ship_order(order, actor=TEST_ACTOR, **arguments)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert snapshot() == before


def test_nothing_left_to_ship_is_refused_by_status():
    order = order_in_status(S.SHIPPED)
    with pytest.raises(TransitionNotAllowed):
        services.ship_order(order, carrier="SF", tracking_number="SF9", actor=TEST_ACTOR)
    assert Shipment.objects.filter(order=order).count() == 1


def test_an_order_created_already_confirmed_reserves_when_it_first_ships():
    """Synced or imported orders arrive in 'awaiting shipment' with nothing reserved: shipping reserves, then deducts."""
    from orders.choices import OrderStatus, PaymentStatus, StockStatus
    from orders.models import StockLevel
    from orders.tests.factories import ADDRESS, TEST_ACTOR, stocked_product

    product = stocked_product(on_hand=5)
    order = services.create_order(
        services.OrderInput(
            lines=[services.LineInput(sku=product.sku, quantity=2)],
            status=OrderStatus.AWAITING_SHIPMENT,
            payment_status=PaymentStatus.PAID,
            **ADDRESS,
        ),
        actor=TEST_ACTOR,
    )
    assert order.stock_status == StockStatus.NONE
    services.ship_order(order, carrier="SF", tracking_number="SF42", actor=TEST_ACTOR)
    order.refresh_from_db()
    level = StockLevel.objects.get(product=product)
    assert (order.status, order.stock_status) == (OrderStatus.SHIPPED, StockStatus.DEDUCTED)
    assert (level.on_hand, level.reserved) == (3, 0)
