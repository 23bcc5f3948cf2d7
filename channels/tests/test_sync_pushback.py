"""Push back of tracking numbers on ship (hook → batched task → adapter), and the completeness check."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.fernet import Fernet
from django.db import transaction

from channels.choices import PushbackStatus
from channels.models import Channel, ChannelOrder
from channels.services import check_completeness, push_back_channel, set_credentials, sync_channel
from channels.services.pushback import MAX_ATTEMPTS
from channels.tests.fake_platform import APP_SECRET
from oms.actors import Actor
from orders.choices import EventType
from orders.models import Order, Product, StockLevel, Warehouse
from orders.services import lock_order, reserve_order_stock, ship_order

pytestmark = pytest.mark.django_db(transaction=True)

KEY = Fernet.generate_key().decode()
T0 = dt.datetime(2025, 3, 1, 0, 0, tzinfo=dt.UTC)
CLERK = Actor.system("test")


@pytest.fixture(autouse=True)
def credentials_key(settings):
    settings.OMS_CREDENTIALS_KEY = KEY


@pytest.fixture
def site(fake_platform):
    """The website fake with 3 paid orders, and a synced channel pointed at it."""
    server = fake_platform("website")
    server.behaviour.add_orders(3, T0 + dt.timedelta(minutes=1), dt.timedelta(minutes=10))
    channel = Channel.objects.create(
        code="site", name="Site", platform="website", api_base_url=server.base_url
    )
    set_credentials(channel, app_key="site", app_secret=APP_SECRET)
    sync_channel(channel, since=T0, until=T0 + dt.timedelta(hours=6))
    return server, channel


def _ship(order: Order, tracking: str) -> None:
    warehouse, _ = Warehouse.objects.get_or_create(code="main", defaults={"name": "Main"})
    product = Product.objects.get(sku="SKU-1")
    StockLevel.objects.get_or_create(product=product, warehouse=warehouse, defaults={"on_hand": 100})
    Order.objects.filter(pk=order.pk).update(warehouse=warehouse)
    with transaction.atomic():
        reserve_order_stock(lock_order(order), actor=CLERK)
    ship_order(order, carrier="SF", tracking_number=tracking, actor=CLERK)


def test_shipping_pushes_the_tracking_number_to_the_platform(site):
    server, channel = site
    order = Order.objects.get(external_id="W10000")
    _ship(order, "SF1001")
    assert server.behaviour.shipments == [
        {"order_id": "W10000", "carrier_code": "SF", "tracking_number": "SF1001"}
    ]
    row = ChannelOrder.objects.get(order=order)
    assert (
        row.pushback_status == PushbackStatus.SUCCEEDED and row.pushback_attempts == 1 and row.pushed_back_at
    )
    assert order.events.filter(type=EventType.TRACKING_UPDATED, actor_label="site").exists()
    assert push_back_channel(channel) == {"pushed": 0, "failed": 0, "gave_up": 0}  # idempotent


def test_push_back_failures_are_retried_then_shown_on_the_order(site):
    server, channel = site
    set_credentials(channel, app_secret="wrong")
    order = Order.objects.get(external_id="W10001")
    _ship(order, "SF1002")
    row = ChannelOrder.objects.get(order=order)
    assert row.pushback_status == PushbackStatus.PENDING and row.pushback_attempts == 1
    assert "bad_signature" in row.pushback_error or "401" in row.pushback_error
    assert row.pushback_next_at is not None
    for _ in range(MAX_ATTEMPTS - 1):
        ChannelOrder.objects.filter(pk=row.pk).update(pushback_next_at=row.synced_at)  # make it due now
        push_back_channel(channel)
    row.refresh_from_db()
    assert row.pushback_status == PushbackStatus.FAILED and row.pushback_attempts == MAX_ATTEMPTS
    assert order.events.filter(type=EventType.TRACKING_UPDATED, data__pushback="failed").count() == 1
    assert server.behaviour.shipments == []


def test_completeness_compares_platform_and_oms_counts(site):
    server, channel = site
    day = dt.date(2025, 3, 1)
    check = check_completeness(channel, day)
    assert (check.platform_count, check.oms_count, check.missing, check.is_complete) == (3, 3, 0, True)
    server.behaviour.add_orders(1, T0 + dt.timedelta(hours=2), dt.timedelta(minutes=1))
    check = check_completeness(channel, day)
    assert (check.platform_count, check.oms_count, check.missing) == (4, 3, 1) and not check.is_complete
    assert ChannelOrder.objects.count() == 3
