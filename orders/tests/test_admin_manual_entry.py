"""Manual order entry: customer by phone with their usual address, SKU lookup, create_order's coded errors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.choices import EventType, OrderStatus, PaymentStatus
from orders.models import Order
from orders.tests.factories import UserFactory, ensure_roles, make_order, stocked_product

pytestmark = pytest.mark.django_db
MANUAL = "admin:orders_order_manual"


@pytest.fixture(autouse=True)
def _role_groups(db):
    """The role groups (migration 0002) exist even after a transactional test flushed the database."""
    ensure_roles()


@pytest.fixture
def clerk(client):
    user = UserFactory(username="phone-clerk", groups=["clerk"])
    client.force_login(user)
    return user


def form_data(**overrides) -> dict:
    data = {
        "order_type": "normal",
        "buyer_phone": "13700001234",
        "buyer_name": "王五",
        "receiver_name": "王五",
        "receiver_phone": "13700001234",
        "province": "上海市",
        "city": "上海市",
        "district": "徐汇区",
        "street": "漕溪北路 1 号",
        "shipping_fee": "10.00",
        "discount": "0",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100",
    }
    data.update(overrides)
    return data


def test_customer_lookup_returns_the_most_used_address_first(client, clerk):
    product = stocked_product()
    make_order([(product, 1)], buyer_phone="13700001234", street="旧地址 1 号")
    for _n in range(2):
        make_order([(product, 1)], buyer_phone="13700001234", street="常用地址 8 号")
    data = client.get(reverse("admin:orders_order_customer_lookup"), {"phone": "+86 137-0000-1234"}).json()
    assert data["found"] and data["orders"] == 3
    assert data["addresses"][0]["street"] == "常用地址 8 号" and data["addresses"][0]["use_count"] == 2
    assert client.get(reverse("admin:orders_order_customer_lookup"), {"phone": "13799999999"}).json() == {
        "found": False,
        "phone": "13799999999",
    }


def test_sku_lookup_gives_price_and_available_stock(client, clerk):
    stocked_product(sku="MUG-BLUE", on_hand=7, price="25.50")
    results = client.get(reverse("admin:orders_order_sku_lookup"), {"q": "mug"}).json()["results"]
    assert results == [{"sku": "MUG-BLUE", "name": results[0]["name"], "price": "25.50", "available": 7}]


def test_manual_order_is_created_through_create_order_with_payment(client, clerk):
    stocked_product(sku="MUG-BLUE", price="25.50")
    data = form_data(
        **{
            "lines-0-sku": "MUG-BLUE",
            "lines-0-quantity": "2",
            "payment_method": "bank_transfer",
            "payment_amount": "61.00",
        }
    )
    response = client.post(reverse(MANUAL), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    assert (
        order.total == 61
        and order.status == OrderStatus.PENDING_REVIEW
        and order.payment_status == PaymentStatus.PAID
    )
    assert order.events.filter(type=EventType.CREATED, actor_user=clerk).exists()
    assert response.url == reverse("admin:orders_order_change", args=[order.pk])


def test_service_errors_are_shown_next_to_the_line_with_their_code(client, clerk):
    stocked_product(sku="MUG-BLUE")
    data = form_data(**{"lines-0-sku": "MUG-BLUE", "lines-1-sku": "NOPE-404", "lines-1-quantity": "1"})
    response = client.post(reverse(MANUAL), data)
    assert response.status_code == 200
    formset = response.context["formset"]
    assert "unknown_sku" in str(formset.forms[1].errors["sku"])
    assert not Order.objects.exists()
    data = form_data(**{"lines-0-sku": "MUG-BLUE", "discount": "999"})
    response = client.post(reverse(MANUAL), data)
    assert "amounts_mismatch" in str(response.context["form"].errors)


def test_manual_entry_page_renders_and_needs_add_permission(client, clerk):
    html = client.get(reverse(MANUAL)).content.decode()
    assert "oms/js/manual_order.js" in html and 'id="oms-address-choice"' in html
    client.force_login(UserFactory(username="wh", groups=["warehouse"]))
    assert client.get(reverse(MANUAL)).status_code == 403
    assert client.get(reverse("admin:orders_order_sku_lookup"), {"q": "x"}).status_code == 403
