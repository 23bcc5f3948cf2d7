"""Stock: reserve on confirm, deduct on ship, release on cancel; shortages; what the database refuses."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from oms.errors import NotFound, StockShortage, TransitionNotAllowed, ValidationFailed
from orders import services
from orders.choices import (
    EventType,
    ExceptionReason,
    FulfillmentStatus,
    HoldKind,
    OrderStatus,
    OrderType,
    PaymentMethod,
    StockStatus,
)
from orders.models import OrderEvent, StockLevel
from orders.tests.factories import (
    TEST_ACTOR,
    ChannelFactory,
    WarehouseFactory,
    make_order,
    order_in_status,
    pay_in_full,
    stocked_product,
)

S = OrderStatus
pytestmark = pytest.mark.django_db


def level(product, warehouse=None) -> StockLevel:
    """The product's stock row (in `warehouse`, or its only one)."""
    rows = StockLevel.objects.filter(product=product)
    return (rows.filter(warehouse=warehouse) if warehouse else rows).get()


def event_types(order) -> list[str]:
    """The order's event types, oldest first."""
    return list(OrderEvent.objects.filter(order=order).order_by("pk").values_list("type", flat=True))


def test_confirm_reserves_stock(product, warehouse):
    order = order_in_status(S.PENDING_REVIEW, lines=[(product, 3)])
    services.confirm_order(order, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (level(product).on_hand, level(product).reserved) == (100, 3)
    assert order.stock_status == StockStatus.RESERVED
    assert order.warehouse == warehouse
    assert [line.quantity_reserved for line in order.lines.all()] == [3]
    reserved = OrderEvent.objects.get(order=order, type=EventType.STOCK_RESERVED)
    assert reserved.data == {"warehouse": "main", "quantities": {"TEE-RED-M": 3}}


def test_ship_deducts_reserved_stock(product):
    order = order_in_status(S.SHIPPED, lines=[(product, 3)])
    assert (level(product).on_hand, level(product).reserved) == (97, 0)
    assert order.stock_status == StockStatus.DEDUCTED
    assert order.fulfillment_status == FulfillmentStatus.FULFILLED
    line = order.lines.get()
    assert (line.quantity_reserved, line.quantity_shipped) == (0, 3)
    assert EventType.STOCK_DEDUCTED in event_types(order)


@pytest.mark.parametrize("source", [S.AWAITING_SHIPMENT, S.ON_HOLD])
def test_cancel_releases_reserved_stock(product, source):
    order = order_in_status(source, from_status=S.AWAITING_SHIPMENT, lines=[(product, 3)])
    assert level(product).reserved == 3
    services.cancel_order(order, reason="buyer changed their mind", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (level(product).on_hand, level(product).reserved) == (100, 0)
    assert order.stock_status == StockStatus.RELEASED
    assert order.lines.get().quantity_reserved == 0
    assert OrderEvent.objects.get(order=order, type=EventType.STOCK_RELEASED).data == {"units": 3}


def test_cancel_before_reservation_releases_nothing(product):
    order = order_in_status(S.PENDING_REVIEW, lines=[(product, 3)])
    services.cancel_order(order, reason="duplicate", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.stock_status == StockStatus.NONE
    assert level(product).reserved == 0
    assert EventType.STOCK_RELEASED not in event_types(order)


def test_hold_keeps_the_reservation(product):
    order = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 2)])
    services.hold_order(order, kind=HoldKind.DELAYED, reason="buyer asked to wait", actor=TEST_ACTOR)
    assert level(product).reserved == 2
    services.release_hold(order, actor=TEST_ACTOR)
    assert level(product).reserved == 2


def test_partial_shipment(product, warehouse):
    other = stocked_product(warehouse=warehouse, sku="CAP-BLUE", on_hand=10)
    order = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 3), (other, 1)])
    first, second = order.lines.order_by("pk")
    services.ship_order(
        order, carrier="SF", tracking_number="SF1", quantities={first.pk: 2}, actor=TEST_ACTOR
    )
    order.refresh_from_db()
    assert order.status == S.PARTIALLY_SHIPPED
    assert order.fulfillment_status == FulfillmentStatus.PARTIALLY_FULFILLED
    assert order.stock_status == StockStatus.RESERVED
    assert order.shipped_at is None
    assert (level(product).on_hand, level(product).reserved) == (98, 1)
    assert (level(other).on_hand, level(other).reserved) == (10, 1)

    services.ship_order(
        order, carrier="SF", tracking_number="SF2", quantities={second.pk: 1}, actor=TEST_ACTOR
    )
    order.refresh_from_db()
    assert order.status == S.PARTIALLY_SHIPPED
    assert (level(other).on_hand, level(other).reserved) == (9, 0)

    services.ship_order(order, carrier="SF", tracking_number="SF3", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert order.fulfillment_status == FulfillmentStatus.FULFILLED
    assert order.stock_status == StockStatus.DEDUCTED
    assert order.shipped_at is not None
    assert (level(product).on_hand, level(product).reserved) == (97, 0)
    assert order.shipments.count() == 3
    assert [(line.quantity_shipped, line.quantity_reserved) for line in order.lines.order_by("pk")] == [
        (3, 0),
        (1, 0),
    ]


def test_presale_waits_for_stock(warehouse):
    product = stocked_product(warehouse=warehouse, on_hand=0)
    order = make_order([(product, 2)], order_type=OrderType.PRESALE)
    services.record_payment(
        order, amount="5.00", method=PaymentMethod.WECHAT_PAY, actor=TEST_ACTOR
    )  # deposit
    order.refresh_from_db()
    assert order.status == S.PENDING_REVIEW

    services.confirm_order(order, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.status == S.AWAITING_SHIPMENT
    assert order.stock_status == StockStatus.WAITING
    assert order.exception_reason == ""
    assert level(product).reserved == 0
    assert order.lines.get().quantity_reserved == 0
    assert EventType.STOCK_SHORT in event_types(order)
    with pytest.raises(TransitionNotAllowed) as refused:
        services.ship_order(order, carrier="SF", tracking_number="SF1", actor=TEST_ACTOR)
    assert refused.value.code == "stock_not_reserved"


def test_normal_order_short_is_flagged_and_reserves_nothing(warehouse, snapshot):
    plenty = stocked_product(warehouse=warehouse, sku="A-PLENTY", on_hand=50)
    scarce = stocked_product(warehouse=warehouse, sku="B-SCARCE", on_hand=1)
    order = order_in_status(S.PENDING_REVIEW, lines=[(plenty, 5), (scarce, 2)])
    with pytest.raises(StockShortage) as short:
        services.confirm_order(order, actor=TEST_ACTOR)
    assert short.value.code == "stock_short"
    assert short.value.field == "lines"
    assert short.value.params["skus"] == ["B-SCARCE"]
    order.refresh_from_db()
    assert order.status == S.PENDING_REVIEW
    assert order.stock_status == StockStatus.NONE
    assert order.exception_reason == ExceptionReason.STOCK_SHORT
    assert "B-SCARCE" in order.exception_detail
    assert level(plenty).reserved == 0  # all or nothing: the line that fitted was not reserved either
    assert level(scarce).reserved == 0
    assert [line.quantity_reserved for line in order.lines.all()] == [0, 0]
    assert event_types(order)[-1] == EventType.EXCEPTION_FLAGGED
    assert EventType.STOCK_RESERVED not in event_types(order)


def test_restocked_order_confirms_after_a_shortage(warehouse):
    product = stocked_product(warehouse=warehouse, sku="LATE", on_hand=0)
    order = order_in_status(S.PENDING_REVIEW, lines=[(product, 2)])
    with pytest.raises(StockShortage):
        services.confirm_order(order, actor=TEST_ACTOR)
    services.adjust_stock(sku="LATE", warehouse_code="main", delta=5, reason="delivery", actor=TEST_ACTOR)
    services.confirm_order(order, actor=TEST_ACTOR)
    assert level(product).reserved == 2


def test_channel_default_warehouse_is_used(product):
    south = WarehouseFactory(code="south")
    stocked = stocked_product(warehouse=south, sku="SOUTH-ONLY", on_hand=5)
    channel = ChannelFactory(default_warehouse=south)
    order = make_order([(stocked, 1)], channel=channel)
    pay_in_full(order)
    services.confirm_order(order, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.warehouse == south
    assert level(stocked).reserved == 1


def test_first_warehouse_with_every_line_is_chosen(product):
    empty = WarehouseFactory(code="a-empty")
    full = WarehouseFactory(code="b-full")
    item = stocked_product(warehouse=empty, sku="ITEM", on_hand=0)
    StockLevel.objects.create(product=item, warehouse=full, on_hand=4)
    order = make_order([(item, 2)], warehouse=None)
    pay_in_full(order)
    services.confirm_order(order, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.warehouse == full
    assert level(item, full).reserved == 2


# --- adjustments -----------------------------------------------------------------------------------------


def test_adjust_stock_receives_and_writes_off(product):
    services.adjust_stock(
        sku=product.sku, warehouse_code="main", delta=20, reason="delivery", actor=TEST_ACTOR
    )
    assert level(product).on_hand == 120
    services.adjust_stock(
        sku=product.sku, warehouse_code="main", delta=-30, reason="damaged", actor=TEST_ACTOR
    )
    assert level(product).on_hand == 90


def test_adjust_stock_creates_the_row(warehouse):
    product = stocked_product(warehouse=WarehouseFactory(code="other"))
    row = services.adjust_stock(
        sku=product.sku, warehouse_code="main", delta=3, reason="found", actor=TEST_ACTOR
    )
    assert (row.warehouse, row.on_hand, row.reserved) == (warehouse, 3, 0)


def test_adjust_stock_cannot_remove_reserved_units(product, snapshot):
    order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 95)])
    before = snapshot()
    with pytest.raises(StockShortage) as short:
        services.adjust_stock(
            sku=product.sku, warehouse_code="main", delta=-6, reason="damaged", actor=TEST_ACTOR
        )
    assert (short.value.code, short.value.field) == ("stock_short", "delta")
    assert snapshot() == before
    services.adjust_stock(
        sku=product.sku, warehouse_code="main", delta=-5, reason="damaged", actor=TEST_ACTOR
    )
    assert (level(product).on_hand, level(product).reserved) == (95, 95)


@pytest.mark.parametrize(
    ("kwargs", "error", "code", "field"),
    [
        ({"reason": ""}, ValidationFailed, "reason_required", "reason"),
        ({"sku": "NOPE"}, NotFound, "unknown_sku", "sku"),
        ({"warehouse_code": "nowhere"}, NotFound, "unknown_warehouse", "warehouse"),
    ],
)
def test_adjust_stock_bad_input(product, snapshot, kwargs, error, code, field):
    before = snapshot()
    arguments = {"sku": product.sku, "warehouse_code": "main", "delta": 1, "reason": "count", **kwargs}
    with pytest.raises(error) as refused:
        services.adjust_stock(**arguments, actor=TEST_ACTOR)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert snapshot() == before


# --- what the database refuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"reserved": F("on_hand") + 1},
        {"on_hand": -1, "reserved": 0},
        {"reserved": -1},
        {"on_hand": F("reserved") - 1},
    ],
    ids=["reserved_over_on_hand", "negative_on_hand", "negative_reserved", "on_hand_below_reserved"],
)
def test_database_refuses_impossible_stock(product, change):
    StockLevel.objects.filter(product=product).update(reserved=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(product=product).update(**change)
    assert (level(product).on_hand, level(product).reserved) == (100, 10)


def test_database_refuses_a_second_row_per_warehouse(product, warehouse):
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.create(product=product, warehouse=warehouse)


def test_available(product):
    row = level(product)
    row.reserved = 30
    assert row.available == 70
    assert str(row) == "TEE-RED-M@main"
