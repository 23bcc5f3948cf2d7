"""The merchant's own website: a JSON order feed that OMS defines (webhook push + pull endpoint).

Specification (version 1) — what a website must implement to sell through OMS:

Order JSON (the same object in webhooks and pull pages)::

    {
      "id": "W10001",                       # the site's order number, unique, string
      "status": "paid",                     # pending_payment | paid | partially_shipped | shipped | delivered
                                            # | completed | cancelled | refunded
      "created_at": "2025-03-01T10:15:00+08:00",   # ISO 8601 with offset (all times)
      "updated_at": "...", "paid_at": "..." | null, "shipped_at": ... | null, "completed_at": ... | null,
      "currency": "CNY",
      "customer": {"id": "c-17", "name": "张三", "phone": "13800000000", "email": "a@example.com"},
      "shipping_address": {"name": "张三", "phone": "...", "province": "浙江省", "city": "杭州市",
                           "district": "西湖区", "street": "文三路 1 号", "postcode": "310000", "country": "CN"},
      "lines": [{"id": "L1", "sku": "SKU-1", "name": "...", "quantity": 2, "unit_price": "99.00",
                 "discount": "10.00", "total": "188.00", "status": null}],
      "subtotal": "198.00", "discount": "10.00", "shipping": "8.00", "tax": "0.00",
      "total": "196.00", "paid_amount": "196.00",  # money: decimal strings in major units (yuan)
      "buyer_note": "", "seller_note": ""
    }

Webhook (site -> OMS): `POST` to the channel's webhook URL, body `{"delivery_id": "<uuid>", "sent_at": <unix
seconds>, "topic": "order.created|order.updated", "orders": [...]}` with headers `X-OMS-Delivery-Id` (= body
delivery_id), `X-OMS-Timestamp` (= body sent_at) and `X-OMS-Signature` = lower-case hex HMAC-SHA256 of the raw
body bytes with the shared secret. OMS refuses a bad signature, headers that disagree with the signed body,
and a `sent_at` more than 5 minutes from OMS's clock (replay window); a repeated delivery id is acknowledged
but not processed twice.

Pull (OMS -> site): `GET {base_url}/orders?updated_from=<ISO>&updated_to=<ISO>&limit=500[&cursor=<opaque>]`,
answered `{"orders": [...], "next_cursor": "<opaque>" | null, "total": <int>}` (orders with updated_from <=
updated_at <= updated_to). `limit` is at most 500 (OMS asks for 500: one page is one transaction on the OMS
side, so fewer, larger pages sync faster); a site may answer with fewer orders and a next_cursor. Ship confirm: `POST {base_url}/orders/{id}/shipments` with `{"carrier_code": ...,
"tracking_number": ...}`, answered `{"ok": true}`. Both requests carry `X-OMS-Timestamp` and
`X-OMS-Signature` = hex HMAC-SHA256(secret, "<timestamp>\\n<METHOD>\\n<path?query>\\n<raw body>"); the site
refuses a bad signature (401 `{"error": "bad_signature"}`) or a timestamp outside 5 minutes. 429 with
Retry-After and 5xx are retried by OMS with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import httpx

from channels.adapters.base import (
    Credentials,
    MalformedResponse,
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
from channels.adapters.convert import iso_time, require_aware, text, to_decimal
from channels.adapters.registry import register

REPLAY_WINDOW = timedelta(minutes=5)


def body_signature(body: bytes, secret: str) -> str:
    """Webhook signature: hex HMAC-SHA256(secret, raw body)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_signature(timestamp: str, method: str, path_and_query: str, body: bytes, secret: str) -> str:
    """Pull/ship request signature: hex HMAC-SHA256(secret, "ts\\nMETHOD\\npath?query\\nbody")."""
    message = f"{timestamp}\n{method.upper()}\n{path_and_query}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@register
class WebsiteAdapter(OrderAdapter):
    """The merchant's own web shop, speaking the OMS feed format above."""

    platform = "website"
    max_window = timedelta(days=7)
    overlap = timedelta(minutes=2)
    page_size = 500
    default_status_map: ClassVar[dict[str, str]] = {
        "pending_payment": "pending_payment",
        "paid": "awaiting_shipment",
        "partially_shipped": "partially_shipped",
        "shipped": "shipped",
        "delivered": "delivered",
        "completed": "completed",
        "cancelled": "cancelled",
        "refunded": "closed",
    }

    def __init__(
        self,
        credentials: Credentials,
        base_url: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(credentials, base_url or credentials.extra.get("base_url", ""), **kwargs)
        self._clock = clock

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        """One signed call to the site's feed API."""
        path_and_query = urlsplit(self.base_url).path + path
        if query:
            path_and_query += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        content = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        timestamp = str(int(self._clock()))
        signature = request_signature(timestamp, method, path_and_query, content, self.credentials.app_secret)
        origin = self.base_url[: len(self.base_url) - len(urlsplit(self.base_url).path)]
        payload, _ = self._request(
            method,
            origin + path_and_query,
            content=content or None,
            headers={
                "X-OMS-Timestamp": timestamp,
                "X-OMS-Signature": signature,
                "Content-Type": "application/json",
            },
            what=f"{method} {path}",
        )
        return payload

    def _check_payload(self, payload: Any, response: httpx.Response, *, what: str) -> None:
        if response.status_code >= 400:
            error = payload.get("error") if isinstance(payload, dict) else None
            raise PlatformError(f"{what}: HTTP {response.status_code} {error}", platform_code=error)

    def _query(self, start: datetime, end: datetime, limit: int, cursor: str | None) -> dict[str, Any]:
        return {
            "updated_from": require_aware(start).isoformat(),
            "updated_to": require_aware(end).isoformat(),
            "limit": limit,
            "cursor": cursor,
        }

    def _fetch_window(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        cursor: str | None = None
        while True:
            payload = self.call("GET", "/orders", query=self._query(start, end, self.page_size, cursor))
            next_cursor = text(dig(payload, "next_cursor", what="GET /orders")) or None
            yield OrderPage(
                orders=self._parse_many(dig(payload, "orders", what="GET /orders"), what="GET /orders"),
                window_start=start,
                window_end=end,
                cursor=cursor,
                next_cursor=next_cursor,
                has_more=next_cursor is not None,
                total=payload.get("total"),
            )
            if next_cursor is None:
                return
            if next_cursor == cursor:
                raise PlatformError("GET /orders: next_cursor did not advance")
            cursor = next_cursor

    def _count_window(self, start: datetime, end: datetime) -> int:
        return int(
            dig(self.call("GET", "/orders", query=self._query(start, end, 1, None)), "total", what="total")
        )

    def confirm_shipment(self, external_id: str, carrier_code: str, tracking_number: str) -> None:
        """POST the tracking number to the site's shipments endpoint."""
        payload = self.call(
            "POST",
            f"/orders/{external_id}/shipments",
            body={"carrier_code": carrier_code, "tracking_number": tracking_number},
        )
        if not (isinstance(payload, dict) and payload.get("ok") is True):
            raise PlatformError(f"shipment of {external_id} was not acknowledged")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """Check X-OMS-Signature on the raw body, header/body agreement and the 5-minute replay window."""
        lowered = lower_headers(headers)
        given = lowered.get("x-oms-signature", "").strip().lower()
        if not given or not hmac.compare_digest(given, body_signature(body, self.credentials.app_secret)):
            raise SignatureError("X-OMS-Signature does not match the body")
        payload = parse_json(body, what="website webhook")
        if not isinstance(payload, dict):
            raise MalformedResponse("website webhook: body is not an object")
        delivery_id = text(payload.get("delivery_id"))
        sent_at = payload.get("sent_at")
        if not delivery_id or delivery_id != lowered.get("x-oms-delivery-id"):
            raise SignatureError("X-OMS-Delivery-Id is missing or differs from the signed body")
        if text(sent_at) != lowered.get("x-oms-timestamp"):
            raise SignatureError("X-OMS-Timestamp is missing or differs from the signed body")
        try:
            age = abs(self._clock() - int(sent_at))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise SignatureError("sent_at is not a Unix timestamp")
        if age > REPLAY_WINDOW.total_seconds():
            raise SignatureError(f"delivery is {int(age)}s old; outside the 5-minute replay window")
        raws = payload.get("orders") or []
        return WebhookDelivery(
            delivery_id=delivery_id,
            topic=text(payload.get("topic")),
            orders=self._parse_many(raws, what="website webhook"),
            order_ids=[text(o.get("id")) for o in raws if isinstance(o, dict)],
            payload=payload,
        )

    def parse_order(self, raw: dict) -> PlatformOrder:
        """Map one feed order (format above) to a PlatformOrder."""
        order_id = text(raw["id"])
        where = f"website order {order_id}"
        customer = raw.get("customer") or {}
        address = raw.get("shipping_address") or {}
        lines = [
            PlatformOrderLine(
                external_line_id=text(line["id"]),
                sku_code=text(line["sku"]),
                name=text(line.get("name")),
                quantity=int(line["quantity"]),
                unit_price=to_decimal(line["unit_price"], field=f"{where} line {line['id']} unit_price"),
                discount=to_decimal(line.get("discount"), field=f"{where} line {line['id']} discount"),
                total=to_decimal(line["total"], field=f"{where} line {line['id']} total"),
                platform_status=text(line.get("status")) or None,
                raw=line,
            )
            for line in raw.get("lines") or []
        ]
        return PlatformOrder(
            external_id=order_id,
            platform_status=text(raw["status"]),
            created_at=iso_time(raw.get("created_at"), field=f"{where} created_at"),
            updated_at=iso_time(raw.get("updated_at"), field=f"{where} updated_at"),
            paid_at=iso_time(raw.get("paid_at"), field=f"{where} paid_at"),
            shipped_at=iso_time(raw.get("shipped_at"), field=f"{where} shipped_at"),
            completed_at=iso_time(raw.get("completed_at"), field=f"{where} completed_at"),
            buyer_id=text(customer.get("id")),
            buyer_name=text(customer.get("name")),
            buyer_phone=text(customer.get("phone")),
            buyer_email=text(customer.get("email")),
            address=PlatformAddress(
                receiver=text(address.get("name")),
                phone=text(address.get("phone")),
                province=text(address.get("province")),
                city=text(address.get("city")),
                district=text(address.get("district")),
                street=text(address.get("street")),
                postcode=text(address.get("postcode")),
                country=text(address.get("country")),
            ),
            lines=lines,
            subtotal=to_decimal(raw.get("subtotal"), field=f"{where} subtotal"),
            discount=to_decimal(raw.get("discount"), field=f"{where} discount"),
            shipping=to_decimal(raw.get("shipping"), field=f"{where} shipping"),
            tax=to_decimal(raw.get("tax"), field=f"{where} tax"),
            total=to_decimal(raw["total"], field=f"{where} total"),
            paid_amount=to_decimal(raw.get("paid_amount"), field=f"{where} paid_amount"),
            currency=text(raw.get("currency")) or self.currency,
            buyer_note=text(raw.get("buyer_note")),
            seller_note=text(raw.get("seller_note")),
            raw=raw,
        )
