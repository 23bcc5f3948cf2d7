"""Webhook verification on the raw body: valid signatures accepted, forged ones refused, delivery ids exposed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC

import pytest

from channels.adapters import get_adapter_class
from channels.adapters.base import AdapterError, Credentials, SignatureError

SECRET = "hush-client-secret"
CREDS = Credentials(app_key="app-123", app_secret=SECRET, shop_id="jsmith.myshopify.com")


def _shopify_headers(body: bytes, *, topic: str = "orders/updated", secret: str = SECRET) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Shop-Domain": "jsmith.myshopify.com",
        "X-Shopify-API-Version": "2025-07",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    }


@pytest.fixture
def shopify_body(samples_dir) -> bytes:
    """A real orders/* webhook body: the 2025-07 order object, exactly as published (raw bytes)."""
    order = json.loads(
        (samples_dir / "platforms" / "shopify_rest_2025-07_order_get_450789469.json").read_text()
    )
    return json.dumps(order["order"], indent=1).encode()


def test_shopify_valid_hmac_is_accepted_and_exposes_the_delivery_id(shopify_body):
    adapter = get_adapter_class("shopify")(CREDS)
    delivery = adapter.verify_webhook(_shopify_headers(shopify_body), shopify_body)
    assert delivery.delivery_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert delivery.topic == "orders/updated"
    assert delivery.shop_id == "jsmith.myshopify.com"
    assert [o.external_id for o in delivery.orders] == ["450789469"]
    assert str(delivery.orders[0].total) == "598.94"


def test_shopify_headers_are_case_insensitive(shopify_body):
    headers = {k.lower(): v for k, v in _shopify_headers(shopify_body).items()}
    assert get_adapter_class("shopify")(CREDS).verify_webhook(headers, shopify_body).delivery_id


@pytest.mark.parametrize(
    "forge",
    [
        lambda h, b: (_shopify_headers(b, secret="not-the-secret"), b),  # wrong key
        lambda h, b: (h, b.replace(b"598.94", b"  0.01")),  # body tampered after signing
        lambda h, b: (h, json.dumps(json.loads(b)).encode()),  # re-serialised JSON is not the raw body
        lambda h, b: ({k: v for k, v in h.items() if k != "X-Shopify-Hmac-Sha256"}, b),  # no signature
        lambda h, b: ({k: v for k, v in h.items() if k != "X-Shopify-Webhook-Id"}, b),  # no delivery id
    ],
)
def test_shopify_forged_deliveries_are_refused(shopify_body, forge):
    headers, body = forge(_shopify_headers(shopify_body), shopify_body)
    with pytest.raises(SignatureError):
        get_adapter_class("shopify")(CREDS).verify_webhook(headers, body)


def test_shopify_order_delete_carries_only_the_id():
    body = b'{"id":450789469}'
    delivery = get_adapter_class("shopify")(CREDS).verify_webhook(
        _shopify_headers(body, topic="orders/delete"), body
    )
    assert (delivery.orders, delivery.order_ids) == ([], ["450789469"])


def _tiktok(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": hmac.new(secret.encode(), b"app-123" + body, hashlib.sha256).hexdigest()}


TIKTOK_BODY = (
    b'{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621",'
    b'"timestamp":1644412885,"data":{"order_id":"580247046106350725","order_status":"AWAITING_SHIPMENT",'
    b'"update_time":1644412885}}'
)


def test_tiktok_valid_signature_is_accepted():
    delivery = get_adapter_class("tiktok")(CREDS).verify_webhook(_tiktok(TIKTOK_BODY), TIKTOK_BODY)
    assert delivery.delivery_id == "7327112393057371910"
    assert delivery.topic == "ORDER_STATUS_UPDATE"
    assert delivery.order_ids == ["580247046106350725"]
    assert delivery.shop_id == "7494049642642441621"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (_tiktok(TIKTOK_BODY, secret="wrong"), TIKTOK_BODY),
        (_tiktok(TIKTOK_BODY), TIKTOK_BODY.replace(b"AWAITING_SHIPMENT", b"CANCELLED")),
        ({}, TIKTOK_BODY),
    ],
)
def test_tiktok_forged_deliveries_are_refused(headers, body):
    with pytest.raises(SignatureError):
        get_adapter_class("tiktok")(CREDS).verify_webhook(headers, body)


NOW = 1_740_800_000


def _website(delivery_id: str = "d-1", sent_at: int = NOW) -> bytes:
    from datetime import datetime

    from channels.tests.fake_platform_handlers import website_order

    order = website_order(1, datetime(2025, 3, 1, 11, 0, tzinfo=UTC))
    return json.dumps(
        {"delivery_id": delivery_id, "sent_at": sent_at, "topic": "order.updated", "orders": [order]},
        ensure_ascii=False,
    ).encode()


def _website_headers(body: bytes, *, secret: str = SECRET, delivery_id: str = "d-1", ts: int = NOW) -> dict:
    return {
        "X-OMS-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "X-OMS-Delivery-Id": delivery_id,
        "X-OMS-Timestamp": str(ts),
    }


def _website_adapter(now: float = NOW):
    return get_adapter_class("website")(CREDS, "https://shop.example.com/oms/v1", clock=lambda: now)


def test_website_valid_delivery_is_accepted():
    body = _website()
    delivery = _website_adapter(NOW + 60).verify_webhook(_website_headers(body), body)
    assert delivery.delivery_id == "d-1"
    assert delivery.topic == "order.updated"
    (order,) = delivery.orders
    assert (order.external_id, order.platform_status, str(order.total)) == ("W10001", "paid", "196.00")
    assert [(x.sku_code, x.quantity, str(x.total)) for x in order.lines] == [("SKU-1", 2, "188.00")]


@pytest.mark.parametrize(
    ("headers_kwargs", "now", "match"),
    [
        ({"secret": "wrong"}, NOW, "X-OMS-Signature"),
        ({"delivery_id": "d-2"}, NOW, "Delivery-Id"),
        ({"ts": NOW + 1}, NOW, "Timestamp"),
        ({}, NOW + 301, "replay"),
        ({}, NOW - 301, "replay"),
    ],
)
def test_website_forged_or_replayed_deliveries_are_refused(headers_kwargs, now, match):
    body = _website()
    with pytest.raises(SignatureError, match=match):
        _website_adapter(now).verify_webhook(_website_headers(body, **headers_kwargs), body)


@pytest.mark.parametrize("platform", ["taobao", "tmall", "jd", "pinduoduo", "douyin", "wechat"])
def test_platforms_without_http_push_refuse_webhooks(platform):
    with pytest.raises(AdapterError) as caught:
        get_adapter_class(platform)(CREDS).verify_webhook({}, b"{}")
    assert caught.value.code == "webhook_unsupported"
