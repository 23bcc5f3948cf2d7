"""WeChat Channels shop (微信小店) adapter: `https://api.weixin.qq.com/channels/ec/order/...`.

- Auth: no per-request signature; the `access_token` (from /cgi-bin/token, refreshed outside the adapter) goes
  in the query string as the API requires. Errors are `{"errcode": N, "errmsg": ...}` with errcode 0 = ok;
  45009 (frequency limit) and -1 (system busy) are retried with backoff, 40001/42001 (bad/expired token)
  raise.
- Sync: `POST /channels/ec/order/list/get` with `update_time_range {start_time, end_time}` (Unix seconds),
  `page_size` 100 and the `next_key` cursor (forward, `has_more`) returns order ids; each order's details come
  from `POST /channels/ec/order/get`. Windows of at most 1 day (the span limit is reported as 7 days but is
  unverified; 1 day is safely inside it). The list API reports no total, so `count_orders` is unsupported.
- Money: integer fen; times Unix seconds.
- Push back: `POST /channels/ec/order/delivery/send` with the order's products (read from order/get).
- Webhooks: WeChat message push (encrypted XML/JSON callbacks) is not handled here: refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
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
    PlatformUnavailable,
    RateLimited,
    dig,
)
from channels.adapters.convert import ZERO, fen_to_decimal, text, to_unix, unix_time
from channels.adapters.registry import register

LIST = "/channels/ec/order/list/get"
GET = "/channels/ec/order/get"
SEND = "/channels/ec/order/delivery/send"


@register
class WeChatAdapter(OrderAdapter):
    """WeChat Channels shop orders."""

    platform = "wechat"
    default_base_url = "https://api.weixin.qq.com"
    max_window = timedelta(days=1)
    overlap = timedelta(minutes=2)
    page_size = 100
    default_status_map: ClassVar[dict[str, str]] = {
        "10": "pending_payment",
        "12": "pending_review",
        "13": "pending_review",
        "20": "awaiting_shipment",
        "21": "partially_shipped",
        "30": "shipped",
        "100": "completed",
        "200": "closed",
        "250": "cancelled",
    }

    def call(self, path: str, body: dict[str, Any]) -> dict:
        """POST one JSON call with the access token in the query string; returns the errcode-0 answer."""
        payload, _ = self._request(
            "POST",
            f"{self.base_url}{path}",
            params={"access_token": self.credentials.access_token},
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            what=path,
        )
        if not isinstance(payload, dict):
            raise PlatformError(f"{path}: response is not an object")
        return payload

    def _check_payload(self, payload: Any, response: httpx.Response, *, what: str) -> None:
        if not isinstance(payload, dict):
            return
        code = payload.get("errcode", 0)
        if code == 0:
            return
        message = f"{what}: WeChat errcode {code} {payload.get('errmsg', '')}".strip()
        if code == 45009:
            raise RateLimited(message)
        if code == -1:
            raise PlatformUnavailable(message)
        raise PlatformError(message, platform_code=code)

    def _fetch_window(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        next_key = ""
        while True:
            body: dict[str, Any] = {
                "update_time_range": {"start_time": to_unix(start), "end_time": to_unix(end)},
                "page_size": self.page_size,
            }
            if next_key:
                body["next_key"] = next_key
            page = self.call(LIST, body)
            order_ids = dig(page, "order_id_list", what=LIST)
            has_more = bool(page.get("has_more"))
            new_key = text(page.get("next_key"))
            orders = [self.fetch_order(text(order_id)) for order_id in order_ids]
            yield OrderPage(
                orders=orders,
                window_start=start,
                window_end=end,
                cursor=next_key or None,
                next_cursor=new_key or None,
                has_more=has_more,
            )
            if not has_more:
                return
            if not new_key or new_key == next_key:
                raise PlatformError(f"{LIST}: has_more without a new next_key")
            next_key = new_key

    def _order_json(self, external_id: str) -> dict:
        return dig(self.call(GET, {"order_id": external_id}), "order", what=f"{GET} {external_id}")

    def fetch_order(self, external_id: str) -> PlatformOrder:
        """One order's details via order/get."""
        return self._parse_one(self._order_json(external_id), what=f"{GET} {external_id}")

    def confirm_shipment(self, external_id: str, carrier_code: str, tracking_number: str) -> None:
        """Ship every product of the order in one package; carrier_code is WeChat's delivery_id (e.g. "STO")."""
        order = self._order_json(external_id)
        products = [
            {
                "product_id": text(p.get("product_id")),
                "sku_id": text(p.get("sku_id")),
                "product_cnt": p["sku_cnt"],
            }
            for p in dig(order, "order_detail", "product_infos", what=GET)
        ]
        self.call(
            SEND,
            {
                "order_id": external_id,
                "delivery_list": [
                    {
                        "delivery_id": carrier_code,
                        "waybill_id": tracking_number,
                        "deliver_type": 1,
                        "product_infos": products,
                    }
                ],
            },
        )

    def parse_order(self, raw: dict) -> PlatformOrder:
        """Map one order/get `order` object to a PlatformOrder."""
        order_id = text(raw["order_id"])
        where = f"wechat order {order_id}"
        detail = raw.get("order_detail") or {}
        price = detail.get("price_info") or {}
        pay = detail.get("pay_info") or {}
        delivery = detail.get("delivery_info") or {}
        address = delivery.get("address_info") or {}
        ext = detail.get("ext_info") or {}
        lines = []
        for product in detail.get("product_infos") or []:
            at = f"{where} sku {product.get('sku_id')}"
            quantity = int(product["sku_cnt"])
            unit_price = fen_to_decimal(product.get("sale_price"), field=f"{at} sale_price")
            gross = unit_price * quantity
            total = (
                fen_to_decimal(product["real_price"], field=f"{at} real_price")
                if "real_price" in product
                else gross
            )
            lines.append(
                PlatformOrderLine(
                    external_line_id=f"{product.get('product_id')}:{product.get('sku_id')}",
                    sku_code=text(
                        product.get("sku_code") or product.get("out_sku_id") or product.get("sku_id")
                    ),
                    name=text(product.get("title")),
                    quantity=quantity,
                    unit_price=unit_price,
                    discount=gross - total if total < gross else ZERO,
                    total=total,
                    raw=product,
                )
            )
        paid_at = unix_time(pay.get("pay_time"), field=f"{where} pay_time")
        total = fen_to_decimal(price.get("order_price"), field=f"{where} order_price")
        return PlatformOrder(
            external_id=order_id,
            platform_status=text(raw["status"]),
            created_at=unix_time(raw.get("create_time"), field=f"{where} create_time"),
            updated_at=unix_time(raw.get("update_time"), field=f"{where} update_time"),
            paid_at=paid_at,
            shipped_at=unix_time(delivery.get("ship_done_time"), field=f"{where} ship_done_time"),
            buyer_id=text(raw.get("openid")),
            address=PlatformAddress(
                receiver=text(address.get("user_name")),
                phone=text(address.get("tel_number")),
                province=text(address.get("province_name")),
                city=text(address.get("city_name")),
                district=text(address.get("county_name")),
                street=text(address.get("detail_info")),
                postcode=text(address.get("postal_code")),
                country="CN",
            ),
            lines=lines,
            subtotal=fen_to_decimal(price.get("product_price"), field=f"{where} product_price"),
            discount=fen_to_decimal(price.get("discounted_price"), field=f"{where} discounted_price"),
            shipping=fen_to_decimal(price.get("freight"), field=f"{where} freight"),
            total=total,
            paid_amount=total if paid_at else ZERO,
            currency=self.currency,
            buyer_note=text(ext.get("customer_notes")),
            seller_note=text(ext.get("merchant_notes")),
            raw=raw,
        )
