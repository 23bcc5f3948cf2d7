"""create_order: the rows and event it writes, unique external ids, and every kind of bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from oms.actors import Actor, ActorKind
from oms.errors import NotFound, ValidationFailed
from orders import services
from orders.choices import EventType, OrderStatus, PaymentStatus, StockStatus
from orders.models import Customer, CustomerAddress, OrderEvent, StockLevel
from orders.services.creation import format_order_number
from orders.tests.factories import ADDRESS, TEST_ACTOR, ChannelFactory, ProductFactory, make_order

pytestmark = pytest.mark.django_db
D = Decimal


def order_input(*lines: tuple[str, int], **fields) -> services.OrderInput:
    """An OrderInput for (sku, quantity) lines with a complete address."""
    return services.OrderInput(
        lines=[services.LineInput(sku=sku, quantity=quantity) for sku, quantity in lines],
        **{**ADDRESS, **fields},
    )


def test_create_order_writes_order_lines_customer_and_event(product, clerk):
    other = ProductFactory(sku="CAP", price=D("25.50"))
    data = order_input(
        (product.sku, 2),
        ("CAP", 1),
        shipping_fee="8",
        discount="3.50",
        tax="0",
        total="50.00",
        buyer_phone="+86 139-1234-5678",
        buyer_email="Buyer@Example.com",
        buyer_note="请尽快发货",
    )
    actor = Actor.for_user(clerk)
    order = services.create_order(data, actor=actor)

    order.refresh_from_db()
    if connection.vendor != "postgresql":  # PostgreSQL numbers come from a global sequence
        assert order.number == format_order_number(timezone.localdate(order.placed_at), 1)
    assert order.number.startswith(format_order_number(timezone.localdate(order.placed_at), 1)[:8])
    assert (order.status, order.payment_status, order.stock_status) == (
        OrderStatus.PENDING_PAYMENT,
        PaymentStatus.UNPAID,
        StockStatus.NONE,
    )
    assert (order.subtotal, order.discount, order.shipping_fee, order.total) == (
        D("45.50"),
        D("3.50"),
        D("8.00"),
        D("50.00"),
    )
    assert order.currency == "CNY"
    assert order.buyer_phone == "13912345678"
    lines = list(order.lines.order_by("pk").values_list("sku", "name", "quantity", "unit_price", "total"))
    assert lines == [
        ("TEE-RED-M", product.name, 2, D("10.00"), D("20.00")),
        ("CAP", other.name, 1, D("25.50"), D("25.50")),
    ]
    assert order.customer.dedupe_key == "phone:13912345678"
    assert order.customer.email == "buyer@example.com"
    assert CustomerAddress.objects.get(customer=order.customer).use_count == 1
    event = OrderEvent.objects.get(order=order)
    assert (event.type, event.actor_kind, event.actor_user, event.actor_label) == (
        EventType.CREATED,
        ActorKind.USER,
        clerk,
        "clerk",
    )
    assert event.data == {"status": "pending_payment", "total": "50.00"}
    assert StockLevel.objects.get(product=product).reserved == 0  # creation never moves stock


def test_order_numbers_carry_the_day_and_increase(product):
    day = dt.datetime(2025, 3, 9, 12, tzinfo=dt.UTC)
    first = make_order([(product, 1)], placed_at=day)
    second = make_order([(product, 1)], placed_at=day)
    more = services.reserve_order_numbers(day.date(), 2)
    numbers = [first.number, second.number, *more]
    assert all(number.startswith("SO250309") and len(number) >= 14 for number in numbers)
    assert [int(n[8:]) for n in numbers] == sorted(int(n[8:]) for n in numbers)
    assert len(set(numbers)) == 4
    if connection.vendor != "postgresql":  # a per-day counter elsewhere; a global sequence on PostgreSQL
        assert numbers == ["SO250309000001", "SO250309000002", "SO250309000003", "SO250309000004"]


def test_line_price_and_name_overrides(product):
    data = services.OrderInput(
        lines=[
            services.LineInput(
                sku=product.sku, quantity=3, unit_price="9.99", discount="0.97", name="促销 T 恤"
            )
        ],
        **ADDRESS,
    )
    order = services.create_order(data, actor=TEST_ACTOR)
    line = order.lines.get()
    assert (line.name, line.unit_price, line.discount, line.total) == (
        "促销 T 恤",
        D("9.99"),
        D("0.97"),
        D("29.00"),
    )
    assert order.total == D("29.00")


def test_extra_goes_into_the_created_event(product):
    data = order_input((product.sku, 1), extra={"source_row": 17})
    order = services.create_order(data, actor=Actor.importer("orders.xlsx"), event_type=EventType.IMPORTED)
    event = OrderEvent.objects.get(order=order)
    assert (event.type, event.actor_kind, event.actor_label) == (
        EventType.IMPORTED,
        ActorKind.IMPORT,
        "orders.xlsx",
    )
    assert event.data["source_row"] == 17


# --- unique (channel, external id) -----------------------------------------------------------------------


def test_duplicate_external_id_in_a_channel_is_refused(product, snapshot):
    shop = ChannelFactory(code="tmall")
    services.create_order(order_input((product.sku, 1), channel=shop, external_id="T-1001"), actor=TEST_ACTOR)
    before = snapshot()
    with pytest.raises(ValidationFailed) as duplicate:
        services.create_order(
            order_input((product.sku, 1), channel=shop, external_id="T-1001", buyer_phone="13800000000"),
            actor=TEST_ACTOR,
        )
    assert (duplicate.value.code, duplicate.value.field) == ("duplicate_external_id", "external_id")
    assert "T-1001" in duplicate.value.message
    assert snapshot() == before  # not even the new customer was kept


def test_same_external_id_in_another_channel_is_fine(product):
    for code in ("tmall", "jd"):
        services.create_order(
            order_input((product.sku, 1), channel=ChannelFactory(code=code), external_id="T-1001"),
            actor=TEST_ACTOR,
        )
    assert OrderEvent.objects.filter(type=EventType.CREATED).count() == 2


def test_empty_external_ids_may_repeat(product):
    shop = ChannelFactory(code="tmall")
    for _n in range(3):
        services.create_order(order_input((product.sku, 1), channel=shop, external_id=""), actor=TEST_ACTOR)
    assert shop.order_set.filter(external_id="").count() == 3


# --- bad input -------------------------------------------------------------------------------------------

BAD_INPUT = [
    ({"lines": []}, ValidationFailed, "required", "lines"),
    ({"lines": [("TEE-RED-M", -1)]}, ValidationFailed, "invalid_quantity", "lines[1].quantity"),
    ({"lines": [("TEE-RED-M", 0)]}, ValidationFailed, "invalid_quantity", "lines[1].quantity"),
    ({"lines": [("TEE-RED-M", 1.5)]}, ValidationFailed, "invalid_quantity", "lines[1].quantity"),
    ({"lines": [("TEE-RED-M", True)]}, ValidationFailed, "invalid_quantity", "lines[1].quantity"),
    ({"lines": [("TEE-RED-M", 1), ("NOPE", 1)]}, NotFound, "unknown_sku", "lines[2].sku"),
    ({"currency": "USD", "channel": "shop"}, ValidationFailed, "currency_mismatch", "currency"),
    ({"total": "21.00"}, ValidationFailed, "amounts_mismatch", "total"),
    ({"total": "abc"}, ValidationFailed, "invalid_amount", "total"),
    ({"discount": "-1"}, ValidationFailed, "negative_amount", "discount"),
    ({"shipping_fee": "-0.01"}, ValidationFailed, "negative_amount", "shipping_fee"),
    ({"tax": "-5"}, ValidationFailed, "negative_amount", "tax"),
    ({"paid_amount": "-5"}, ValidationFailed, "negative_amount", "paid_amount"),
    ({"discount": "20.01"}, ValidationFailed, "amounts_mismatch", "discount"),
    ({"discount": "NaN"}, ValidationFailed, "invalid_amount", "discount"),
    ({"status": "on_hold"}, ValidationFailed, "invalid_choice", "status"),
    ({"status": "teleported"}, ValidationFailed, "invalid_choice", "status"),
    ({"order_type": "barter"}, ValidationFailed, "invalid_choice", "order_type"),
    ({"line_unit_price": "-1"}, ValidationFailed, "negative_amount", "lines[1].unit_price"),
    ({"line_unit_price": "ten"}, ValidationFailed, "invalid_amount", "lines[1].unit_price"),
    ({"line_discount": "-1"}, ValidationFailed, "negative_amount", "lines[1].discount"),
    ({"line_discount": "20.01"}, ValidationFailed, "amounts_mismatch", "lines[1].discount"),
]


@pytest.mark.parametrize(
    ("change", "error", "code", "field"), BAD_INPUT, ids=[row[2] + ":" + row[3] for row in BAD_INPUT]
)
def test_create_order_bad_input(product, snapshot, change, error, code, field):
    """Each bad input raises its coded error naming the field, and writes nothing at all."""
    change = dict(change)
    lines = change.pop("lines", [(product.sku, 2)])
    line_input = [services.LineInput(sku=sku, quantity=quantity) for sku, quantity in lines]
    if "line_unit_price" in change:
        line_input[0].unit_price = change.pop("line_unit_price")
    if "line_discount" in change:
        line_input[0].discount = change.pop("line_discount")
    if change.get("channel") == "shop":
        change["channel"] = ChannelFactory(code="shop", currency="CNY")
    data = services.OrderInput(lines=line_input, **{**ADDRESS, "buyer_phone": "13912345678", **change})
    before = snapshot()
    customers = Customer.objects.count()

    with pytest.raises(error) as refused:
        services.create_order(data, actor=TEST_ACTOR)

    assert (refused.value.code, refused.value.field) == (code, field)
    assert refused.value.as_dict() == {"code": code, "message": refused.value.message, "field": field}
    assert snapshot() == before
    assert Customer.objects.count() == customers
