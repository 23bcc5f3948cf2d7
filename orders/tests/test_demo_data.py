"""Demo data: deterministic for a seed and date, every status present, and the domain invariants hold."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from orders.choices import (
    EventType,
    ExceptionReason,
    FulfillmentStatus,
    HoldKind,
    OrderStatus,
    PaymentKind,
    PaymentStatus,
    StockStatus,
)
from orders.demo import DemoGenerator
from orders.models import Order, OrderEvent, OrderLine, Payment, Shipment, StockLevel

pytestmark = pytest.mark.django_db(transaction=False)

TODAY = dt.date(2025, 6, 1)
S = OrderStatus


def snapshot(after_id: int) -> list[tuple]:
    """What must be identical between two runs with the same seed (ids may differ): orders after `after_id`."""
    return list(
        Order.objects.filter(id__gt=after_id)
        .order_by("placed_at")
        .values_list(
            "number", "status", "total", "placed_at", "receiver_name", "channel__code", "payment_status"
        )
    )


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """300 demo orders, loaded once for the module's read-only tests."""
    with django_db_blocker.unblock(), transaction.atomic():
        stats = DemoGenerator(orders=300, seed=7, today=TODAY).run()
        yield stats
        transaction.set_rollback(True)


def test_same_seed_same_data(db):
    """Same seed and date twice (each rolled back) give identical orders; another seed does not."""
    runs = []
    for seed in (3, 3, 4):
        with transaction.atomic():
            after_id = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
            DemoGenerator(orders=120, seed=seed, today=TODAY).run()
            runs.append(snapshot(after_id))
            transaction.set_rollback(True)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert len(runs[0]) == 120


def test_every_status_hold_kind_and_exception_present(demo):
    assert set(Order.objects.values_list("status", flat=True)) == set(S.values)
    held = Order.objects.filter(status=S.ON_HOLD)
    assert {HoldKind.REVIEW, HoldKind.FINANCE} <= set(held.values_list("hold_kind", flat=True))
    assert not held.filter(held_from_status="").exists()
    assert not held.filter(hold_reason="").exists()
    assert set(Order.objects.exclude(exception_reason="").values_list("exception_reason", flat=True)) == set(
        ExceptionReason.values
    )


def test_order_totals_add_up(demo):
    for order in Order.objects.prefetch_related("lines"):
        lines = sum(line.total for line in order.lines.all())
        assert order.subtotal == lines, order.number
        assert order.total == order.subtotal - order.discount + order.shipping_fee + order.tax, order.number
        for line in order.lines.all():
            assert line.total == line.unit_price * line.quantity - line.discount


def test_timestamps_in_order_and_before_today(demo):
    end = dt.datetime.combine(TODAY, dt.time.min, tzinfo=dt.UTC)
    for order in Order.objects.all():
        assert order.placed_at < end + dt.timedelta(days=1)
        steps = [order.placed_at, order.paid_at, order.shipped_at, order.delivered_at, order.completed_at]
        present = [step for step in steps if step is not None]
        assert present == sorted(present), order.number
        if order.cancelled_at:
            assert order.cancelled_at >= order.placed_at


def test_statuses_are_consistent(demo):
    paid_states = {PaymentStatus.PAID, PaymentStatus.PARTIALLY_PAID}
    for order in Order.objects.prefetch_related("lines", "shipments", "payments"):
        lines = list(order.lines.all())
        shipped = sum(line.quantity_shipped for line in lines)
        payments = sum(p.amount for p in order.payments.all() if p.kind == PaymentKind.PAYMENT)
        refunds = sum(p.amount for p in order.payments.all() if p.kind == PaymentKind.REFUND)
        assert order.paid_amount == payments and order.refunded_amount == refunds, order.number
        if order.status == S.PENDING_PAYMENT:
            assert order.payment_status == PaymentStatus.UNPAID and order.paid_at is None
        if order.status in (S.PENDING_REVIEW, S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED, S.SHIPPED):
            assert order.payment_status in paid_states and order.paid_at is not None, order.number
        if order.status == S.AWAITING_SHIPMENT:
            assert order.stock_status in (StockStatus.RESERVED, StockStatus.WAITING)
            assert shipped == 0
        if order.status == S.PARTIALLY_SHIPPED:
            assert order.fulfillment_status == FulfillmentStatus.PARTIALLY_FULFILLED
            assert 0 < shipped < sum(line.quantity for line in lines)
        if order.status in (S.SHIPPED, S.DELIVERED, S.COMPLETED):
            assert order.stock_status == StockStatus.DEDUCTED and order.shipped_at is not None
            assert all(line.quantity_shipped == line.quantity for line in lines)
            assert order.shipments.exists()
        if order.status in (S.DELIVERED, S.COMPLETED):
            assert order.fulfillment_status == FulfillmentStatus.DELIVERED
            assert all(s.status == Shipment.Status.DELIVERED for s in order.shipments.all())
        if order.status == S.CANCELLED:
            assert order.cancelled_at and order.cancel_reason
            assert order.payment_status in (PaymentStatus.UNPAID, PaymentStatus.REFUNDED)
            assert order.stock_status != StockStatus.RESERVED
        if order.status not in (S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED, S.ON_HOLD):
            assert all(line.quantity_reserved == 0 for line in lines), order.number


def test_stock_reservations_match_orders(demo):
    expected: dict[tuple[int, int], int] = defaultdict(int)
    for line in OrderLine.objects.filter(quantity_reserved__gt=0).select_related("order"):
        assert line.order.stock_status == StockStatus.RESERVED
        expected[(line.product_id, line.order.warehouse_id)] += line.quantity_reserved
    actual = {}
    for level in StockLevel.objects.all():
        assert 0 <= level.reserved <= level.on_hand
        if level.reserved:
            actual[(level.product_id, level.warehouse_id)] = level.reserved
    assert actual == dict(expected)
    assert sum(actual.values()) > 0


def test_events_for_every_order(demo):
    orders = Order.objects.count()
    assert OrderEvent.objects.filter(type=EventType.CREATED).values("order").distinct().count() == orders
    for order in Order.objects.exclude(paid_at=None):
        types = set(order.events.values_list("type", flat=True))
        assert EventType.PAYMENT_RECORDED in types, order.number
        assert EventType.STATUS_CHANGED in types, order.number
    last: dict[int, str] = {}
    for event in OrderEvent.objects.filter(type=EventType.STATUS_CHANGED).order_by("created_at", "id"):
        last[event.order_id] = event.data["target"]
    for order_id, status in Order.objects.values_list("id", "status"):
        assert last.get(order_id, S.PENDING_PAYMENT) == status
    assert OrderEvent.objects.exclude(actor_kind="").count() == OrderEvent.objects.count()
    assert Payment.objects.filter(amount__lte=0).count() == 0


def test_command_if_empty_skips(db):
    out = StringIO()
    before = Order.objects.count()
    call_command("demo_data", orders=40, seed=1, today=TODAY, no_progress=True, stdout=out)
    assert Order.objects.count() == before + 40
    call_command("demo_data", orders=40, seed=1, if_empty=True, no_progress=True, stdout=out)
    assert Order.objects.count() == before + 40
