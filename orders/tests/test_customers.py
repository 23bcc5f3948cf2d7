"""Customer dedupe: phone in any format, else email (any case), else channel buyer id; address memory."""

from __future__ import annotations

import pytest

from orders.models import Customer, CustomerAddress
from orders.services.customers import customer_dedupe_key, find_or_create_customer, normalize_phone
from orders.tests.factories import ChannelFactory, make_order


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+86 139-1234-5678", "13912345678"),
        ("13912345678", "13912345678"),
        ("'13912345678", "13912345678"),
        ("13912345678.0", "13912345678"),
        ("0086 139 1234 5678", "13912345678"),
        ("86-13912345678", "13912345678"),
        (" (139) 1234 5678 ", "13912345678"),
        ("139****5678", "139****5678"),
        ("139 **** 5678", "139****5678"),
        ("", ""),
        (None, ""),
        ("010-8888 6666", "01088886666"),
    ],
)
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected


def test_dedupe_key_prefers_phone_then_email_then_buyer_id():
    assert customer_dedupe_key(phone="139 1234 5678", email="a@b.c", buyer_id="x") == "phone:13912345678"
    assert customer_dedupe_key(phone="139****5678", email=" A@B.C ", buyer_id="x") == "email:a@b.c"
    assert (
        customer_dedupe_key(phone="139****5678", channel_code="tmall", buyer_id="tb_1") == "buyer:tmall:tb_1"
    )
    assert customer_dedupe_key(phone="139****5678") == ""


@pytest.mark.django_db
def test_same_phone_in_different_formats_is_one_customer(product):
    orders = [
        make_order([(product, 1)], buyer_phone=phone, buyer_name=name)
        for phone, name in [("+86 139-1234-5678", "张三"), ("13912345678", "三"), ("'13912345678", "")]
    ]
    assert {order.customer_id for order in orders} == {orders[0].customer_id}
    customer = Customer.objects.get()
    assert (customer.phone, customer.name, customer.dedupe_key) == (
        "13912345678",
        "张三",
        "phone:13912345678",
    )
    assert customer.orders.count() == 3


@pytest.mark.django_db
def test_receiver_phone_identifies_when_the_buyer_phone_is_missing(product):
    first = make_order([(product, 1)], buyer_phone="", receiver_phone="139 1234 5678")
    second = make_order([(product, 1)], buyer_phone="13912345678")
    assert first.customer_id == second.customer_id


@pytest.mark.django_db
def test_email_identifies_case_insensitively(product):
    first = make_order([(product, 1)], buyer_phone="", receiver_phone="", buyer_email="Li.Si@Example.COM")
    second = make_order([(product, 1)], buyer_phone="", receiver_phone="", buyer_email=" li.si@example.com ")
    assert first.customer_id == second.customer_id
    assert Customer.objects.get().email == "li.si@example.com"


@pytest.mark.django_db
def test_channel_buyer_id_identifies_within_its_channel(product):
    tmall, jd = ChannelFactory(code="tmall"), ChannelFactory(code="jd")
    masked = {"buyer_phone": "139****5678", "receiver_phone": "139****5678"}
    a = make_order([(product, 1)], channel=tmall, buyer_id="tb_77", **masked)
    b = make_order([(product, 1)], channel=tmall, buyer_id="tb_77", **masked)
    c = make_order([(product, 1)], channel=jd, buyer_id="tb_77", **masked)
    assert a.customer_id == b.customer_id != c.customer_id
    assert a.customer.channel_buyer_id == "tb_77" and a.customer.channel == tmall


@pytest.mark.django_db
def test_masked_phones_do_not_merge(product):
    shop = ChannelFactory(code="tmall")
    masked = {"buyer_phone": "139****5678", "receiver_phone": "139****5678"}
    a = make_order([(product, 1)], channel=shop, buyer_id="tb_1", **masked)
    b = make_order([(product, 1)], channel=shop, buyer_id="tb_2", **masked)
    anonymous = make_order([(product, 1)], channel=shop, **masked)
    assert a.customer_id != b.customer_id
    assert anonymous.customer is None
    assert Customer.objects.count() == 2


@pytest.mark.django_db
def test_find_or_create_customer_returns_the_existing_row():
    first = find_or_create_customer(name="王五", phone="+86 13700000000")
    again = find_or_create_customer(name="other", phone="137-0000-0000")
    assert first == again
    assert find_or_create_customer() is None


@pytest.mark.django_db
def test_addresses_are_remembered_and_ranked_by_use(product):
    for street in ["文三路 1 号", "文三路 1 号", "天目山路 9 号"]:
        make_order([(product, 1)], buyer_phone="13912345678", street=street)
    customer = Customer.objects.get()
    ranked = list(customer.addresses.values_list("street", "use_count"))
    assert ranked == [("文三路 1 号", 2), ("天目山路 9 号", 1)]
    assert CustomerAddress.objects.filter(last_used_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_no_address_is_remembered_without_a_street(product):
    make_order([(product, 1)], buyer_phone="13912345678", street="")
    assert CustomerAddress.objects.count() == 0
