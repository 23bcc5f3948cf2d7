"""Several shipments per order: fulfilment status follows the shipped quantities; logistics changes are on
the timeline; delivery of the last open shipment delivers the order."""

from __future__ import annotations

import pytest

from oms.errors import ValidationFailed
from orders import services
from orders.choices import EventType, FulfillmentStatus, OrderStatus
from orders.models import OrderEvent, Shipment
from orders.tests.factories import TEST_ACTOR, order_in_status, stocked_product

S = OrderStatus
pytestmark = pytest.mark.django_db


def test_two_shipments_with_per_line_quantities(warehouse):
    """2 lines, shipped in two parcels with different carriers: statuses computed from the units."""
    a = stocked_product(warehouse=warehouse, sku="A", on_hand=10)
    b = stocked_product(warehouse=warehouse, sku="B", on_hand=10)
    order = order_in_status(S.AWAITING_SHIPMENT, lines=[(a, 2), (b, 1)])
    la, lb = order.lines.order_by("pk")

    first = services.ship_order(
        order, carrier="SF", tracking_number="SF1", quantities={la.pk: 1}, actor=TEST_ACTOR
    )
    order.refresh_from_db()
    assert (order.status, order.fulfillment_status) == (
        S.PARTIALLY_SHIPPED,
        FulfillmentStatus.PARTIALLY_FULFILLED,
    )
    second = services.ship_order(order, carrier="YTO", tracking_number="YT2", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (order.status, order.fulfillment_status) == (S.SHIPPED, FulfillmentStatus.FULFILLED)
    assert {(sl.order_line_id, sl.quantity) for sl in second.lines.all()} == {(la.pk, 1), (lb.pk, 1)}
    assert list(first.lines.values_list("quantity", flat=True)) == [1]
    with pytest.raises(Exception):  # noqa: B017 - nothing left to ship: the order is shipped
        services.ship_order(order, carrier="SF", tracking_number="SF3", actor=TEST_ACTOR)

    services.update_shipment(first, status=Shipment.Status.DELIVERED, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.status == S.SHIPPED  # one parcel still travelling
    services.update_shipment(second, status=Shipment.Status.DELIVERED, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (order.status, order.fulfillment_status) == (S.DELIVERED, FulfillmentStatus.DELIVERED)


def test_logistics_changes_are_on_the_timeline(product):
    """Warehouse staff correct carrier and tracking number: one event naming old and new values."""
    order = order_in_status(S.SHIPPED, lines=[(product, 1)])
    shipment = order.shipments.get()
    services.update_shipment(shipment, carrier="ZTO", tracking_number="ZT9", actor=TEST_ACTOR)
    event = OrderEvent.objects.filter(order=order, type=EventType.TRACKING_UPDATED).latest("pk")
    assert event.data["changes"] == {
        "carrier": {"from": "SF", "to": "ZTO"},
        "tracking_number": {"from": "SF-ALL", "to": "ZT9"},
    }
    count = OrderEvent.objects.filter(order=order).count()
    services.update_shipment(shipment, carrier="ZTO", actor=TEST_ACTOR)  # no change: no event
    assert OrderEvent.objects.filter(order=order).count() == count
    with pytest.raises(ValidationFailed):
        services.update_shipment(shipment, tracking_number=" ", actor=TEST_ACTOR)
