"""REST API: role permissions per endpoint, coded JSON errors, idempotency keys, service-backed actions."""

from __future__ import annotations

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders.choices import HoldKind, OrderStatus
from orders.models import Order, OrderEvent, Shipment, StockLevel
from orders.tests.factories import UserFactory, order_in_status, stocked_product

pytestmark = pytest.mark.django_db

READ = ["orders.view_order", "orders.view_product", "orders.view_stocklevel", "orders.view_shipment"]
ROLES = {
    "clerk": [
        *READ,
        "orders.add_order",
        "orders.change_order",
        "orders.review_order",
        "orders.hold_order",
        "orders.cancel_order",
    ],
    "warehouse": [*READ, "orders.ship_order", "orders.change_stocklevel", "orders.change_order"],
    "finance": [*READ, "orders.finance_review_order", "orders.hold_order", "orders.add_payment"],
    "integrator": [
        *READ,
        "orders.add_order",
        "orders.change_order",
        "orders.ship_order",
        "orders.review_order",
    ],
    "nobody": [],
}


def client_for(role: str) -> APIClient:
    """An API client authenticated with a token of a user holding the role's permissions."""
    user = UserFactory(username=f"api-{role}", perms=ROLES[role])
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_unauthenticated_requests_get_a_json_401():
    response = APIClient().get("/api/v1/orders/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("clerk", 200), ("warehouse", 200), ("finance", 200), ("integrator", 200), ("nobody", 403)],
)
def test_order_list_needs_view_permission(role, expected):
    order_in_status(OrderStatus.PENDING_REVIEW)
    response = client_for(role).get("/api/v1/orders/")
    assert response.status_code == expected
    if expected == 200:
        assert [row["status"] for row in response.json()["results"]] == ["pending_review"]
        assert "next" in response.json() and "count" not in response.json()


@pytest.mark.parametrize(
    ("role", "action", "payload", "expected"),
    [
        ("clerk", "confirm", {}, 200),
        ("warehouse", "confirm", {}, 403),
        ("finance", "confirm", {}, 403),
        ("clerk", "cancel", {"reason": "buyer asked"}, 200),
        ("warehouse", "cancel", {"reason": "buyer asked"}, 403),
        ("clerk", "hold", {"kind": "review", "reason": "check address"}, 200),
        ("warehouse", "hold", {"kind": "review", "reason": "check"}, 403),
    ],
)
def test_order_actions_follow_roles(role, action, payload, expected):
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    response = client_for(role).post(f"/api/v1/orders/{order.number}/{action}/", payload, format="json")
    assert response.status_code == expected, response.content
    order.refresh_from_db()
    if expected == 403:
        assert order.status == OrderStatus.PENDING_REVIEW
        assert response.json()["code"] == "permission_denied"


def test_ship_by_warehouse_and_refused_for_clerk():
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    refused = client_for("clerk").post(
        f"/api/v1/orders/{order.number}/ship/", {"carrier": "SF", "tracking_number": "SF1"}, format="json"
    )
    assert refused.status_code == 403
    shipped = client_for("warehouse").post(
        f"/api/v1/orders/{order.number}/ship/", {"carrier": "SF", "tracking_number": "SF1"}, format="json"
    )
    assert shipped.status_code == 200
    body = shipped.json()
    assert body["status"] == "shipped"
    assert body["shipments"][0]["tracking_number"] == "SF1"
    assert any(
        event["type"] == "shipment_created" and event["actor_kind"] == "api" for event in body["events"]
    )


def test_illegal_transition_returns_coded_conflict():
    order = order_in_status(OrderStatus.SHIPPED)
    response = client_for("clerk").post(
        f"/api/v1/orders/{order.number}/cancel/", {"reason": "late"}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {
        "code": "transition_not_allowed",
        "message": f"order {order.number} is shipped and cannot be cancelled",
        "field": "status",
    }


def test_finance_hold_is_released_only_by_finance():
    order = order_in_status(OrderStatus.ON_HOLD, hold_kind=HoldKind.FINANCE)
    clerk = client_for("clerk").post(f"/api/v1/orders/{order.number}/release/", {}, format="json")
    assert clerk.status_code == 403
    assert clerk.json()["code"] == "finance_permission_required"
    finance = client_for("finance").post(
        f"/api/v1/orders/{order.number}/release/", {"note": "ok"}, format="json"
    )
    assert finance.status_code == 200
    assert finance.json()["status"] == "pending_review"


def test_validation_errors_name_the_field():
    product = stocked_product()
    client = client_for("clerk")
    response = client.post("/api/v1/orders/", {"lines": [{"sku": product.sku, "quantity": 0}]}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "lines[1].quantity"
    unknown = client.post("/api/v1/orders/", {"lines": [{"sku": "NOPE", "quantity": 1}]}, format="json")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_sku"
    assert unknown.json()["field"] == "lines[1].sku"
    mismatch = client.post(
        "/api/v1/orders/", {"lines": [{"sku": product.sku, "quantity": 1}], "total": "99.00"}, format="json"
    )
    assert mismatch.json()["code"] == "amounts_mismatch"
    assert Order.objects.count() == 0


def test_idempotency_key_replays_the_first_response_and_writes_once():
    product = stocked_product()
    client = client_for("integrator")
    payload = {
        "lines": [{"sku": product.sku, "quantity": 2}],
        "buyer_phone": "13912345678",
        "receiver_name": "张三",
    }
    first = client.post("/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert json.loads(again.content) == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert OrderEvent.objects.filter(type="created").count() == 1
    other = client.post(
        "/api/v1/orders/", {**payload, "buyer_note": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    fresh = client.post("/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert fresh.status_code == 201
    assert Order.objects.count() == 2


def test_idempotency_key_replays_refusals_too():
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    client = client_for("warehouse")
    url = f"/api/v1/orders/{order.number}/ship/"
    body = {"carrier": "SF", "tracking_number": "SF9"}
    assert client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="ship-1").status_code == 200
    retry = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="ship-1")
    assert retry.status_code == 200
    assert Shipment.objects.filter(order=order).count() == 1


def test_stock_adjust_with_reason():
    product = stocked_product(on_hand=5)
    level = StockLevel.objects.get(product=product)
    client = client_for("warehouse")
    response = client.post(
        "/api/v1/stock-levels/adjust/",
        {"sku": product.sku, "warehouse": level.warehouse.code, "delta": 3, "reason": "received"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["on_hand"] == 8
    refused = client.post(
        "/api/v1/stock-levels/adjust/",
        {"sku": product.sku, "warehouse": level.warehouse.code, "delta": -100, "reason": "write off"},
        format="json",
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "stock_short"
    assert (
        client_for("clerk")
        .post(
            "/api/v1/stock-levels/adjust/",
            {"sku": product.sku, "warehouse": level.warehouse.code, "delta": 1, "reason": "x"},
            format="json",
        )
        .status_code
        == 403
    )


def test_shipment_tracking_update_is_on_the_timeline():
    order = order_in_status(OrderStatus.SHIPPED)
    shipment = order.shipments.get()
    client = client_for("warehouse")
    response = client.patch(f"/api/v1/shipments/{shipment.pk}/", {"tracking_number": "YT123"}, format="json")
    assert response.status_code == 200
    assert response.json()["tracking_number"] == "YT123"
    event = order.events.filter(type="tracking_updated").get()
    assert "YT123" in event.message
    delivered = client.patch(f"/api/v1/shipments/{shipment.pk}/", {"status": "delivered"}, format="json")
    assert delivered.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED


def test_order_filters_phone_suffix_and_status():
    order = order_in_status(OrderStatus.PENDING_REVIEW, buyer_phone="13912345678")
    order_in_status(OrderStatus.PENDING_PAYMENT, buyer_phone="13800000000")
    client = client_for("clerk")
    by_suffix = client.get("/api/v1/orders/?phone=5678").json()["results"]
    assert [row["number"] for row in by_suffix] == [order.number]
    by_status = client.get("/api/v1/orders/?status=pending_payment").json()["results"]
    assert [row["status"] for row in by_status] == ["pending_payment"]


def test_schema_and_docs_are_served_locally(client, admin_user):
    client.force_login(admin_user)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_nul_characters_are_refused_with_json():
    client = client_for("clerk")
    response = client.get("/api/v1/orders/?number=a%00b")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    body = client.post(
        "/api/v1/orders/", '{"lines": [{"sku": "a\\u0000", "quantity": 1}]}', content_type="application/json"
    )
    assert body.status_code == 400
