"""TikTok Shop adapter: Partner API version 202309 (`https://open-api.tiktokglobalshop.com`).

- Signing: query parameters except `sign` and `access_token`, sorted, concatenated as k + v; sign_text =
  app_secret + path + params + body (minified JSON, for non-multipart requests) + app_secret; sign =
  hex(HMAC-SHA256(app_secret, sign_text)). Access token in header `x-tts-access-token`; `shop_cipher` (from
  `Credentials.extra["shop_cipher"]`) in the query.
- Sync: `POST /order/202309/orders/search` with body `update_time_ge` / `update_time_lt` (Unix seconds),
  `sort_field=update_time`, `sort_order=ASC`, `page_size` 100 and the `page_token` cursor (forward until
  `next_page_token` is empty). `data.total_count` gives `count_orders`. There is no documented window cap;
  windows of 1 day keep resumable progress. Details: `GET /order/202309/orders?ids=...`.
- Errors: `{"code": non-zero, "message", "request_id"}`; HTTP 429 is retried (TikTok rate limits are not in
  our sources).
- Money: decimal strings in the shop's currency (e.g. VND "219000"); times Unix seconds.
- Line items are one per unit (quantity 1 each) with their own id, package and display_status.
- Push back: `POST /fulfillment/202309/packages/{package_id}/ship` with `self_shipment` {tracking_number,
  shipping_provider_id} for the order's single package (unverified against the API reference; orders split
  into several packages must be shipped package by package and are refused here).
- Webhooks: header `Authorization` = hex(HMAC-SHA256(app_secret, app_key + raw body)); the body's
  `tts_notification_id` is the delivery id. Order webhooks carry ids, not orders: `WebhookDelivery.order_ids`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from channels.adapters.base import (
    OrderAdapter,
    OrderPage,
    PlatformAddress,
    PlatformError,
    PlatformOrder,
    PlatformOrderLine,
    SignatureError,
    WebhookDelivery,
    dig,
    lower_headers,
    parse_json,
)
from channels.adapters.convert import ZERO, text, to_decimal, to_unix, unix_time
from channels.adapters.registry import register

SEARCH = "/order/202309/orders/search"
DETAIL = "/order/202309/orders"
WEBHOOK_TYPES = {
    1: "ORDER_STATUS_UPDATE",
    2: "REVERSE_ORDER_STATUS_UPDATE",
    3: "RECIPIENT_ADDRESS_UPDATE",
    4: "PACKAGE_UPDATE",
    5: "PRODUCT_AUDIT_RESULT_UPDATE",
}


def tts_sign(path: str, params: Mapping[str, Any], body: bytes, secret: str) -> str:
    """TikTok Shop 202309 request signature (see the module docstring)."""
    joined = "".join(f"{k}{params[k]}" for k in sorted(params) if k not in ("sign", "access_token"))
    sign_text = f"{secret}{path}{joined}".encode() + body + secret.encode()
    return hmac.new(secret.encode(), sign_text, hashlib.sha256).hexdigest()


@register
class TikTokAdapter(OrderAdapter):
    """TikTok Shop orders."""

    platform = "tiktok"
    default_base_url = "https://open-api.tiktokglobalshop.com"
    max_window = timedelta(days=1)
    overlap = timedelta(minutes=2)
    page_size = 100
    currency = ""
    default_status_map: ClassVar[dict[str, str]] = {
        "UNPAID": "pending_payment",
        "ON_HOLD": "pending_review",
        "AWAITING_SHIPMENT": "awaiting_shipment",
        "PARTIALLY_SHIPPING": "partially_shipped",
        "AWAITING_COLLECTION": "shipped",
        "IN_TRANSIT": "shipped",
        "DELIVERED": "delivered",
        "COMPLETED": "completed",
        "CANCELLED": "cancelled",
    }

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        """Send one signed call; returns `data` of a code-0 answer."""
        params: dict[str, Any] = {"app_key": self.credentials.app_key, "timestamp": str(int(time.time()))}
        if self.credentials.extra.get("shop_cipher"):
            params["shop_cipher"] = self.credentials.extra["shop_cipher"]
        params.update({k: str(v) for k, v in (query or {}).items() if v not in (None, "")})
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        params["sign"] = tts_sign(path, params, content, self.credentials.app_secret)
        headers = {"x-tts-access-token": self.credentials.access_token, "Content-Type": "application/json"}
        payload, _ = self._request(
            method,
            f"{self.base_url}{path}",
            params=params,
            content=content or None,
            headers=headers,
            what=path,
        )
        return dig(payload, "data", what=path)

    def _check_payload(self, payload: Any, response: httpx.Response, *, what: str) -> None:
        if isinstance(payload, dict) and payload.get("code") not in (0, None):
            raise PlatformError(
                f"{what}: TikTok error {payload.get('code')} {payload.get('message', '')}".strip(),
                platform_code=payload.get("code"),
            )

    def _search(self, start: datetime, end: datetime, page_size: int, page_token: str) -> dict:
        return self.call(
            "POST",
            SEARCH,
            query={
                "page_size": page_size,
                "page_token": page_token,
                "sort_field": "update_time",
                "sort_order": "ASC",
            },
            body={"update_time_ge": to_unix(start), "update_time_lt": to_unix(end)},
        )

    def _fetch_window(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        token = ""
        while True:
            data = self._search(start, end, self.page_size, token)
            raws = (
                (data.get("orders") or [])
                if data.get("total_count") == 0
                else dig(data, "orders", what=SEARCH)
            )
            next_token = text(data.get("next_page_token"))
            yield OrderPage(
                orders=self._parse_many(raws, what=SEARCH),
                window_start=start,
                window_end=end,
                cursor=token or None,
                next_cursor=next_token or None,
                has_more=bool(next_token),
                total=data.get("total_count"),
            )
            if not next_token:
                return
            if next_token == token:
                raise PlatformError(f"{SEARCH}: next_page_token did not advance")
            token = next_token

    def _count_window(self, start: datetime, end: datetime) -> int:
        return int(dig(self._search(start, end, 1, ""), "total_count", what=SEARCH))

    def _order_json(self, external_id: str) -> dict:
        orders = dig(self.call("GET", DETAIL, query={"ids": external_id}), "orders", what=DETAIL)
        if not orders:
            raise PlatformError(f"{DETAIL}: order {external_id} not found")
        return orders[0]

    def fetch_order(self, external_id: str) -> PlatformOrder:
        """One order's details via Get Order Detail."""
        return self._parse_one(self._order_json(external_id), what=DETAIL)

    def confirm_shipment(self, external_id: str, carrier_code: str, tracking_number: str) -> None:
        """Mark the order's package shipped; carrier_code is TikTok's shipping_provider_id."""
        packages = self._order_json(external_id).get("packages") or []
        if len(packages) != 1:
            raise PlatformError(f"order {external_id} has {len(packages)} packages; ship them one by one")
        path = f"/fulfillment/202309/packages/{packages[0]['id']}/ship"
        self.call(
            "POST",
            path,
            body={
                "self_shipment": {"tracking_number": tracking_number, "shipping_provider_id": carrier_code}
            },
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """Check `Authorization` = hex(HMAC-SHA256(app_secret, app_key + body)); expose tts_notification_id."""
        given = lower_headers(headers).get("authorization", "")
        message = self.credentials.app_key.encode() + body
        expected = hmac.new(self.credentials.app_secret.encode(), message, hashlib.sha256).hexdigest()
        if not given or not hmac.compare_digest(given.strip().lower(), expected):
            raise SignatureError("TikTok Authorization signature does not match the body")
        payload = parse_json(body, what="tiktok webhook")
        if not isinstance(payload, dict):
            raise SignatureError("TikTok webhook body is not an object")
        data = payload.get("data") or {}
        order_id = text(data.get("order_id"))
        kind = payload.get("type")
        delivery_id = text(payload.get("tts_notification_id")) or hashlib.sha256(body).hexdigest()
        return WebhookDelivery(
            delivery_id=delivery_id,
            topic=WEBHOOK_TYPES.get(kind, text(kind)),  # type: ignore[arg-type]
            order_ids=[order_id] if order_id else [],
            shop_id=text(payload.get("shop_id")),
            payload=payload,
        )

    def parse_order(self, raw: dict) -> PlatformOrder:
        """Map one 202309 order object to a PlatformOrder."""
        order_id = text(raw["id"])
        where = f"tiktok order {order_id}"
        payment = raw.get("payment") or {}
        currency = text(payment.get("currency"))
        lines = []
        for item in raw.get("line_items") or []:
            at = f"{where} line {item.get('id')}"
            discount = to_decimal(item.get("seller_discount"), field=f"{at} seller_discount") + to_decimal(
                item.get("platform_discount"), field=f"{at} platform_discount"
            )
            lines.append(
                PlatformOrderLine(
                    external_line_id=text(item["id"]),
                    sku_code=text(item.get("seller_sku") or item.get("sku_id")),
                    name=" - ".join(
                        p for p in (text(item.get("product_name")), text(item.get("sku_name"))) if p
                    ),
                    quantity=1,
                    unit_price=to_decimal(item.get("original_price"), field=f"{at} original_price"),
                    discount=discount,
                    total=to_decimal(item.get("sale_price"), field=f"{at} sale_price"),
                    platform_status=text(item.get("display_status")) or None,
                    raw=item,
                )
            )
            currency = currency or text(item.get("currency"))
        address = raw.get("recipient_address") or {}
        levels = {
            text(d.get("address_level")): text(d.get("address_name"))
            for d in address.get("district_info") or []
        }
        paid_at = unix_time(raw.get("paid_time"), field=f"{where} paid_time")
        total = to_decimal(payment.get("total_amount"), field=f"{where} total_amount")
        discount = to_decimal(payment.get("seller_discount"), field=f"{where} seller_discount") + to_decimal(
            payment.get("platform_discount"), field=f"{where} platform_discount"
        )
        return PlatformOrder(
            external_id=order_id,
            platform_status=text(raw["status"]),
            created_at=unix_time(raw.get("create_time"), field=f"{where} create_time"),
            updated_at=unix_time(raw.get("update_time"), field=f"{where} update_time"),
            paid_at=paid_at,
            shipped_at=unix_time(raw.get("collection_time"), field=f"{where} collection_time"),
            buyer_id=text(raw.get("user_id")),
            buyer_email=text(raw.get("buyer_email")),
            address=PlatformAddress(
                receiver=text(address.get("name")),
                phone=text(address.get("phone_number")),
                province=levels.get("L1", ""),
                city=levels.get("L2", ""),
                district=levels.get("L3", ""),
                street=text(address.get("address_detail")),
                postcode=text(address.get("postal_code")),
                country=text(address.get("region_code")),
            ),
            lines=lines,
            subtotal=to_decimal(payment.get("original_total_product_price"), field=f"{where} product price"),
            discount=discount,
            shipping=to_decimal(payment.get("shipping_fee"), field=f"{where} shipping_fee"),
            tax=to_decimal(payment.get("tax"), field=f"{where} tax"),
            total=total,
            paid_amount=total if paid_at else ZERO,
            currency=currency,
            buyer_note=text(raw.get("buyer_message")),
            seller_note=text(raw.get("seller_note")),
            raw=raw,
        )
