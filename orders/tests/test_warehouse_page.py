"""The warehouse page for phones: find by scan, ship, note; permissions; a real browser at 390×844."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.choices import OrderStatus
from orders.tests.factories import UserFactory, order_in_status

WAREHOUSE_PERMS = ["orders.view_order", "orders.ship_order"]


@pytest.fixture
def warehouse_user(db):
    return UserFactory(username="picker", perms=WAREHOUSE_PERMS)


@pytest.mark.django_db
def test_scan_finds_the_order_by_number_and_by_tracking_number(client, warehouse_user):
    client.force_login(warehouse_user)
    order = order_in_status(OrderStatus.SHIPPED)
    response = client.get(reverse("warehouse:home"), {"q": order.number})
    assert response.status_code == 302 and response.url.endswith(f"/orders/{order.number}/")
    tracking = order.shipments.get().tracking_number
    assert client.get(reverse("warehouse:home"), {"q": tracking}).url.endswith(f"/orders/{order.number}/")
    missing = client.get(reverse("warehouse:home"), {"q": "NOPE"})
    assert "NOPE" in missing.content.decode()


@pytest.mark.django_db
def test_ship_and_note_from_the_phone_page(client, warehouse_user):
    client.force_login(warehouse_user)
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    url = reverse("warehouse:order", args=[order.number])
    client.post(url, {"ship": "1", "ship-carrier": "SF", "ship-tracking_number": "SF777"})
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert order.shipments.get().tracking_number == "SF777"
    client.post(url, {"note": "1", "note-text": "box dented"})
    note = order.events.get(type="note_added")
    assert note.message == "box dented" and note.actor_user == warehouse_user


@pytest.mark.django_db
def test_held_order_cannot_be_shipped_from_the_phone(client, warehouse_user):
    client.force_login(warehouse_user)
    order = order_in_status(OrderStatus.ON_HOLD, from_status=OrderStatus.AWAITING_SHIPMENT)
    response = client.post(
        reverse("warehouse:order", args=[order.number]),
        {"ship": "1", "ship-carrier": "SF", "ship-tracking_number": "SF1"},
        follow=True,
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    assert "on hold" in response.content.decode()


@pytest.mark.django_db
def test_only_warehouse_role_gets_in(client):
    client.force_login(UserFactory(username="clerk", perms=["orders.view_order"]))
    assert client.get(reverse("warehouse:home")).status_code == 403


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_phone_sized_warehouse_flow(live_server, browser_page, screenshot):
    UserFactory(username="picker", perms=WAREHOUSE_PERMS)
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    page = browser_page(390, 844, is_mobile=True, has_touch=True)
    page.goto(f"{live_server.url}/admin/login/?next=/warehouse/")
    page.fill("input[name=username]", "picker")
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit], input[type=submit]")
    page.fill("#q", order.number)
    page.click("text=Find order")
    page.wait_for_url(f"**/warehouse/orders/{order.number}/")
    button = page.locator("button.ship")
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300, "large touch target"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no horizontal scrolling"
    page.select_option("select[name=ship-carrier]", "ZTO")
    page.fill("input[name=ship-tracking_number]", "ZT123456")
    screenshot(page, "warehouse-phone-before-ship")
    button.click()
    page.wait_for_selector(".msg.success")
    screenshot(page, "warehouse-phone-shipped")
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
