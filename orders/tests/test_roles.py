"""Role groups from the data migration, and the boundaries each role meets in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from orders.choices import HoldKind, OrderStatus
from orders.roles import ROLES, sync_roles
from orders.tests.factories import ProductFactory, UserFactory, ensure_roles, order_in_status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _role_groups(db):
    """The role groups (migration 0002) exist even after a transactional test flushed the database."""
    ensure_roles()


def user_in(client, role: str):
    user = UserFactory(username=f"u-{role}", groups=[role])
    client.force_login(user)
    return user


def test_migration_created_every_role_group_with_its_permissions():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    perms = {
        name: {
            f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=name).permissions.all()
        }
        for name in ROLES
    }
    assert {
        "orders.review_order",
        "orders.hold_order",
        "orders.cancel_order",
        "orders.change_order",
    } <= perms["clerk"]
    assert "orders.finance_review_order" not in perms["clerk"] and "orders.ship_order" not in perms["clerk"]
    assert {"orders.ship_order", "orders.change_stocklevel", "orders.view_order"} <= perms["warehouse"]
    assert (
        not {"orders.change_order", "orders.change_product", "orders.change_orderline"} & perms["warehouse"]
    )
    assert {"orders.finance_review_order", "orders.add_payment"} <= perms["finance"]
    assert "orders.review_order" not in perms["finance"]
    assert {"orders.finance_review_order", "orders.ship_order", "channels.change_channel"} <= perms["manager"]
    assert {"orders.add_order", "orders.ship_order"} <= perms["integrator"]


def test_sync_roles_is_idempotent_and_keeps_hand_added_permissions():
    clerk = Group.objects.get(name="clerk")
    from django.contrib.auth.models import Permission

    extra = Permission.objects.get(codename="delete_tag")
    clerk.permissions.add(extra)
    assert all(count == 0 for count in sync_roles().values())
    assert clerk.permissions.filter(pk=extra.pk).exists()


def test_clerk_cannot_approve_finance_review(client):
    user_in(client, "clerk")
    order = order_in_status(OrderStatus.ON_HOLD, hold_kind=HoldKind.FINANCE)
    changelist = reverse("admin:orders_order_changelist")
    client.post(changelist, {"action": "finance_approve", "_selected_action": [order.pk]})
    client.post(changelist, {"action": "release_holds", "_selected_action": [order.pk]})
    transition = reverse("admin:orders_order_transition", args=[order.pk])
    assert client.post(transition, {"target": OrderStatus.PENDING_REVIEW}).status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD


def test_clerk_cannot_ship_or_print(client):
    user_in(client, "clerk")
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    assert client.get(reverse("admin:orders_order_ship"), {"ids": order.pk}).status_code == 403
    assert client.get(reverse("admin:orders_order_print"), {"ids": order.pk}).status_code == 403


def test_warehouse_cannot_edit_orders_prices_or_products(client):
    user_in(client, "warehouse")
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    product = ProductFactory()
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    response = client.post(reverse("admin:orders_order_change", args=[order.pk]), {"street": "x"})
    assert response.status_code == 403
    assert (
        client.post(reverse("admin:orders_product_change", args=[product.pk]), {"price": "0.01"}).status_code
        == 403
    )
    product.refresh_from_db()
    assert str(product.price) == "10.00"
    assert client.get(reverse("admin:orders_order_manual")).status_code == 403
    transition = reverse("admin:orders_order_transition", args=[order.pk])
    assert client.post(transition, {"target": OrderStatus.CANCELLED, "reason": "x"}).status_code == 403


def test_warehouse_can_ship_and_print(client):
    user_in(client, "warehouse")
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    assert client.get(reverse("admin:orders_order_print"), {"ids": order.pk}).status_code == 200
    client.post(
        reverse("admin:orders_order_ship"), {"ids": order.pk, "carrier": "SF", f"tracking-{order.pk}": "SF1"}
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_finance_can_approve_finance_review_but_not_review_orders(client):
    user_in(client, "finance")
    held = order_in_status(OrderStatus.ON_HOLD, hold_kind=HoldKind.FINANCE)
    review = order_in_status(OrderStatus.PENDING_REVIEW)
    changelist = reverse("admin:orders_order_changelist")
    client.post(changelist, {"action": "approve_orders", "_selected_action": [review.pk]})
    review.refresh_from_db()
    assert review.status == OrderStatus.PENDING_REVIEW
    client.post(
        reverse("admin:orders_order_transition", args=[held.pk]), {"target": OrderStatus.PENDING_REVIEW}
    )
    held.refresh_from_db()
    assert held.status == OrderStatus.PENDING_REVIEW


def test_a_user_without_a_role_gets_403_on_every_order_page(client):
    client.force_login(UserFactory(username="nobody"))
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    for url in (
        reverse("admin:orders_order_changelist"),
        reverse("admin:orders_order_change", args=[order.pk]),
        reverse("admin:orders_order_manual"),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("admin:orders_order_note", args=[order.pk]), {"text": "x"}).status_code in (
        403,
        404,
    )


def test_home_page_shows_work_queues_with_counts_for_staff(client):
    user_in(client, "clerk")
    order_in_status(OrderStatus.PENDING_REVIEW)
    html = client.get(reverse("admin:index")).content.decode()
    assert 'data-queue="review"' in html and 'data-queue="exceptions"' in html and "has_exception=yes" in html
    queues = {q["code"]: q["count"] for q in client.get(reverse("admin:index")).context["work_queues"]}
    assert queues["review"] == 1 and set(queues) == {
        "review",
        "finance",
        "ship",
        "exceptions",
        "hold",
        "presale",
    }
