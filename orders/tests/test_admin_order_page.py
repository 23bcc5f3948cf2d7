"""The order page: timeline, quick note, buttons for exactly the legal moves, read-only status and prices."""

from __future__ import annotations

import pytest
from django.urls import reverse

from oms.actors import Actor
from orders import services
from orders.admin_views import transition_buttons
from orders.choices import EventType, ExceptionReason, HoldKind, OrderStatus
from orders.tests.factories import UserFactory, ensure_roles, make_order, order_in_status

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


@pytest.fixture(autouse=True)
def _role_groups(db):
    """The role groups (migration 0002) exist even after a transactional test flushed the database."""
    ensure_roles()


def change_url(order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


@pytest.fixture
def clerk(client):
    user = UserFactory(username="page-clerk", groups=["clerk"])
    client.force_login(user)
    return user


def test_timeline_is_newest_first_with_actor_and_time(client, clerk):
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    services.add_note(order, text="called the buyer", actor=Actor.for_user(clerk))
    response = client.get(change_url(order))
    events = response.context["oms_events"]
    assert events[0].type == EventType.NOTE_ADDED and events[-1].type == EventType.CREATED
    html = response.content.decode()
    assert "called the buyer" in html and "page-clerk" in html and 'class="oms-timeline"' in html


def test_quick_note_saves_through_add_note(client, clerk):
    order = make_order()
    response = client.post(
        reverse("admin:orders_order_note", args=[order.pk]), {"text": "fragile, pack well"}
    )
    assert response.status_code == 302 and response.url == change_url(order)
    note = order.events.get(type=EventType.NOTE_ADDED)
    assert note.message == "fragile, pack well" and note.actor_user == clerk


def test_buttons_are_exactly_the_legal_moves_the_user_may_make(client, clerk):
    review = order_in_status(OrderStatus.PENDING_REVIEW)
    targets = {b.target for b in transition_buttons(review, clerk)}
    assert targets == {OrderStatus.AWAITING_SHIPMENT, OrderStatus.ON_HOLD, OrderStatus.CANCELLED}
    finance_hold = order_in_status(OrderStatus.ON_HOLD, hold_kind=HoldKind.FINANCE)
    assert {b.target for b in transition_buttons(finance_hold, clerk)} == {OrderStatus.CANCELLED}
    finance = UserFactory(username="fin", groups=["finance"])
    assert {b.target for b in transition_buttons(finance_hold, finance)} == {OrderStatus.PENDING_REVIEW}
    html = client.get(change_url(review)).content.decode()
    assert 'data-target="awaiting_shipment"' in html and 'data-target="closed"' not in html


def test_approve_button_confirms_the_order(client, clerk):
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    url = reverse("admin:orders_order_transition", args=[order.pk])
    client.post(url, {"target": OrderStatus.AWAITING_SHIPMENT})
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT


def test_hold_button_needs_a_reason_and_illegal_or_forbidden_moves_are_refused(client, clerk):
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    url = reverse("admin:orders_order_transition", args=[order.pk])
    client.post(url, {"target": OrderStatus.ON_HOLD, "kind": HoldKind.REVIEW, "reason": ""})
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_REVIEW
    client.post(url, {"target": OrderStatus.ON_HOLD, "kind": HoldKind.REVIEW, "reason": "check address"})
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD and order.hold_reason == "check address"
    assert client.post(url, {"target": OrderStatus.DELIVERED}).status_code == 302  # not legal now: refused
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD


def test_clerk_cannot_approve_a_finance_review_from_the_page(client, clerk):
    order = order_in_status(OrderStatus.ON_HOLD, hold_kind=HoldKind.FINANCE)
    response = client.post(
        reverse("admin:orders_order_transition", args=[order.pk]), {"target": OrderStatus.PENDING_REVIEW}
    )
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD


def test_status_and_prices_are_read_only_and_address_edits_go_through_the_service(client, clerk):
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    response = client.get(change_url(order))
    form = response.context["adminform"].form
    for name in ("status", "payment_status", "total", "subtotal", "hold_kind"):
        assert name not in form.fields
    assert "street" in form.fields
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update({"street": "文一路 99 号"})
    for prefix in ("lines", "payments", "shipments"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(change_url(order), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    order.refresh_from_db()
    assert order.street == "文一路 99 号"
    event = order.events.get(type=EventType.UPDATED)
    assert event.data["changes"]["street"][1] == "文一路 99 号"


def test_shipped_orders_have_their_address_locked(client, clerk):
    order = order_in_status(OrderStatus.SHIPPED)
    form = client.get(change_url(order)).context["adminform"].form
    assert "street" not in form.fields


def test_exception_page_says_when_there_is_no_history_then_suggests_from_history(client, clerk):
    order = make_order()
    services.flag_exception(order, reason=ExceptionReason.ADDRESS_INCOMPLETE, actor=ACTOR)
    html = client.get(change_url(order)).content.decode()
    assert 'class="oms-suggestions"' not in html and "oms-exception-panel" in html
    past = make_order()
    services.flag_exception(past, reason=ExceptionReason.ADDRESS_INCOMPLETE, actor=ACTOR)
    client.post(
        reverse("admin:orders_order_resolve", args=[past.pk]), {"resolution": "edit_address", "note": "x"}
    )
    past.refresh_from_db()
    assert not past.exception_reason
    response = client.get(change_url(order))
    assert [s.resolution for s in response.context["oms_suggestions"]] == ["edit_address"]
    assert 'data-resolution="edit_address"' in response.content.decode()


def test_channel_payload_is_shown_when_the_order_has_one(client, clerk, monkeypatch):
    from orders.models import Order

    order = make_order()

    class FakeChannelOrder:
        payload = {"tid": "123", "buyer_nick": "小王"}

    monkeypatch.setattr(Order, "channel_order", FakeChannelOrder(), raising=False)
    html = client.get(change_url(order)).content.decode()
    assert "buyer_nick" in html and "小王" in html


def test_add_page_redirects_to_manual_entry(client, clerk):
    response = client.get(reverse("admin:orders_order_add"))
    assert response.status_code == 302 and response.url == reverse("admin:orders_order_manual")
