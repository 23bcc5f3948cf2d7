"""A small, hand-made order book whose report figures are computed by hand in the tests.

All times are local (Asia/Shanghai, UTC+8). March 2025 is the period under test; February holds the
comparison order and 1 April 00:10 local (31 March in UTC) an order that must stay out of March.

| order | channel | wh | customer | placed (local)   | total | status     | paid            | shipped         |
|-------|---------|----|----------|------------------|-------|------------|-----------------|-----------------|
| O1    | A       | W1 | C1       | Mon 03-03 09:30  | 100   | shipped    | 03-03 09:40     | 03-04 09:40     |
| O2    | A       | W1 | C1       | Mon 03-03 21:15  | 200   | completed  | 03-04 21:15     | 03-07 21:15     |
| O3    | B       | W2 | C2       | Sun 03-16 00:30  | 300   | awaiting   | 03-16 02:30     | –               |
| O4    | B       | W2 | C3       | Mon 03-10 10:00  | 80    | cancelled  | –               | –               |
| O5    | –       | W1 | C2       | Mon 03-31 23:50  | 120   | pend.review| 04-01 00:50     | –               |
| O6    | A       | W1 | C1       | Thu 02-20 10:00  | 60    | completed  | 02-20 11:00     | 02-21 11:00     |
| O7    | A       | W1 | –        | Tue 04-01 00:10  | 999   | pend.pay   | –               | –               |

O2 was refunded 50. Lines: O1 P1×2=100; O2 P1×1=50 + P2×3=150; O3 P2×6=300; O4 P1×1=80; O5 P1×1=120;
O6 P2×1=60. Stock: P1 W1 30 (5 reserved) + W2 10; P2 W1 6; P3 W2 50 (never sold).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pytest

from orders.choices import EventType, OrderStatus, PaymentKind, PaymentMethod
from orders.models import OrderEvent, Payment
from orders.tests.factories import (
    ChannelFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    StockLevelFactory,
    WarehouseFactory,
)
from reports.queries import local_tz

S = OrderStatus


@pytest.fixture(autouse=True)
def english(settings):
    """Assertions read English labels: run report tests in English whatever the project default is."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def at(text: str) -> dt.datetime:
    """A local (merchant time zone) aware datetime from 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=local_tz())


def _event(order, type_: str, when: str, **data) -> OrderEvent:
    """A timeline event at a chosen time (created_at is auto_now_add and events are append-only: fake the clock)."""
    with mock.patch("django.utils.timezone.now", return_value=at(when)):
        return OrderEvent.objects.create(order=order, type=type_, actor_kind="system", data=data)


@pytest.fixture
def book(db) -> SimpleNamespace:
    """The order book described in the module docstring."""
    a = ChannelFactory(code="shop-a", name="Shop A")
    b = ChannelFactory(code="shop-b", name="Shop B")
    w1 = WarehouseFactory(code="hz", name="Hangzhou")
    w2 = WarehouseFactory(code="sh", name="Shanghai")
    p1 = ProductFactory(sku="P1", name="Tee", category="Tops", price=Decimal("50.00"))
    p2 = ProductFactory(sku="P2", name="Shirt", category="Tops", price=Decimal("50.00"))
    p3 = ProductFactory(sku="P3", name="Boot", category="Shoes", price=Decimal("90.00"))
    StockLevelFactory(product=p1, warehouse=w1, on_hand=30, reserved=5)
    StockLevelFactory(product=p1, warehouse=w2, on_hand=10)
    StockLevelFactory(product=p2, warehouse=w1, on_hand=6)
    StockLevelFactory(product=p3, warehouse=w2, on_hand=50)
    c1 = CustomerFactory(name="Alice")
    c2 = CustomerFactory(name="Bob")
    c3 = CustomerFactory(name="Carol")

    def order(
        number, channel, warehouse, customer, placed, total, status, paid=None, shipped=None, lines=(), **kw
    ):
        made = OrderFactory(
            number=number,
            channel=channel,
            warehouse=warehouse,
            customer=customer,
            placed_at=at(placed),
            total=Decimal(total),
            subtotal=Decimal(total),
            status=status,
            paid_at=at(paid) if paid else None,
            shipped_at=at(shipped) if shipped else None,
            paid_amount=Decimal(total) if paid else Decimal("0"),
            **kw,
        )
        for product, quantity, line_total in lines:
            OrderLineFactory(
                order=made,
                product=product,
                quantity=quantity,
                unit_price=Decimal(line_total) / quantity,
                total=Decimal(line_total),
            )
        return made

    o1 = order(
        "O1",
        a,
        w1,
        c1,
        "2025-03-03 09:30",
        "100",
        S.SHIPPED,
        "2025-03-03 09:40",
        "2025-03-04 09:40",
        [(p1, 2, "100")],
    )
    o2 = order(
        "O2",
        a,
        w1,
        c1,
        "2025-03-03 21:15",
        "200",
        S.COMPLETED,
        "2025-03-04 21:15",
        "2025-03-07 21:15",
        [(p1, 1, "50"), (p2, 3, "150")],
        refunded_amount=Decimal("50"),
    )
    o3 = order(
        "O3",
        b,
        w2,
        c2,
        "2025-03-16 00:30",
        "300",
        S.AWAITING_SHIPMENT,
        "2025-03-16 02:30",
        None,
        [(p2, 6, "300")],
    )
    o4 = order(
        "O4",
        b,
        w2,
        c3,
        "2025-03-10 10:00",
        "80",
        S.CANCELLED,
        None,
        None,
        [(p1, 1, "80")],
        cancelled_at=at("2025-03-10 11:00"),
    )
    o5 = order(
        "O5",
        None,
        w1,
        c2,
        "2025-03-31 23:50",
        "120",
        S.PENDING_REVIEW,
        "2025-04-01 00:50",
        None,
        [(p1, 1, "120")],
    )
    o6 = order(
        "O6",
        a,
        w1,
        c1,
        "2025-02-20 10:00",
        "60",
        S.COMPLETED,
        "2025-02-20 11:00",
        "2025-02-21 11:00",
        [(p2, 1, "60")],
    )
    o7 = order("O7", a, w1, None, "2025-04-01 00:10", "999", S.PENDING_PAYMENT)

    def payment(order_, when, amount, kind=PaymentKind.PAYMENT, status=Payment.Status.SUCCEEDED):
        return Payment.objects.create(
            order=order_,
            kind=kind,
            method=PaymentMethod.PLATFORM,
            amount=Decimal(amount),
            status=status,
            paid_at=at(when),
        )

    # O1 is settled by the platform two days (48 h) after shipment.
    payment(o1, "2025-03-06 09:40", "100")
    # O2: paid before shipment (no settlement); a refund and a failed payment after shipment don't count.
    payment(o2, "2025-03-04 21:15", "200")
    payment(o2, "2025-03-10 10:00", "50", kind=PaymentKind.REFUND)
    payment(o2, "2025-03-09 10:00", "10", status=Payment.Status.FAILED)

    flagged, resolved = EventType.EXCEPTION_FLAGGED, EventType.EXCEPTION_RESOLVED
    _event(o1, flagged, "2025-03-03 10:00", reason="address_incomplete")
    _event(o1, resolved, "2025-03-03 13:00", reason="address_incomplete")  # 3 h
    _event(o2, resolved, "2025-03-04 09:00", reason="address_incomplete")  # before the flag: not paired
    _event(o2, flagged, "2025-03-05 10:00", reason="address_incomplete")
    _event(o2, resolved, "2025-03-06 16:00", reason="address_incomplete")  # 30 h
    _event(o3, flagged, "2025-03-16 03:00", reason="stock_short")  # still open
    _event(o6, flagged, "2025-02-20 10:30", reason="amount_anomaly")  # February: outside the period
    _event(o2, EventType.HOLD_SET, "2025-03-04 22:00", kind="finance")
    _event(o2, EventType.HOLD_RELEASED, "2025-03-05 02:00", kind="finance")  # 4 h
    _event(o3, EventType.HOLD_SET, "2025-03-17 10:00", kind="review")  # still held

    return SimpleNamespace(
        a=a,
        b=b,
        w1=w1,
        w2=w2,
        p1=p1,
        p2=p2,
        p3=p3,
        c1=c1,
        c2=c2,
        c3=c3,
        o1=o1,
        o2=o2,
        o3=o3,
        o4=o4,
        o5=o5,
        o6=o6,
        o7=o7,
    )


MARCH = {"period": "custom", "date_from": "2025-03-01", "date_to": "2025-03-31"}


def run_report(code: str, **data):
    """Run a built-in report through its form, as the admin page does; returns {section key: Section}."""
    from reports.registry import get_report

    spec = get_report(code)
    form = spec.form_class(data={**MARCH, **data})
    assert form.is_valid(), form.errors
    result = spec.run(form.to_params())
    return {section.spec.key: section for section in result.sections}
