"""Fixtures of the order-domain tests: actors, users with rights, stock, and a whole-database snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from oms.actors import Actor
from orders.models import (
    Customer,
    CustomerAddress,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Shipment,
    ShipmentLine,
    StockLevel,
)
from orders.tests.factories import UserFactory, WarehouseFactory, stocked_product

CLERK_PERMS = [
    "orders.review_order",
    "orders.hold_order",
    "orders.ship_order",
    "orders.cancel_order",
    "orders.change_order",
]


@pytest.fixture
def system_actor() -> Actor:
    """OMS itself."""
    return Actor.system("tests")


@pytest.fixture
def clerk(db):
    """A clerk who reviews, holds, ships and cancels, but may not approve finance reviews."""
    return UserFactory(username="clerk", perms=CLERK_PERMS)


@pytest.fixture
def finance_user(db):
    """A member of finance, who may release finance holds."""
    return UserFactory(username="finance", perms=[*CLERK_PERMS, "orders.finance_review_order"])


@pytest.fixture
def clerk_actor(clerk) -> Actor:
    """The clerk acting in the admin."""
    return Actor.for_user(clerk)


@pytest.fixture
def warehouse(db):
    """The main warehouse."""
    return WarehouseFactory(code="main", name="Main warehouse")


@pytest.fixture
def product(warehouse):
    """A SKU with 100 units in the main warehouse."""
    return stocked_product(warehouse=warehouse, sku="TEE-RED-M", on_hand=100)


def take_snapshot() -> dict[str, Any]:
    """Every row a service could write, as comparable values (to prove a refusal changed nothing)."""
    return {
        "orders": list(Order.objects.order_by("pk").values()),
        "lines": list(OrderLine.objects.order_by("pk").values()),
        "events": list(OrderEvent.objects.order_by("pk").values_list("pk", "type")),
        "payments": list(Payment.objects.order_by("pk").values()),
        "shipments": list(Shipment.objects.order_by("pk").values()),
        "shipment_lines": list(ShipmentLine.objects.order_by("pk").values()),
        "stock": list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "reserved")),
        "customers": list(Customer.objects.order_by("pk").values()),
        "addresses": list(CustomerAddress.objects.order_by("pk").values()),
    }


@pytest.fixture
def snapshot(db) -> Callable[[], dict[str, Any]]:
    """A function taking a snapshot of every order-domain row; compare two to prove nothing changed."""
    return take_snapshot
