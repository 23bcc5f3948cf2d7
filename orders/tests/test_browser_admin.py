"""The admin in a real browser (Playwright + Debian Chromium against the live server).

A clerk finds the red exception order on top, notes and approves it, and ships a batch with tracking
numbers; a warehouse user prints packing slips; a finance user approves a finance review.
Screenshots go to var/screenshots/admin-*.png.
"""

from __future__ import annotations

import os

import pytest

from oms.actors import Actor
from orders import services
from orders.choices import EventType, ExceptionReason, HoldKind, OrderStatus
from orders.tests.factories import UserFactory, ensure_roles, order_in_status

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
