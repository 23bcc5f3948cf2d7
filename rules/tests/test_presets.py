"""The four presets end to end, through the real order services, as a manager switches them on."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from oms.actors import Actor, ActorKind
from orders import services as order_services
from orders.choices import EventType, HoldKind, OrderStatus, OrderType, StockStatus
from orders.models import OrderEvent
from orders.tests.factories import make_order, pay_in_full, stocked_product
from rules import services
from rules.models import Coupon, Notification, OutboxStatus, RestrictedRegion, RuleRun
from rules.tests import fake_aliyun

pytestmark = pytest.mark.django_db


def enable(code: str):
    return services.create_rule_from_preset(code, enabled=True)


def test_large_order_is_on_finance_hold_inside_the_creating_transaction():
    rule = enable("finance_review_large_order")
    product = stocked_product(price=Decimal("6000.00"))
    with transaction.atomic():
        order = make_order([(product, 1)])
        order.refresh_from_db()
        # Before commit: nobody can see this order without its hold.
        assert order.status == OrderStatus.ON_HOLD
        assert order.hold_kind == HoldKind.FINANCE
        assert order.hold_reason == "Order total above 5,000"
        assert order.held_from_status == OrderStatus.PENDING_PAYMENT
    run = RuleRun.objects.get(rule=rule, order=order)
    assert run.trigger_key == "created" and run.matched and not run.errors
    assert run.actions_done == [
        {"position": 1, "type": "hold_for_review", "result": "on hold: Finance review"}
    ]
    fired = OrderEvent.objects.get(order=order, type=EventType.RULE_FIRED)
    assert fired.actor_kind == ActorKind.RULE and fired.actor_label == rule.name
    hold = OrderEvent.objects.get(order=order, type=EventType.HOLD_SET)
    assert hold.actor_kind == ActorKind.RULE


def test_an_order_of_5000_exactly_is_not_held():
    enable("finance_review_large_order")
    order = make_order([(stocked_product(price=Decimal("2500.00")), 2)])
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not RuleRun.objects.exists()


def test_restricted_region_is_delayed_and_the_customer_gets_an_sms_through_aliyun(
    settings, django_capture_on_commit_callbacks
):
    RestrictedRegion.objects.get_or_create(province="西藏自治区")  # seeded by the data migration too
    RestrictedRegion.objects.create(province="四川省", city="甘孜藏族自治州")
    enable("restricted_region_delay")
    with fake_aliyun.FakeAliyun() as aliyun:
        settings.OMS_SMS_BACKEND = "aliyun"
        settings.OMS_ALIYUN_SMS = {
            "access_key_id": fake_aliyun.ACCESS_KEY_ID,
            "access_key_secret": fake_aliyun.ACCESS_KEY_SECRET,
            "sign_name": "OMS商城",
            "template_code": "SMS_0001",
            "endpoint": aliyun.url,
        }
        with django_capture_on_commit_callbacks(execute=True):
            order = make_order(province="西藏", city="拉萨市", district="城关区", buyer_phone="138 0013 8000")
        order.refresh_from_db()
        assert order.status == OrderStatus.ON_HOLD and order.hold_kind == HoldKind.DELAYED
        notification = Notification.objects.get(order=order)
        assert notification.status == OutboxStatus.SENT, notification.last_error
        assert notification.backend == "aliyun" and notification.provider_id == "biz-1"
        [sent] = aliyun.messages
        assert sent["PhoneNumbers"] == "13800138000"
        assert sent["SignName"] == "OMS商城" and sent["TemplateCode"] == "SMS_0001"
        assert order.number in json.loads(sent["TemplateParam"])["content"]
    assert OrderEvent.objects.filter(order=order, type=EventType.NOTIFICATION_SENT).exists()

    other = make_order(province="四川省", city="成都市", district="武侯区")
    other.refresh_from_db()
    assert other.status == OrderStatus.PENDING_PAYMENT


def test_a_city_in_the_restricted_list_matches_but_an_inactive_entry_does_not():
    RestrictedRegion.objects.create(province="四川省", city="甘孜藏族自治州")
    RestrictedRegion.objects.create(province="青海省", is_active=False)
    enable("restricted_region_delay")
    held = make_order(province="四川", city="甘孜藏族自治州", district="康定市")
    free = make_order(province="青海省", city="西宁市", district="城中区")
    held.refresh_from_db()
    free.refresh_from_db()
    assert held.status == OrderStatus.ON_HOLD
    assert free.status == OrderStatus.PENDING_PAYMENT


def test_third_order_in_30_days_earns_a_coupon_and_a_message(django_capture_on_commit_callbacks):
    rule = enable("third_order_coupon")
    product = stocked_product()
    now = timezone.now()

    def order(days_ago: float = 0, phone: str = "13711112222"):
        return make_order([(product, 1)], buyer_phone=phone, placed_at=now - dt.timedelta(days=days_ago))

    with django_capture_on_commit_callbacks(execute=True):
        outside, second, third = order(40), order(20), order(10)
    assert not Coupon.objects.exists(), "the order 40 days ago is outside the window: 2 in 30 days"
    with django_capture_on_commit_callbacks(execute=True):
        earning = order()
        fifth = order()
        other_customer = order(phone="13799990000")
    coupon = Coupon.objects.get()
    assert coupon.order == earning and coupon.customer == earning.customer
    assert coupon.amount == Decimal("10.00") and coupon.rule == rule and not coupon.is_redeemed
    assert coupon.valid_until - coupon.issued_at == dt.timedelta(days=30)
    notification = Notification.objects.get(order=earning)
    assert notification.status == OutboxStatus.SENT and notification.backend == "console"
    assert coupon.code in notification.body and "10 yuan" in notification.body
    assert not Notification.objects.filter(order__in=[outside, second, third, fifth, other_customer]).exists()


def test_a_cancelled_order_does_not_count_towards_the_coupon():
    enable("third_order_coupon")
    product = stocked_product()
    first = make_order([(product, 1)], buyer_phone="13600000001")
    order_services.cancel_order(first, reason="changed mind", actor=Actor.system("tests"))
    make_order([(product, 1)], buyer_phone="13600000001")
    make_order([(product, 1)], buyer_phone="13600000001")
    assert not Coupon.objects.exists()
    make_order([(product, 1)], buyer_phone="13600000001")
    assert Coupon.objects.count() == 1


def test_an_out_of_stock_line_makes_a_presale_that_waits_for_stock():
    enable("out_of_stock_presale")
    product = stocked_product(on_hand=1)
    order = make_order([(product, 5)])
    order.refresh_from_db()
    assert order.order_type == OrderType.PRESALE
    assert not order.exception_reason
    pay_in_full(order)
    order_services.confirm_order(order, actor=Actor.system("tests"))
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT
    assert order.stock_status == StockStatus.WAITING
    assert not order.exception_reason

    in_stock = make_order([(product, 1)])
    in_stock.refresh_from_db()
    assert in_stock.order_type == OrderType.NORMAL


def test_presets_are_created_disabled_by_default():
    rule = services.create_rule_from_preset("finance_review_large_order")
    again = services.create_rule_from_preset("finance_review_large_order")
    assert not rule.enabled and rule.preset == "finance_review_large_order"
    assert again.name != rule.name and again.name.startswith("Finance review for large orders (")
    order = make_order([(stocked_product(price=Decimal("6000")), 1)])
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
