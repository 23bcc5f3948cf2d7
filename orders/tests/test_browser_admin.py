"""The admin in a real browser (Playwright + Debian Chromium against the live server).

A clerk finds the red exception order on top, notes and approves it, and ships a batch with tracking
numbers; a clerk takes a phone order (customer by phone, their usual address, SKU price and stock, live
totals); a warehouse user prints packing slips; a finance user approves a finance review.
Screenshots go to var/screenshots/admin-*.png.
"""

from __future__ import annotations

import os

import pytest

from oms.actors import Actor
from orders import services
from orders.choices import EventType, ExceptionReason, HoldKind, OrderStatus
from orders.models import Order
from orders.tests.factories import UserFactory, ensure_roles, make_order, order_in_status, stocked_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
PASSWORD = "pw-for-tests"


@pytest.fixture(autouse=True)
def _role_groups(transactional_db):
    ensure_roles()


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{live_server.url}/admin/")


def select_rows(page, orders) -> None:
    for order in orders:
        page.locator(f"tr:has-text('{order.number}') input.action-select").check()


def test_clerk_day(live_server, browser_page, screenshot, chromium_path):
    UserFactory(username="clerk1", groups=["clerk"], perms=["orders.ship_order"])
    calm = order_in_status(OrderStatus.PENDING_REVIEW)
    flagged = order_in_status(OrderStatus.PENDING_REVIEW)
    services.flag_exception(flagged, reason=ExceptionReason.SUSPECTED_DUPLICATE, actor=Actor.system("rules"))
    batch = [order_in_status(OrderStatus.AWAITING_SHIPMENT) for _n in range(2)]

    page = browser_page()
    log_in(page, live_server, "clerk1")
    page.goto(f"{live_server.url}/admin/orders/order/?o=-6")  # any sort: the exception stays on top
    first_row = page.locator("#result_list tbody tr").first
    assert flagged.number in first_row.inner_text()
    background = first_row.evaluate("row => getComputedStyle(row).backgroundColor")
    assert background == "rgb(254, 242, 242)"  # red
    assert calm.number not in first_row.inner_text()
    screenshot(page, "admin-clerk-list")

    page.click(f"a:has-text('{flagged.number}')")
    page.fill("#oms-note", "same buyer ordered twice, checked by phone")
    page.press("#oms-note", "Enter")
    page.wait_for_selector("text=same buyer ordered twice")
    page.click("button[data-target=awaiting_shipment]")
    page.wait_for_load_state()
    flagged.refresh_from_db()
    assert flagged.status == OrderStatus.AWAITING_SHIPMENT
    assert flagged.events.filter(type=EventType.NOTE_ADDED, actor_user__username="clerk1").exists()
    screenshot(page, "admin-clerk-order")

    page.goto(f"{live_server.url}/admin/orders/order/?status__exact=awaiting_shipment")
    select_rows(page, batch)
    page.click("button[data-action=mark_shipped]")
    page.wait_for_selector("#oms-ship-form")
    page.fill("input[name=carrier]", "SF")
    for index, order in enumerate(batch):
        page.fill(f"input[name=tracking-{order.pk}]", f"SF70000{index}")
    screenshot(page, "admin-clerk-ship")
    page.click("#oms-ship-form button[name=ship]")
    page.wait_for_url(f"{live_server.url}/admin/orders/order/")
    for index, order in enumerate(batch):
        order.refresh_from_db()
        assert order.status == OrderStatus.SHIPPED
        assert order.shipments.get().tracking_number == f"SF70000{index}"


def test_clerk_enters_a_phone_order(live_server, browser_page, screenshot, chromium_path):
    UserFactory(username="clerk2", groups=["clerk"])
    mug = stocked_product(sku="MUG-BLUE", on_hand=3, price="25.50")
    make_order([(mug, 1)], buyer_phone="13700001234", buyer_name="王五", street="旧地址 1 号")
    for _n in range(2):
        make_order([(mug, 1)], buyer_phone="13700001234", buyer_name="王五", street="常用地址 8 号")
    Order.objects.update(status=OrderStatus.COMPLETED)  # history only; its stock is not the point here
    page = browser_page()
    log_in(page, live_server, "clerk2")
    page.goto(f"{live_server.url}/admin/orders/order/")
    page.click("a:has-text('New phone / offline order')")
    page.wait_for_selector("#oms-manual-order")

    page.fill("input[name=buyer_phone]", "137 0000 1234")
    page.press("input[name=buyer_phone]", "Tab")
    page.wait_for_function("document.getElementById('oms-customer-status').textContent.includes('3')")
    assert page.input_value("input[name=buyer_name]") == "王五"
    assert page.input_value("input[name=street]") == "常用地址 8 号"  # the most used address, filled in
    assert page.locator("#oms-address-choice option").count() == 2

    page.fill("input[name=lines-0-sku]", "MUG-BLUE")
    page.wait_for_function("document.querySelector('[name=lines-0-unit_price]').value === '25.50'")
    page.fill("input[name=lines-0-quantity]", "4")
    stock = page.locator("tr.oms-line").first.locator(".oms-line-stock")
    assert "oms-error" in stock.get_attribute("class")  # 3 available, 4 wanted
    page.fill("input[name=lines-0-quantity]", "2")
    assert "oms-ok" in stock.get_attribute("class")
    page.fill("input[name=shipping_fee]", "10")
    assert page.locator("tr.oms-line").first.locator(".oms-line-total").inner_text() == "51.00"
    assert page.inner_text("#oms-total") == "61.00"
    page.select_option("#oms-address-choice", index=1)
    assert page.input_value("input[name=street]") == "旧地址 1 号"  # changed by the clerk
    screenshot(page, "admin-clerk-phone-order")

    page.click("#oms-manual-order button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/orders/order/*/change/")
    order = Order.objects.latest("pk")
    assert (order.buyer_phone, order.street, order.total) == ("13700001234", "旧地址 1 号", 61)
    assert [(line.sku, line.quantity) for line in order.lines.all()] == [("MUG-BLUE", 2)]


def test_warehouse_prints_packing_slips(live_server, browser_page, screenshot, chromium_path):
    UserFactory(username="picker1", groups=["warehouse"])
    orders = [order_in_status(OrderStatus.AWAITING_SHIPMENT) for _n in range(2)]
    page = browser_page()
    log_in(page, live_server, "picker1")
    page.click("a[data-queue=ship]")
    select_rows(page, orders)
    page.click("button[data-action=print_packing_slips]")
    page.wait_for_selector("section.sheet")
    assert page.locator("section.sheet").count() == 2
    assert page.locator("section.sheet svg.barcode").count() == 2
    screenshot(page, "admin-warehouse-packing-slips")


def test_finance_approves_a_finance_review(live_server, browser_page, screenshot, chromium_path):
    UserFactory(username="finance1", groups=["finance"])
    held = order_in_status(OrderStatus.ON_HOLD, hold_kind=HoldKind.FINANCE)
    page = browser_page()
    log_in(page, live_server, "finance1")
    page.click("a[data-queue=finance]")
    select_rows(page, [held])
    page.click("button[data-action=finance_approve]")
    page.wait_for_load_state()
    held.refresh_from_db()
    assert held.status == OrderStatus.PENDING_REVIEW
    screenshot(page, "admin-finance-approved")
