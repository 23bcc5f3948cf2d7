"""Two clerks shipping the same order at the same moment ship it once (PostgreSQL, separate connections)."""

from __future__ import annotations

import pytest

from oms.errors import OMSError
from orders import services
from orders.choices import OrderStatus
from orders.models import Shipment, StockLevel
from orders.tests.factories import TEST_ACTOR, WarehouseFactory, order_in_status, stocked_product
from orders.tests.test_stock_concurrency import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_clerks_ship_the_same_order_once():
    """Both press 'ship' with their own tracking number: one shipment, stock deducted once, one refusal."""
    product = stocked_product(warehouse=WarehouseFactory(code="main"), sku="ONE", on_hand=5)
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT, lines=[(product, 2)])

    def ship(tracking: str):
        return services.ship_order(order.pk, carrier="SF", tracking_number=tracking, actor=TEST_ACTOR)

    results = run_concurrently(ship, ["SF-A", "SF-B"])

    kinds = sorted(kind for kind, _value in results)
    assert kinds == ["error", "ok"]
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, OMSError) and error.code == "transition_not_allowed"
    assert Shipment.objects.filter(order=order).count() == 1
    stock = StockLevel.objects.get(product=product)
    assert (stock.on_hand, stock.reserved) == (3, 0)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_two_clerks_ship_partial_quantities_at_once():
    """Two partial shipments of the same line race: together they never ship more than ordered."""
    product = stocked_product(warehouse=WarehouseFactory(code="main"), sku="TWO", on_hand=5)
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT, lines=[(product, 3)])
    line_pk = order.lines.get().pk

    def ship(quantity: int):
        return services.ship_order(
            order.pk,
            carrier="SF",
            tracking_number=f"SF-{quantity}",
            quantities={line_pk: quantity},
            actor=TEST_ACTOR,
        )

    results = run_concurrently(ship, [2, 2])

    assert sorted(kind for kind, _value in results) == ["error", "ok"]
    order.refresh_from_db()
    assert order.lines.get().quantity_shipped == 2
    assert StockLevel.objects.get(product=product).on_hand == 3
