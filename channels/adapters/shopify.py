"""Shopify adapter: Admin REST API 2025-07 (`https://{shop}.myshopify.com/admin/api/2025-07`) and order
webhooks.

- Auth: header `X-Shopify-Access-Token`; no request signing. `Credentials.shop_id` is the shop domain (e.g.
  "jsmith.myshopify.com").
- Sync: `GET /orders.json?status=any&updated_at_min=…&updated_at_max=…&limit=250&order=updated_at asc`
  (`status=any`, or closed/cancelled orders are silently left out), then the cursor in the `Link: <…>;
  rel="next"` header (page_info), forward. Windows of at most 7 days (no documented cap; keeps progress
  resumable). `GET /orders/count.json` gives `count_orders`.
- Rate limits: leaky bucket; HTTP 429 with `Retry-After` (seconds), retried honouring it.
- Money: decimal strings in the shop currency; times ISO 8601 with offset.
- Status: Shopify has three dimensions; `platform_status` is "cancelled" when `cancelled_at` is set, else
  "<financial_status>/<fulfillment_status or 'unfulfilled'>", e.g. "paid/partial".
- Push back: fulfillment orders — `GET /orders/{id}/fulfillment_orders.json`, then `POST /fulfillments.json`
  with the open fulfillment orders and `tracking_info` {number, company}.
- Webhooks: `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(client secret, raw body)), compared in constant time;
  `X-Shopify-Webhook-Id` is the delivery id, `X-Shopify-Topic` the topic; the body of orders/* topics is the
  order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from channels.adapters.base import (
    Credentials,
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
from channels.adapters.convert import ZERO, iso_time, require_aware, text, to_decimal
from channels.adapters.registry import register

API_VERSION = "2025-07"
LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="?next"?')
PAID = ("paid", "partially_refunded", "refunded")


def _status_map() -> dict[str, str]:
    financial = {
        "pending": "pending_payment",
        "partially_paid": "pending_payment",
        "authorized": "awaiting_shipment",
        "paid": "awaiting_shipment",
        "partially_refunded": "awaiting_shipment",
        "refunded": "closed",
        "voided": "cancelled",
        "expired": "cancelled",
    }
    mapping = {"cancelled": "cancelled"}
    for fin, unfulfilled in financial.items():
        mapping[f"{fin}/unfulfilled"] = unfulfilled
        mapping[f"{fin}/partial"] = "partially_shipped"
        mapping[f"{fin}/fulfilled"] = "shipped"
        mapping[f"{fin}/restocked"] = "closed"
    mapping["refunded/fulfilled"] = "closed"
    return mapping


def shopify_hmac(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(secret, body)) as sent in X-Shopify-Hmac-Sha256."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _shop_money(raw: dict, key: str, fallback: str) -> Any:
    money_set = raw.get(key)
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        return money_set["shop_money"].get("amount")
    return raw.get(fallback)


@register
class ShopifyAdapter(OrderAdapter):
    """Shopify store orders."""

    platform = "shopify"
    max_window = timedelta(days=7)
    overlap = timedelta(minutes=2)
    page_size = 250
    currency = "USD"
    default_status_map: ClassVar[dict[str, str]] = _status_map()

    def __init__(self, credentials: Credentials, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(
            credentials, base_url or f"https://{credentials.shop_id}/admin/api/{API_VERSION}", **kwargs
        )

    def call(self, method: str, path_or_url: str, *, params: dict | None = None, body: Any = None) -> tuple:
        """One authenticated call; returns (JSON, response) so callers can read the Link header."""
        url = path_or_url if path_or_url.startswith("http") else f"{self.base_url}{path_or_url}"
        headers = {"X-Shopify-Access-Token": self.credentials.access_token, "Accept": "application/json"}
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self._request(
            method, url, params=params, content=content, headers=headers, what=f"{method} {path_or_url}"
        )

    def _check_payload(self, payload: Any, response: httpx.Response, *, what: str) -> None:
        if response.status_code >= 400:
            errors = payload.get("errors") if isinstance(payload, dict) else payload
            raise PlatformError(
                f"{what}: HTTP {response.status_code} {errors}", platform_code=response.status_code
            )

    @staticmethod
    def _window_params(start: datetime, end: datetime) -> dict[str, str]:
        return {
            "status": "any",
            "updated_at_min": require_aware(start).isoformat(),
            "updated_at_max": require_aware(end).isoformat(),
        }

    def _fetch_window(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        url: str | None = "/orders.json"
        params: dict | None = {
            **self._window_params(start, end),
            "limit": self.page_size,
            "order": "updated_at asc",
        }
        while url:
            payload, response = self.call("GET", url, params=params)
            match = LINK_NEXT.search(response.headers.get("link", ""))
            next_url = match.group(1) if match else None
            yield OrderPage(
                orders=self._parse_many(
                    dig(payload, "orders", what="GET orders.json"), what="GET orders.json"
                ),
                window_start=start,
                window_end=end,
                cursor=url,
                next_cursor=next_url,
                has_more=next_url is not None,
            )
            url, params = next_url, None  # the page_info URL carries every parameter it may carry

    def _count_window(self, start: datetime, end: datetime) -> int:
        payload, _ = self.call("GET", "/orders/count.json", params=self._window_params(start, end))
        return int(dig(payload, "count", what="GET orders/count.json"))

    def fetch_order(self, external_id: str) -> PlatformOrder:
        """One order via `GET /orders/{id}.json`."""
        payload, _ = self.call("GET", f"/orders/{external_id}.json")
        return self._parse_one(dig(payload, "order", what="GET order"), what="GET order")

    def confirm_shipment(self, external_id: str, carrier_code: str, tracking_number: str) -> None:
        """Fulfil the order's open fulfillment orders with one tracking number (carrier_code = company name)."""
        payload, _ = self.call("GET", f"/orders/{external_id}/fulfillment_orders.json")
        open_ids = [
            {"fulfillment_order_id": fo["id"]}
            for fo in dig(payload, "fulfillment_orders", what="GET fulfillment_orders")
            if fo.get("status") in ("open", "in_progress")
        ]
        if not open_ids:
            raise PlatformError(f"order {external_id} has no open fulfillment order")
        self.call(
            "POST",
            "/fulfillments.json",
            body={
                "fulfillment": {
                    "line_items_by_fulfillment_order": open_ids,
                    "tracking_info": {"number": tracking_number, "company": carrier_code},
                    "notify_customer": True,
                }
            },
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """Verify X-Shopify-Hmac-Sha256 on the raw body; the delivery id is X-Shopify-Webhook-Id."""
        lowered = lower_headers(headers)
        given = lowered.get("x-shopify-hmac-sha256", "")
        if not given or not hmac.compare_digest(
            given.strip(), shopify_hmac(body, self.credentials.app_secret)
        ):
            raise SignatureError("X-Shopify-Hmac-Sha256 does not match the body")
        delivery_id = lowered.get("x-shopify-webhook-id") or lowered.get("x-shopify-event-id")
        if not delivery_id:
            raise SignatureError("X-Shopify-Webhook-Id is missing")
        topic = lowered.get("x-shopify-topic", "")
        payload = parse_json(body, what=f"shopify webhook {topic}")
        orders: list[PlatformOrder] = []
        order_ids: list[str] = []
        if topic.startswith("orders/") and isinstance(payload, dict) and "id" in payload:
            order_ids = [text(payload["id"])]
            if topic != "orders/delete":
                orders = [self._parse_one(payload, what=f"shopify webhook {topic}")]
        return WebhookDelivery(
            delivery_id=delivery_id,
            topic=topic,
            orders=orders,
            order_ids=order_ids,
            shop_id=lowered.get("x-shopify-shop-domain", ""),
            payload=payload if isinstance(payload, dict) else {},
        )

    @staticmethod
    def status_of(raw: dict) -> str:
        """One status value from Shopify's three dimensions (see the module docstring)."""
        if raw.get("cancelled_at"):
            return "cancelled"
        return f"{raw.get('financial_status') or 'pending'}/{raw.get('fulfillment_status') or 'unfulfilled'}"

    def parse_order(self, raw: dict) -> PlatformOrder:
        """Map one REST order (orders.json item, order.json, or a webhook body) to a PlatformOrder."""
        order_id = text(raw["id"])
        where = f"shopify order {order_id}"
        lines = []
        for item in raw.get("line_items") or []:
            at = f"{where} line {item.get('id')}"
            quantity = int(item["quantity"])
            price = to_decimal(_shop_money(item, "price_set", "price"), field=f"{at} price")
            allocations = item.get("discount_allocations")
            if allocations:
                discount = sum(
                    (
                        to_decimal(_shop_money(a, "amount_set", "amount"), field=f"{at} discount")
                        for a in allocations
                    ),
                    ZERO,
                )
            else:
                discount = to_decimal(
                    _shop_money(item, "total_discount_set", "total_discount"), field=f"{at} disc"
                )
            lines.append(
                PlatformOrderLine(
                    external_line_id=text(item["id"]),
                    sku_code=text(item.get("sku") or item.get("variant_id")),
                    name=text(item.get("name") or item.get("title")),
                    quantity=quantity,
                    unit_price=price,
                    discount=discount,
                    total=price * quantity - discount,
                    platform_status=text(item.get("fulfillment_status")) or None,
                    raw=item,
                )
            )
        total = to_decimal(_shop_money(raw, "total_price_set", "total_price"), field=f"{where} total_price")
        if "total_outstanding" in raw:
            paid = total - to_decimal(raw.get("total_outstanding"), field=f"{where} total_outstanding")
        else:
            paid = total if raw.get("financial_status") in PAID else ZERO
        shipping_value = _shop_money(raw, "total_shipping_price_set", "")
        if shipping_value in (None, ""):
            shipping = sum(
                (
                    to_decimal(s.get("price"), field=f"{where} shipping")
                    for s in raw.get("shipping_lines") or []
                ),
                ZERO,
            )
        else:
            shipping = to_decimal(shipping_value, field=f"{where} shipping")
        shipped = [
            iso_time(f.get("created_at"), field=f"{where} fulfillment created_at")
            for f in raw.get("fulfillments") or []
            if f.get("status") == "success"
        ]
        customer = raw.get("customer") or {}
        address = raw.get("shipping_address") or {}
        name = " ".join(p for p in (text(customer.get("first_name")), text(customer.get("last_name"))) if p)
        return PlatformOrder(
            external_id=order_id,
            platform_status=self.status_of(raw),
            created_at=iso_time(raw.get("created_at"), field=f"{where} created_at"),
            updated_at=iso_time(raw.get("updated_at"), field=f"{where} updated_at"),
            paid_at=iso_time(raw.get("processed_at"), field=f"{where} processed_at")
            if raw.get("financial_status") in PAID
            else None,
            shipped_at=min((s for s in shipped if s), default=None),
            completed_at=iso_time(raw.get("closed_at"), field=f"{where} closed_at"),
            buyer_id=text(customer.get("id")),
            buyer_name=name,
            buyer_phone=text(raw.get("phone") or customer.get("phone")),
            buyer_email=text(raw.get("email") or raw.get("contact_email")),
            address=PlatformAddress(
                receiver=text(address.get("name")),
                phone=text(address.get("phone")),
                province=text(address.get("province")),
                city=text(address.get("city")),
                street=", ".join(
                    p for p in (text(address.get("address1")), text(address.get("address2"))) if p
                ),
                postcode=text(address.get("zip")),
                country=text(address.get("country_code")),
            ),
            lines=lines,
            subtotal=to_decimal(
                _shop_money(raw, "total_line_items_price_set", "total_line_items_price"),
                field=f"{where} subtotal",
            ),
            discount=to_decimal(
                _shop_money(raw, "total_discounts_set", "total_discounts"), field=f"{where} disc"
            ),
            shipping=shipping,
            tax=to_decimal(_shop_money(raw, "total_tax_set", "total_tax"), field=f"{where} total_tax"),
            total=total,
            paid_amount=max(paid, Decimal("0.00")),
            currency=text(raw.get("currency")) or self.currency,
            buyer_note=text(raw.get("note")),  # the storefront cart note lands here
            raw=raw,
        )
