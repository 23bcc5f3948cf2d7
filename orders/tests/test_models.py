"""Model invariants: append-only events, database constraints, derived properties, and test infrastructure."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from oms.actors import Actor, ActorKind
from orders import services
from orders.choices import EventType, OrderStatus
from orders.models import Order, OrderEvent, OrderLine, Payment
from orders.services.events import event_row
from orders.tests.factories import (
    TEST_ACTOR,
    ChannelFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    order_in_status,
)

pytestmark = pytest.mark.django_db
D = Decimal


# --- events are append-only ------------------------------------------------------------------------------


@pytest.fixture
def event():
    order = OrderFactory()
    return services.record_event(
        order, type=EventType.NOTE_ADDED, actor=TEST_ACTOR, message="hello", amount=D("1.50")
    )


def test_record_event_stores_actor_and_jsonable_data(clerk):
    order = OrderFactory()
    stored = services.record_event(
        order, type=EventType.UPDATED, actor=Actor.for_user(clerk), total=D("9.90"), tags=("a",)
    )
    stored.refresh_from_db()
    assert (stored.actor_kind, stored.actor_user, stored.actor_label) == (ActorKind.USER, clerk, "clerk")
    assert stored.data == {"total": "9.90", "tags": ["a"]}
    assert str(stored) == f"{order.pk} updated"


def test_saving_an_existing_event_is_refused(event):
    event.message = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    event.refresh_from_db()
    assert event.message == "hello"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    with pytest.raises(ValueError, match="append-only"):
        OrderEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(ValueError, match="append-only"):
        OrderEvent.objects.filter(pk=event.pk).update(message="rewritten")
    assert OrderEvent.objects.get(pk=event.pk).message == "hello"


def test_events_go_with_their_order(event):
    Order.objects.filter(pk=event.order_id).delete()
    assert not OrderEvent.objects.filter(pk=event.pk).exists()


def test_event_rows_for_bulk_paths():
    order = OrderFactory()
    rows = [
        event_row(order.pk, type=EventType.IMPORTED, actor=Actor.importer("a.xlsx"), row=n) for n in range(3)
    ]
    OrderEvent.objects.bulk_create(rows)
    assert list(order.events.order_by("pk").values_list("actor_label", "data")) == [
        ("a.xlsx", {"row": 0}),
        ("a.xlsx", {"row": 1}),
        ("a.xlsx", {"row": 2}),
    ]


# --- constraints -----------------------------------------------------------------------------------------


def refused(model, **changes) -> None:
    """Assert the database refuses `changes` on every row of `model` (a direct UPDATE, no services)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.update(**changes)


def test_order_constraints():
    OrderFactory(lines=1)
    refused(Order, status="teleported")
    refused(Order, payment_status="maybe")
    refused(Order, fulfillment_status="lost")
    refused(Order, order_type="barter")
    refused(Order, total=D("-1"))
    refused(Order, paid_amount=D("-0.01"))
    refused(Order, status=OrderStatus.ON_HOLD, hold_kind="")


def test_order_line_constraints():
    OrderFactory(lines=1)
    refused(OrderLine, quantity=0)
    refused(OrderLine, quantity_reserved=2)
    refused(OrderLine, quantity_shipped=2)
    refused(OrderLine, unit_price=D("-1"))


def test_payment_amount_must_be_positive():
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    assert Payment.objects.filter(order=order).exists()
    refused(Payment, amount=D("0"))


def test_product_price_not_negative():
    ProductFactory()
    refused(ProductFactory._meta.model, price=D("-1"))


def test_external_id_unique_per_channel_in_the_database():
    shop = ChannelFactory()
    OrderFactory(channel=shop, external_id="E1")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(channel=shop, external_id="E1")
    OrderFactory(channel=shop, external_id="")
    OrderFactory(channel=shop, external_id="")


# --- derived properties ----------------------------------------------------------------------------------


def test_order_properties():
    order = OrderFactory.build(number="SO1", total=D("100"), paid_amount=D("30"), refunded_amount=D("10"))
    assert str(order) == "SO1"
    assert order.outstanding_amount == D("80")
    assert order.full_address == "浙江省杭州市西湖区文三路 1 号"
    assert order.address_is_complete
    order.city = ""
    assert not order.address_is_complete
    assert not order.is_held
    assert OrderFactory.build(total=D("0")).outstanding_amount == D("0")


def test_order_factory_lines_add_up():
    order = OrderFactory(lines=[(ProductFactory(price=D("12.50")), 2), (ProductFactory(price=D("1")), 3)])
    assert order.total == D("28.00")
    assert Order.objects.get(pk=order.pk).total == D("28.00")
    line = OrderLineFactory(quantity=4)
    assert str(line) == f"{line.sku} × 4"


# --- test infrastructure ---------------------------------------------------------------------------------


def test_tasks_run_inline():
    """The root conftest turns on django-q2's sync mode: async_task runs the function at once."""
    from django_q.tasks import async_task, result

    task_id = async_task("math.floor", 2.5)
    assert result(task_id) == 2
