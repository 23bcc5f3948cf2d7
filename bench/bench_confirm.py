"""Order confirmation under contention: 8 threads confirm paid orders competing for a few hot SKUs.

Three stock-reservation strategies run the same workload on their own SKUs and orders:
- `service`: orders.services.confirm_order as shipped (conditional UPDATE checked by row count);
- `naive`: read the stock row, check availability in Python, write the new reserved count (lost updates);
- `for_update`: SELECT … FOR UPDATE on the stock rows in pk order, check, then update.
Each reports orders/s, p95 latency and how many units were promised beyond the stock on hand (oversold).
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from decimal import Decimal

from bench.common import BenchResult, bench_database, percentile

THREADS = 8
HOT_SKUS = 3


def _needs(order) -> dict[int, int]:
    needs: dict[int, int] = defaultdict(int)
    for line in order.lines.order_by("product_id", "pk"):
        needs[line.product_id] += line.quantity - line.quantity_reserved
    return dict(sorted(needs.items()))


def _finish_reservation(order, warehouse, actor) -> None:
    """What reserve_order_stock does after the stock rows: mark lines reserved, set warehouse, write event."""
    from orders.choices import EventType
    from orders.models import OrderLine
    from orders.services.events import record_event

    OrderLine.objects.filter(order=order).update(quantity_reserved=models_f("quantity"))
    order.warehouse = warehouse
    order.save(update_fields=["warehouse", "updated_at"])
    record_event(
        order, type=EventType.STOCK_RESERVED, actor=actor, message="reserved", warehouse=warehouse.code
    )


def models_f(name: str):
    from django.db.models import F

    return F(name)


def naive_reserve(order, *, actor) -> None:
    """Read-check-write without a lock: two threads can both see the same availability."""
    from oms.errors import StockShortage
    from orders.models import StockLevel, Warehouse

    warehouse = Warehouse.objects.get(code="bench")
    for product_id, quantity in _needs(order).items():
        level = StockLevel.objects.get(product_id=product_id, warehouse=warehouse)
        if level.on_hand - level.reserved < quantity:
            raise StockShortage(f"short {product_id}")
        level.reserved = level.reserved + quantity
        level.save(update_fields=["reserved"])
    _finish_reservation(order, warehouse, actor)


def for_update_reserve(order, *, actor) -> None:
    """Lock the stock rows (pk order), check, then update."""
    from oms.errors import StockShortage
    from orders.models import StockLevel, Warehouse

    warehouse = Warehouse.objects.get(code="bench")
    needs = _needs(order)
    levels = list(
        StockLevel.objects.select_for_update()
        .filter(product_id__in=needs, warehouse=warehouse)
        .order_by("pk")
    )
    for level in levels:
        if level.on_hand - level.reserved < needs[level.product_id]:
            raise StockShortage(f"short {level.product_id}")
    for level in levels:
        level.reserved += needs[level.product_id]
        level.save(update_fields=["reserved"])
    _finish_reservation(order, warehouse, actor)


@contextmanager
def reservation(strategy):
    """Swap the stock step of confirm_order for one strategy (None: the service's own)."""
    from orders.services import lifecycle

    original = lifecycle.reserve_order_stock
    if strategy is not None:
        lifecycle.reserve_order_stock = strategy
    try:
        yield
    finally:
        lifecycle.reserve_order_stock = original


def _workload(label: str, count: int, rng: random.Random):
    """Hot SKUs with stock for ~70% of the demand, and `count` paid orders waiting for review."""
    from django.utils import timezone

    from orders.choices import OrderStatus, PaymentStatus
    from orders.models import Order, OrderLine, Product, StockLevel, Warehouse

    warehouse, _c = Warehouse.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    products = Product.objects.bulk_create(
        [Product(sku=f"{label}-{i}", name=f"{label} {i}", price=Decimal("10.00")) for i in range(HOT_SKUS)]
    )
    now = timezone.now()
    orders = Order.objects.bulk_create(
        [
            Order(
                number=f"B{label[:2].upper()}{i:07d}",
                status=OrderStatus.PENDING_REVIEW,
                payment_status=PaymentStatus.PAID,
                placed_at=now,
                paid_at=now,
                receiver_name="张三",
                receiver_phone="13800000000",
                province="浙江省",
                city="杭州市",
                street="文三路1号",
            )
            for i in range(count)
        ]
    )
    demand: dict[int, int] = defaultdict(int)
    lines = []
    for order in orders:
        for product in rng.sample(products, rng.choice([1, 1, 2])):
            quantity = rng.choice([1, 1, 2])
            demand[product.pk] += quantity
            lines.append(
                OrderLine(
                    order=order,
                    product=product,
                    sku=product.sku,
                    name=product.name,
                    quantity=quantity,
                    unit_price=product.price,
                    total=product.price * quantity,
                )
            )
            order.total += product.price * quantity
    OrderLine.objects.bulk_create(lines)
    on_hand = {pk: int(units * 0.7) for pk, units in demand.items()}
    StockLevel.objects.bulk_create(
        [StockLevel(product_id=pk, warehouse=warehouse, on_hand=units) for pk, units in on_hand.items()]
    )
    return [order.pk for order in orders], on_hand


def _confirm_all(order_ids: list[int]) -> dict:
    """Confirm every order from THREADS threads; latencies and outcome counts."""
    from django.db import connection

    from oms.actors import Actor
    from oms.errors import OMSError
    from orders.services import confirm_order

    work: queue.Queue[int] = queue.Queue()
    for pk in order_ids:
        work.put(pk)
    latencies: list[float] = []
    outcomes: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    actor = Actor.system("bench")

    def worker() -> None:
        try:
            while True:
                try:
                    pk = work.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                try:
                    confirm_order(pk, actor=actor)
                    outcome = "confirmed"
                except OMSError as error:
                    outcome = error.code
                except Exception as error:  # deadlocks and the like: counted, not fatal
                    outcome = type(error).__name__
                took = time.perf_counter() - started
                with lock:
                    latencies.append(took)
                    outcomes[outcome] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "outcomes": dict(outcomes)}


def _oversold(order_ids: list[int], on_hand: dict[int, int]) -> tuple[int, int]:
    """(units promised beyond stock on hand, units the reserved column lost) for one workload."""
    from django.db.models import Sum

    from orders.choices import StockStatus
    from orders.models import OrderLine, StockLevel

    granted = {
        row["product_id"]: row["units"]
        for row in OrderLine.objects.filter(order_id__in=order_ids, order__stock_status=StockStatus.RESERVED)
        .values("product_id")
        .annotate(units=Sum("quantity"))
    }
    oversold = sum(max(0, granted.get(pk, 0) - units) for pk, units in on_hand.items())
    recorded = dict(StockLevel.objects.filter(product_id__in=on_hand).values_list("product_id", "reserved"))
    lost = sum(granted.get(pk, 0) - recorded.get(pk, 0) for pk in on_hand)
    return oversold, lost


def run(scale: float) -> list[BenchResult]:
    """Run the three strategies on equal workloads (2,000×scale orders each) and compare."""
    count = max(200, int(2000 * scale))
    with bench_database():
        figures = {}
        for label, strategy in (
            ("service", None),
            ("naive", naive_reserve),
            ("for_update", for_update_reserve),
        ):
            order_ids, on_hand = _workload(label, count, random.Random(11))
            with reservation(strategy):
                result = _confirm_all(order_ids)
            oversold, lost = _oversold(order_ids, on_hand)
            figures[label] = {
                "rate": count / result["elapsed"],
                "p95": percentile(result["latencies"], 95) * 1000,
                "oversold": oversold,
                "lost": lost,
                "outcomes": result["outcomes"],
            }

    def describe(label: str) -> str:
        f = figures[label]
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(f["outcomes"].items()))
        return f"{label}: {outcomes}; oversold {f['oversold']} units, lost updates {f['lost']} units"

    service, naive, locked = figures["service"], figures["naive"], figures["for_update"]
    note = f"{count:,} orders, {THREADS} threads, {HOT_SKUS} hot SKUs (stock for ~70% of demand)"
    return [
        BenchResult(
            "confirm_throughput",
            round(service["rate"], 1),
            "orders/s",
            "naive read-check-write",
            round(naive["rate"], 1),
            "no oversell",
            f"{note}. {describe('service')}. {describe('naive')}",
        ),
        BenchResult(
            "confirm_p95",
            round(service["p95"], 1),
            "ms",
            "naive read-check-write p95",
            round(naive["p95"], 1),
            "",
            note,
        ),
        BenchResult(
            "confirm_for_update_throughput",
            round(locked["rate"], 1),
            "orders/s",
            "service (conditional UPDATE)",
            round(service["rate"], 1),
            "no oversell",
            f"{describe('for_update')}; p95 {locked['p95']:.1f} ms",
        ),
        BenchResult(
            "confirm_oversold_units",
            service["oversold"],
            "units",
            "naive read-check-write oversold units",
            naive["oversold"],
            "0",
            "units promised beyond stock on hand",
        ),
    ]
