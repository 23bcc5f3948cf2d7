"""The bulk writers: the set-based PostgreSQL writer (`stage_order` + `write_staged`) writes exactly what the
portable one does, numbers orders as `format_order_number` does, never drops a line, and COPY text survives any
character a platform sends."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from conftest import require_postgresql
from oms.actors import Actor
from orders.choices import EventType
from orders.models import Customer, CustomerAddress, Order, OrderEvent, OrderLine, Payment, Product
from orders.services import LineInput, OrderInput, bulk
from orders.services.bulk import ProductStandIns, copy_text_row, create_orders_bulk, stage_order, write_staged
from orders.services.creation import format_order_number
from orders.tests.factories import ADDRESS, ChannelFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.channel("shop")
PLACED = dt.datetime(2025, 3, 1, 2, 30, tzinfo=dt.UTC)


def test_copy_text_rows_escape_what_copy_would_misread():
    when = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)
    assert copy_text_row([1, None, "茶杯", Decimal("9.90"), when, dt.date(2025, 3, 1)]) == (
        "1\t\\N\t茶杯\t9.90\t2025-03-01 10:00:00+00:00\t2025-03-01\n"
    )
    assert copy_text_row(["a\tb", "line\nbreak\r", "back\\slash", "\\N", None]) == (
        "a\\tb\tline\\nbreak\\r\tback\\\\slash\t\\\\N\t\\N\n"
    )


def test_product_stand_ins_know_every_sku_without_the_database(django_assert_num_queries):
    products = ProductStandIns()
    with django_assert_num_queries(0):
        first = products.get("NEW-1")
    assert (first.sku, first.name, first.pk) == ("NEW-1", "", None)
    assert products.get("NEW-1") is first


def page_inputs(channel) -> list[OrderInput]:
    """One page covering each case the writers handle differently."""
    cup = ProductFactory(sku="CUP", name="茶杯", price=Decimal("99.00"))
    pot = ProductFactory(sku="POT", name="茶壶", price=Decimal("150.00"))
    known = CustomerFactory(phone="13900000009", dedupe_key="phone:13900000009", name="老客户")
    CustomerAddress.objects.create(
        customer=known, use_count=3, **{**address_of(ADDRESS), "receiver_phone": "13900000009"}
    )
    common = {"channel": channel, "placed_at": PLACED, "extra": {"platform_status": "WAIT_SELLER_SEND_GOODS"}}
    return [
        OrderInput(  # paid, two lines, one without a name of its own; a note COPY must escape
            lines=[
                LineInput(
                    sku=cup.sku, quantity=2, unit_price=Decimal("99.00"), discount=Decimal("10.00"), name=""
                ),
                LineInput(sku=pot.sku, quantity=1, unit_price=Decimal("150.00"), name="壶\t礼盒"),
            ],
            external_id="A",
            status="awaiting_shipment",
            paid_amount=Decimal("338.00"),
            paid_at=PLACED,
            buyer_phone="139-0000-0001",
            buyer_note="请尽快\n发货 \\ 谢谢",
            **{**ADDRESS, **common},
        ),
        OrderInput(  # the same buyer again on the page: one customer; unpaid: no payment
            lines=[LineInput(sku=cup.sku, quantity=1, unit_price=Decimal("99.00"))],
            external_id="B",
            buyer_phone="13900000001",
            **{**ADDRESS, **common, "buyer_name": "张三丰"},
        ),
        OrderInput(  # nothing identifies the buyer: no customer, no address book entry
            lines=[LineInput(sku=pot.sku, quantity=1, unit_price=Decimal("150.00"))],
            external_id="C",
            **{**common, "buyer_name": "匿名"},
        ),
        OrderInput(  # a known customer at a known address: both reused, the address keeps its count
            lines=[LineInput(sku=cup.sku, quantity=3, unit_price=Decimal("99.00"))],
            external_id="D",
            buyer_phone="13900000009",
            **{**ADDRESS, **common, "receiver_phone": "13900000009"},
        ),
        OrderInput(  # refused: reported by index, nothing written
            lines=[LineInput(sku=cup.sku, quantity=0, unit_price=Decimal("99.00"))],
            external_id="E",
            **{**ADDRESS, **common},
        ),
    ]


def address_of(fields: dict) -> dict:
    return {name: fields.get(name, "") for name in bulk._ADDRESS_FIELDS}


def written() -> dict:
    """Everything the writers wrote, keyed by what identifies it (not ids, numbers or write times)."""
    orders = {
        o.external_id: {
            **{name: getattr(o, name) for name in bulk.STAGED_ORDER_FIELDS},
            "customer": o.customer.dedupe_key if o.customer_id else None,
            "number_day": o.number[2:8],
            **{
                name: getattr(o, name)
                for name in ("held_from_status", "stock_status", "invoice_status", "refunded_amount")
            },
        }
        for o in Order.objects.select_related("customer")
    }
    lines = sorted(
        (
            line.order.external_id,
            line.product.sku,
            line.sku,
            line.name,
            line.quantity,
            line.unit_price,
            line.discount,
            line.total,
            line.external_line_id,
        )
        for line in OrderLine.objects.select_related("order", "product")
    )
    payments = sorted(
        (p.order.external_id, p.kind, p.method, p.amount, p.currency, p.transaction_id, p.status, p.paid_at)
        for p in Payment.objects.select_related("order")
    )
    events = sorted(
        (e.order.external_id, e.type, e.actor_kind, e.actor_user_id, e.actor_label, e.message, repr(e.data))
        for e in OrderEvent.objects.select_related("order")
    )
    customers = sorted(
        (c.dedupe_key, c.name, c.phone, c.email, c.channel_id, c.channel_buyer_id)
        for c in Customer.objects.all()
    )
    addresses = sorted(
        (a.customer.dedupe_key, *address_of(vars(a)).values(), a.use_count)
        for a in CustomerAddress.objects.select_related("customer")
    )
    return {
        "orders": orders,
        "lines": lines,
        "payments": payments,
        "events": events,
        "customers": customers,
        "addresses": addresses,
    }


def run_writer(set_based: bool, monkeypatch) -> tuple[dict, dict]:
    """Write the page with one writer inside a savepoint; what it wrote and its errors, then roll back."""
    monkeypatch.setattr(bulk, "writes_set_based", lambda: set_based)
    channel = ChannelFactory(code="shop")
    with transaction.atomic():
        rollback = transaction.savepoint()
        outcome = create_orders_bulk(
            page_inputs(channel),
            actor=ACTOR,
            event_type=EventType.SYNCED,
            payment_reference="shop:{external_id}",
        )
        result = written()
        assert set(outcome.order_ids) == {0, 1, 2, 3}
        errors = {index: error.code for index, error in outcome.errors.items()}
        transaction.savepoint_rollback(rollback)
    return result, errors


def test_the_set_based_writer_writes_what_the_portable_one_does(monkeypatch):
    require_postgresql()
    portable, portable_errors = run_writer(False, monkeypatch)
    set_based, set_based_errors = run_writer(True, monkeypatch)
    assert portable_errors == set_based_errors == {4: "invalid_quantity"}
    for table in portable:
        assert set_based[table] == portable[table], table
    assert set_based["lines"][0][3] == "茶杯", "a line without a name takes its product's"
    assert set_based["orders"]["A"]["buyer_note"] == "请尽快\n发货 \\ 谢谢"
    assert [p[0] for p in set_based["payments"]] == ["A"]
    assert set_based["orders"]["C"]["customer"] is None
    assert (
        "phone:13900000009",
        *address_of({**ADDRESS, "receiver_phone": "13900000009"}).values(),
        3,
    ) in set_based["addresses"]


def test_set_based_numbers_follow_format_order_number_past_a_million():
    require_postgresql()
    channel = ChannelFactory(code="shop")
    product = ProductFactory(sku="CUP")
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval('orders_order_number_seq', 999998)")
    inputs = [
        OrderInput(
            lines=[LineInput(sku=product.sku, quantity=1)],
            channel=channel,
            external_id=str(n),
            placed_at=PLACED,
            **ADDRESS,
        )
        for n in range(3)
    ]
    outcome = create_orders_bulk(inputs, actor=ACTOR)
    numbers = [Order.objects.get(pk=outcome.order_ids[n]).number for n in range(3)]
    day = timezone.localdate(PLACED)
    assert numbers == [format_order_number(day, n) for n in (999999, 1000000, 1000001)]


def test_a_line_whose_product_is_gone_fails_the_write_instead_of_vanishing():
    require_postgresql()
    channel = ChannelFactory(code="shop")
    data = OrderInput(
        lines=[LineInput(sku="GHOST", quantity=1, unit_price=Decimal("5.00"))], channel=channel, **ADDRESS
    )
    staged = stage_order(0, data, ProductStandIns())
    with pytest.raises(IntegrityError, match="product"), transaction.atomic():
        write_staged([staged], actor=ACTOR)
    assert not Order.objects.exists() and not Product.objects.filter(sku="GHOST").exists()
    order_ids = write_staged([staged], actor=ACTOR, create_products=True)
    line = OrderLine.objects.get(order_id=order_ids[0])
    assert (line.product.sku, line.product.name, line.product.price) == ("GHOST", "GHOST", Decimal("5.00"))
