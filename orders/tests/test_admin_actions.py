"""Bulk actions: each goes through a service and reports, per order, what was done and what was refused."""

from __future__ import annotations

import io

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from openpyxl import load_workbook

from oms.actors import Actor
from orders import services
from orders.choices import EventType, HoldKind, OrderStatus, StockStatus
from orders.models import Order, StockLevel, Tag
from orders.tests.factories import (
    UserFactory,
    WarehouseFactory,
    ensure_roles,
    make_order,
    order_in_status,
    stocked_product,
)

pytestmark = pytest.mark.django_db
LIST = "admin:orders_order_changelist"
ACTOR = Actor.system("tests")


@pytest.fixture(autouse=True)
def _role_groups(db):
    """The role groups (migration 0002) exist even after a transactional test flushed the database."""
    ensure_roles()


def login(client, *groups: str, username: str = "user"):
    user = UserFactory(username=username, groups=list(groups))
    client.force_login(user)
    return user


def run_action(client, action: str, orders, **extra):
    data = {"action": action, "_selected_action": [o.pk for o in orders], **extra}
    return client.post(reverse(LIST), data, follow=False)


def flashed(response) -> list[str]:
    return [str(m.message) for m in get_messages(response.wsgi_request)]


def status_of(order: Order) -> str:
    order.refresh_from_db()
    return order.status


def test_approve_reports_each_order_done_or_refused_with_the_reason(client):
    login(client, "clerk")
    good = order_in_status(OrderStatus.PENDING_REVIEW)
    unpaid = order_in_status(OrderStatus.PENDING_PAYMENT)
    short = make_order([(stocked_product(on_hand=1), 5)])
    services.record_payment(short, amount=short.total, method="alipay", actor=ACTOR)
    response = run_action(client, "approve_orders", [good, unpaid, short])
    assert response.status_code == 302
    messages = flashed(response)
    assert any(good.number in m and "1" in m for m in messages)
    refused = next(m for m in messages if unpaid.number in m)
    assert short.number in refused and short.lines.get().sku in refused  # the StockShortage message
    assert status_of(good) == OrderStatus.AWAITING_SHIPMENT
    assert status_of(unpaid) == OrderStatus.PENDING_PAYMENT
    assert status_of(short) == OrderStatus.PENDING_REVIEW


def test_approve_releases_review_holds_but_never_finance_holds(client):
    login(client, "clerk")
    review = order_in_status(OrderStatus.ON_HOLD, hold_kind=HoldKind.REVIEW)
    finance = order_in_status(OrderStatus.ON_HOLD, hold_kind=HoldKind.FINANCE)
    response = run_action(client, "approve_orders", [review, finance])
    assert status_of(review) == OrderStatus.AWAITING_SHIPMENT
    assert status_of(finance) == OrderStatus.ON_HOLD
    assert any(finance.number in m for m in flashed(response))


def test_finance_approve_needs_the_finance_permission(client):
    held = order_in_status(OrderStatus.ON_HOLD, hold_kind=HoldKind.FINANCE)
    login(client, "clerk", username="clerk")
    response = run_action(client, "finance_approve", [held])
    assert status_of(held) == OrderStatus.ON_HOLD  # not an action a clerk is offered
    assert response.status_code == 302
    client.logout()
    login(client, "finance", username="fin")
    run_action(client, "finance_approve", [held])
    assert status_of(held) == OrderStatus.PENDING_REVIEW


def test_hold_asks_for_kind_and_reason_then_holds_each_order(client):
    login(client, "clerk")
    orders = [order_in_status(OrderStatus.PENDING_REVIEW), order_in_status(OrderStatus.SHIPPED)]
    page = run_action(client, "hold_orders", orders)
    assert page.status_code == 200 and orders[0].number in page.content.decode()
    response = run_action(
        client, "hold_orders", orders, apply="1", kind=HoldKind.DELAYED, reason="buyer asked"
    )
    assert response.status_code == 302
    assert status_of(orders[0]) == OrderStatus.ON_HOLD
    orders[0].refresh_from_db()
    assert orders[0].hold_reason == "buyer asked"
    assert status_of(orders[1]) == OrderStatus.SHIPPED
    assert any(orders[1].number in m for m in flashed(response))


def test_hold_form_without_reason_is_shown_again(client):
    login(client, "clerk")
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    page = run_action(client, "hold_orders", [order], apply="1", kind=HoldKind.REVIEW, reason="")
    assert page.status_code == 200 and status_of(order) == OrderStatus.PENDING_REVIEW


def test_release_and_cancel(client):
    login(client, "clerk")
    held = order_in_status(OrderStatus.ON_HOLD)
    run_action(client, "release_holds", [held])
    assert status_of(held) == OrderStatus.PENDING_REVIEW
    run_action(client, "cancel_orders", [held], apply="1", reason="duplicate")
    held.refresh_from_db()
    assert held.status == OrderStatus.CANCELLED and held.cancel_reason == "duplicate"


def test_assign_warehouse_refuses_reserved_orders_unless_moving_the_reservation(client):
    login(client, "clerk")
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    line = order.lines.get()
    other = WarehouseFactory(code="east")
    StockLevel.objects.create(product=line.product, warehouse=other, on_hand=10)
    response = run_action(client, "assign_warehouse", [order], apply="1", warehouse=other.pk)
    refused = [m for m in flashed(response) if order.number in m and "<li>" in m]
    assert refused and str(other) not in refused[0].split("</a>")[0]
    order.refresh_from_db()
    assert order.warehouse_id != other.pk
    run_action(client, "assign_warehouse", [order], apply="1", warehouse=other.pk, move_reservation="on")
    order.refresh_from_db()
    assert order.warehouse_id == other.pk and order.stock_status == StockStatus.RESERVED
    assert StockLevel.objects.get(product=line.product, warehouse=other).reserved == line.quantity
    assert order.events.filter(type=EventType.WAREHOUSE_ASSIGNED).exists()


def test_add_and_remove_tag_write_events(client):
    login(client, "clerk")
    order = make_order()
    tag = Tag.objects.create(name="VIP")
    run_action(client, "add_tag", [order], apply="1", tag=tag.pk)
    assert list(order.tags.values_list("name", flat=True)) == ["VIP"]
    response = run_action(client, "add_tag", [order], apply="1", tag=tag.pk)
    assert any("no change" in m or "无需" in m or order.number in m for m in flashed(response))
    run_action(client, "remove_tag", [order], apply="1", tag=tag.pk)
    assert not order.tags.exists()
    assert order.events.filter(type=EventType.TAGS_CHANGED).count() == 2


def test_visible_buttons_submit_the_selection(client):
    login(client, "clerk")
    html = client.get(reverse(LIST)).content.decode()
    assert 'name="action" value="approve_orders"' in html
    # the buttons come before the dropdown, so response_action takes the pressed button's value first
    assert html.index('value="approve_orders"') < html.index('<select name="action"')
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    # a button posts action=<name> before the dropdown's empty action
    response = client.post(reverse(LIST), {"action": ["approve_orders", ""], "_selected_action": [order.pk]})
    assert response.status_code == 302 and status_of(order) == OrderStatus.AWAITING_SHIPMENT


def test_warehouse_user_sees_only_shipping_buttons(client):
    login(client, "warehouse")
    html = client.get(reverse(LIST)).content.decode()
    assert 'value="print_packing_slips"' in html and 'value="mark_shipped"' in html
    assert 'value="approve_orders"' not in html and 'value="hold_orders"' not in html


def test_mark_shipped_redirects_to_the_ship_page_with_the_selection(client):
    login(client, "warehouse")
    orders = [order_in_status(OrderStatus.AWAITING_SHIPMENT) for _n in range(2)]
    response = run_action(client, "mark_shipped", orders)
    assert response.status_code == 302 and reverse("admin:orders_order_ship") in response.url
    assert all(str(o.pk) in response.url for o in orders)


def test_export_xlsx_has_real_numbers_local_dates_and_neutralised_formulas(client):
    login(client, "clerk")
    order = make_order(buyer_name='=HYPERLINK("http://evil")', seller_note="@SUM(1)")
    response = run_action(client, "export_xlsx", [order])
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    values = list(row.values())
    assert order.number in values
    assert any(isinstance(v, float | int) and float(v) == float(order.total) for v in values)
    assert '\'=HYPERLINK("http://evil")' in values and "'@SUM(1)" in values
    placed = next(v for v in values if hasattr(v, "hour"))
    from django.utils import timezone

    assert placed.tzinfo is None
    assert placed.replace(microsecond=0) == timezone.localtime(order.placed_at).replace(
        tzinfo=None, microsecond=0
    )


def test_a_clerk_cannot_run_actions_they_are_not_given(client):
    login(client, "warehouse")
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    response = run_action(client, "approve_orders", [order])
    assert status_of(order) == OrderStatus.PENDING_REVIEW
    assert response.status_code in (200, 302)
