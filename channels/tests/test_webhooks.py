"""Webhooks: signature on the raw body, dedupe by delivery id, fast 202, processing in a (inline) task."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from cryptography.fernet import Fernet

from channels.adapters.shopify import shopify_hmac
from channels.adapters.website import body_signature
from channels.choices import WebhookStatus
from channels.models import Channel, ChannelOrder, WebhookDelivery
from channels.services import set_credentials
from channels.tests.fake_platform_handlers import website_order
from orders.choices import EventType, OrderStatus
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "website-shared-secret"
KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def credentials_key(settings):
    """Tests run with DEBUG off, so the credentials key must come from settings as in production."""
    settings.OMS_CREDENTIALS_KEY = KEY


@pytest.fixture
def site() -> Channel:
    """The merchant's own website channel with its shared webhook secret."""
    channel = Channel.objects.create(
        code="site", name="Web shop", platform="website", api_base_url="http://127.0.0.1:9"
    )
    set_credentials(channel, app_key="site", app_secret=SECRET)
    return channel


def website_push(
    orders: list[dict], *, delivery_id: str | None = None, sent_at: int | None = None, secret=SECRET
):
    """Body and headers of a website push, signed as the website spec says."""
    delivery_id = delivery_id or str(uuid.uuid4())
    sent_at = int(time.time()) if sent_at is None else sent_at
    body = json.dumps(
        {"delivery_id": delivery_id, "sent_at": sent_at, "topic": "order.updated", "orders": orders}
    ).encode()
    headers = {
        "HTTP_X_OMS_DELIVERY_ID": delivery_id,
        "HTTP_X_OMS_TIMESTAMP": str(sent_at),
        "HTTP_X_OMS_SIGNATURE": body_signature(body, secret),
    }
    return body, headers


def post(client, code: str, body: bytes, headers: dict):
    return client.post(f"/channels/{code}/webhook/", data=body, content_type="application/json", **headers)


def _order(index: int, **changes) -> dict:
    import datetime as dt

    raw = website_order(index, dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=index))
    raw.update(changes)
    return raw


def test_signed_push_is_accepted_and_processed(client, site):
    body, headers = website_push([_order(1), _order(2)])
    response = post(client, "site", body, headers)
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookStatus.PROCESSED and delivery.topic == "order.updated"
    assert Order.objects.filter(channel=site).count() == 2
    order = Order.objects.get(external_id="W10001")
    assert order.status == OrderStatus.AWAITING_SHIPMENT and order.total == order.paid_amount
    assert ChannelOrder.objects.get(external_id="W10001").raw["id"] == "W10001"


def test_forged_signature_is_refused_and_logged_without_the_secret(client, site):
    body, headers = website_push([_order(1)], secret="not-the-secret")
    response = post(client, "site", body, headers)
    assert response.status_code == 401
    row = WebhookDelivery.objects.get()
    assert row.status == WebhookStatus.REFUSED and "signature" in row.reason
    assert SECRET not in row.reason and row.payload == {}
    assert not Order.objects.exists()


def test_repeated_delivery_is_acknowledged_logged_and_not_processed_again(client, site):
    body, headers = website_push([_order(1)])
    assert post(client, "site", body, headers).status_code == 202
    again = post(client, "site", body, headers)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert (
        WebhookDelivery.objects.filter(status=WebhookStatus.REFUSED, reason__startswith="duplicate").count()
        == 1
    )
    assert Order.objects.count() == 1
    assert Order.objects.get().events.filter(type=EventType.SYNCED).count() == 1


def test_old_delivery_outside_the_replay_window_is_refused(client, site):
    body, headers = website_push([_order(1)], sent_at=int(time.time()) - 3600)
    assert post(client, "site", body, headers).status_code == 401
    assert not Order.objects.exists()


def test_update_push_moves_the_order_through_the_state_machine(client, site):
    post(client, "site", *website_push([_order(1)]))
    later = _order(1, status="cancelled", updated_at="2025-03-01T13:00:00+00:00")
    assert post(client, "site", *website_push([later])).status_code == 202
    order = Order.objects.get(external_id="W10001")
    assert order.status == OrderStatus.CANCELLED
    assert order.events.filter(type=EventType.STATUS_CHANGED, actor_label="site").count() == 1


def test_stale_push_does_not_undo_a_newer_state(client, site):
    post(
        client, "site", *website_push([_order(1, status="cancelled", updated_at="2025-03-01T13:00:00+00:00")])
    )
    post(client, "site", *website_push([_order(1)]))  # an older version arriving late
    assert ChannelOrder.objects.get(external_id="W10001").platform_status == "cancelled"


def test_unknown_channel_is_404_and_get_is_405(client, site):
    body, headers = website_push([_order(1)])
    assert post(client, "nope", body, headers).status_code == 404
    assert client.get("/channels/site/webhook/").status_code == 405


def test_shopify_hmac_on_raw_body(client, samples_dir):
    raw = json.loads(
        (samples_dir / "platforms" / "shopify_rest_2025-07_order_get_450789469.json").read_text()
    )["order"]
    channel = Channel.objects.create(
        code="shop",
        name="Shopify",
        platform="shopify",
        currency=raw.get("currency") or "USD",
        api_base_url="http://127.0.0.1:9",
    )
    set_credentials(channel, app_key="k", app_secret="shopify-secret")
    body = json.dumps(raw).encode()
    headers = {
        "HTTP_X_SHOPIFY_HMAC_SHA256": shopify_hmac(body, "shopify-secret"),
        "HTTP_X_SHOPIFY_WEBHOOK_ID": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "HTTP_X_SHOPIFY_TOPIC": "orders/updated",
    }
    assert post(client, "shop", body, headers).status_code == 202
    assert post(client, "shop", body, headers).status_code == 200
    tampered = body.replace(b'"id"', b'"id" ', 1)
    assert post(client, "shop", tampered, headers).status_code == 401
    delivery = WebhookDelivery.objects.get(status__in=[WebhookStatus.PROCESSED, WebhookStatus.FAILED])
    assert delivery.status == WebhookStatus.PROCESSED, delivery.reason
    assert ChannelOrder.objects.filter(channel=channel, external_id=str(raw["id"])).exists()
