"""Allocation, split and merge: partial stock splits off a presale child (relation kept), money follows
the units, lines go to the warehouse that has them, orders of one buyer ship in one parcel."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.errors import OMSError, StockShortage, ValidationFailed
from orders import services
from orders.choices import EventType, OrderStatus, OrderType, PaymentStatus, StockStatus
from orders.models import Order, OrderEvent, Payment, StockLevel
from orders.services import fulfilment
from orders.tests.factories import TEST_ACTOR, WarehouseFactory, make_order, order_in_status, stocked_product

S = OrderStatus
pytestmark = pytest.mark.django_db


def test_partial_stock_split_ship_what_is_there_rest_as_presale(warehouse):
    """5 ordered, 3 in stock: the order keeps 3 and ships, a presale child waits for 2 and gets them on arrival."""
    product = stocked_product(warehouse=warehouse, sku="HOT", on_hand=3)
    order = order_in_status(S.PENDING_REVIEW, lines=[(product, 5)])
    with pytest.raises(StockShortage):
        services.confirm_order(order, actor=TEST_ACTOR)

    parent, child = fulfilment.allocate_order(order, actor=TEST_ACTOR)

    assert child.split_from == parent and child.number == f"{parent.number}-1"
    assert child.order_type == OrderType.PRESALE and child.external_id == ""
    assert (parent.lines.get().quantity, child.lines.get().quantity) == (3, 2)
    assert (parent.total, child.total) == (Decimal("30.00"), Decimal("20.00"))
    assert (parent.paid_amount, child.paid_amount) == (Decimal("30.00"), Decimal("20.00"))
    assert parent.payment_status == child.payment_status == PaymentStatus.PAID
    assert (
        Payment.objects.filter(order=child).get().transaction_id
        == Payment.objects.get(order=parent).transaction_id
    )
    assert OrderEvent.objects.filter(order=parent, type=EventType.ORDER_SPLIT).exists()

    services.resolve_exception(parent, resolution="split", actor=TEST_ACTOR)
    services.confirm_order(parent, actor=TEST_ACTOR)
    services.ship_order(parent, carrier="SF", tracking_number="SF1", actor=TEST_ACTOR)
    services.confirm_order(child, actor=TEST_ACTOR)
    child.refresh_from_db()
    assert (child.status, child.stock_status) == (S.AWAITING_SHIPMENT, StockStatus.WAITING)

    services.adjust_stock(
        sku="HOT", warehouse_code=warehouse.code, delta=2, reason="arrived", actor=TEST_ACTOR
    )
    child.refresh_from_db()
    assert child.stock_status == StockStatus.RESERVED
    assert StockLevel.objects.get(product=product).reserved == 2


def test_split_of_partly_shipped_order_ships_the_parent(product):
    """Ship 1 of 3, split the other 2 off: the parent is now shipped, the child confirmed at once."""
    order = order_in_status(S.PARTIALLY_SHIPPED, lines=[(product, 3)])
    line = order.lines.get()
    child = fulfilment.split_order(order, lines={line.pk: 2}, actor=TEST_ACTOR, reason="later")
    order.refresh_from_db()
    assert order.status == S.SHIPPED and order.lines.get().quantity == 1
    assert child.status == S.AWAITING_SHIPMENT and child.stock_status == StockStatus.RESERVED
    assert StockLevel.objects.get(product=product).reserved == 2  # released on the parent, taken by the child
    with pytest.raises(ValidationFailed):
        fulfilment.split_order(child, lines={child.lines.get().pk: 2}, actor=TEST_ACTOR)  # would empty it


def test_lines_go_to_the_warehouse_that_has_them():
    home, other = WarehouseFactory(code="home"), WarehouseFactory(code="other")
    a = stocked_product(warehouse=home, sku="A", on_hand=10)
    b = stocked_product(warehouse=other, sku="B", on_hand=10)
    order = make_order([(a, 1), (b, 1)], warehouse=home)
    plan = fulfilment.plan_allocation(order)
    assert [(p.sku, p.warehouse_id) for p in plan] == [("A", home.pk), ("B", other.pk)]
    parent, child = fulfilment.allocate_order(order, actor=TEST_ACTOR)
    assert parent.warehouse == home and child.warehouse == other
    assert [line.sku for line in child.lines.all()] == ["B"] and child.order_type == OrderType.NORMAL


def test_merge_same_buyer_same_address_and_ship_one_parcel(product):
    first = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 1)], buyer_phone="13800000001")
    second = order_in_status(S.PENDING_REVIEW, lines=[(product, 2)], buyer_phone="13800000001")
    other_address = order_in_status(
        S.AWAITING_SHIPMENT, lines=[(product, 1)], buyer_phone="13800000001", street="别处"
    )
    assert fulfilment.merge_candidates(first) == [second]
    with pytest.raises(ValidationFailed):
        fulfilment.merge_orders([first, other_address], actor=TEST_ACTOR)

    master = fulfilment.merge_with_candidates(first, actor=TEST_ACTOR)
    second.refresh_from_db()
    assert master == first and second.merged_into == first
    assert OrderEvent.objects.filter(order=second, type=EventType.ORDERS_MERGED).exists()
    with pytest.raises(OMSError):
        fulfilment.ship_merged_orders(
            master, carrier="SF", tracking_number="SF9", actor=TEST_ACTOR
        )  # in review
    assert not first.shipments.exists()  # all or nothing
    services.confirm_order(second, actor=TEST_ACTOR)
    shipments = fulfilment.ship_merged_orders(master, carrier="SF", tracking_number="SF9", actor=TEST_ACTOR)
    assert {s.tracking_number for s in shipments} == {"SF9"} and len(shipments) == 2
    assert set(Order.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {
        S.SHIPPED
    }
    with pytest.raises(OMSError):
        fulfilment.unmerge_order(second, actor=TEST_ACTOR)  # shipped already


def test_unmerge_before_shipping(product):
    first = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 1)])
    second = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 1)])
    fulfilment.merge_orders([second, first], actor=TEST_ACTOR)
    fulfilment.unmerge_order(second, actor=TEST_ACTOR)
    second.refresh_from_db()
    assert second.merged_into is None
