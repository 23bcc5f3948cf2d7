"""Real concurrency on PostgreSQL: many clerks confirming at once never oversell and never deadlock.

Each thread has its own database connection and its own transactions (transaction=True), so the row
locks and conditional UPDATEs meet for real. SQLite serialises writers, so these tests skip there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.db import connection

from oms.errors import StockShortage
from orders import services
from orders.choices import EventType, ExceptionReason, OrderStatus
from orders.models import Order, OrderEvent, StockLevel
from orders.tests.factories import TEST_ACTOR, WarehouseFactory, order_in_status, stocked_product

S = OrderStatus
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
JOIN_TIMEOUT = 60.0


def run_concurrently(work: Callable[[Any], Any], items: Sequence[Any]) -> list[tuple[str, Any]]:
    """Run `work(item)` for every item in its own thread, all released at once; ('ok'|'error', value) each."""
    barrier = threading.Barrier(len(items))
    results: list[tuple[str, Any] | None] = [None] * len(items)

    def worker(index: int, item: Any) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            results[index] = ("ok", work(item))
        except BaseException as exc:  # noqa: BLE001 - every outcome is inspected by the test
            results[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, item), daemon=True) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "threads still running: deadlock or lock wait"
    return results  # type: ignore[return-value]


def confirm(pk: int) -> Order:
    """Confirm one order in its own connection."""
    return services.confirm_order(pk, actor=TEST_ACTOR)


def outcomes(results: list[tuple[str, Any]]) -> tuple[int, int, list[BaseException]]:
    """(successes, stock shortages, any other errors)."""
    ok = sum(1 for kind, _value in results if kind == "ok")
    short = sum(1 for kind, value in results if kind == "error" and isinstance(value, StockShortage))
    other = [value for kind, value in results if kind == "error" and not isinstance(value, StockShortage)]
    return ok, short, other


def test_thirty_clerks_ten_units():
    """30 paid orders of 1 unit race for 10 units: exactly 10 reserve, 20 are flagged short, none oversold."""
    product = stocked_product(warehouse=WarehouseFactory(code="main"), sku="HOT", on_hand=10)
    orders = [order_in_status(S.PENDING_REVIEW, lines=[(product, 1)]) for _n in range(30)]

    results = run_concurrently(confirm, [order.pk for order in orders])

    ok, short, other = outcomes(results)
    assert other == []
    assert (ok, short) == (10, 20)
    stock = StockLevel.objects.get(product=product)
    assert (stock.on_hand, stock.reserved) == (10, 10)
    assert Order.objects.filter(status=S.AWAITING_SHIPMENT).count() == 10
    flagged = Order.objects.filter(status=S.PENDING_REVIEW, exception_reason=ExceptionReason.STOCK_SHORT)
    assert flagged.count() == 20
    assert OrderEvent.objects.filter(type=EventType.STOCK_RESERVED).count() == 10
    assert not StockLevel.objects.filter(reserved__lt=0).exists()


def test_opposite_line_orders_do_not_deadlock_when_short():
    """Orders take two SKUs in opposite line orders; 10 pairs available for 30 orders: exactly 10 win."""
    warehouse = WarehouseFactory(code="main")
    a = stocked_product(warehouse=warehouse, sku="A", on_hand=10)
    b = stocked_product(warehouse=warehouse, sku="B", on_hand=10)
    orders = [
        order_in_status(S.PENDING_REVIEW, lines=[(a, 1), (b, 1)] if n % 2 else [(b, 1), (a, 1)])
        for n in range(30)
    ]

    ok, short, other = outcomes(run_concurrently(confirm, [order.pk for order in orders]))

    assert other == []
    assert (ok, short) == (10, 20)
    assert sorted(StockLevel.objects.values_list("reserved", flat=True)) == [10, 10]


def test_opposite_line_orders_do_not_deadlock_with_plenty():
    """Every order fits, so each transaction holds both rows at once: locking in pk order avoids deadlock."""
    warehouse = WarehouseFactory(code="main")
    a = stocked_product(warehouse=warehouse, sku="A", on_hand=100)
    b = stocked_product(warehouse=warehouse, sku="B", on_hand=100)
    orders = [
        order_in_status(S.PENDING_REVIEW, lines=[(a, 2), (b, 1)] if n % 2 else [(b, 1), (a, 2)])
        for n in range(20)
    ]

    ok, short, other = outcomes(run_concurrently(confirm, [order.pk for order in orders]))

    assert (ok, short, other) == (20, 0, [])
    assert dict(StockLevel.objects.values_list("product__sku", "reserved")) == {"A": 40, "B": 20}


def test_concurrent_ship_and_cancel_keep_stock_consistent():
    """Shipping and cancelling different orders of one SKU at once leaves on hand and reserved exact."""
    product = stocked_product(warehouse=WarehouseFactory(code="main"), sku="MIX", on_hand=20)
    orders = [order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 1)]) for _n in range(20)]

    def act(order: Order) -> Any:
        if order.pk % 2:
            return services.ship_order(
                order.pk, carrier="SF", tracking_number=f"SF{order.pk}", actor=TEST_ACTOR
            )
        return services.cancel_order(order.pk, reason="buyer cancelled", actor=TEST_ACTOR)

    ok, short, other = outcomes(run_concurrently(act, orders))

    assert (ok, short, other) == (20, 0, [])
    shipped = Order.objects.filter(status=S.SHIPPED).count()
    stock = StockLevel.objects.get(product=product)
    assert (stock.on_hand, stock.reserved) == (20 - shipped, 0)
