"""Douyin shop (抖店) adapter: `https://openapi-fxg.jinritemai.com/<method with / for .>`, `order.searchList`.

- Signing (v2, sign_method=md5): param_json = business parameters with keys sorted, compact, UTF-8 unescaped;
  sign = lower(md5(app_secret + "app_key" + app_key + "method" + method + "param_json" + param_json +
  "timestamp" + timestamp + "v" + "2" + app_secret)); timestamp "yyyy-MM-dd HH:mm:ss" GMT+8. System parameters
  travel in the query string, param_json is the POST body.
- Sync: `update_time_start/end` (Unix seconds), `order_by=update_time`, `order_asc=false`, `page` 0-based,
  `size` 100; paged last page first like the other page-number platforms; `data.total` gives the page count
  and `count_orders`. Windows of at most 1 day (no documented cap; keeps each window's page count small).
- Response envelope `{"code": 10000, "msg", "sub_code", "sub_msg", "data"}`; any other code is an error.
  Throttle sub-codes are not documented in our sources: sub-codes containing "limit" are treated as
  throttling.
- Money: integer fen; times Unix seconds (0 = not happened). Shop order (order_level 2) with `sku_order_list`
  (order_level 3) lines. `platform_status` is `main_status` (a superset of `order_status` that also tells
  refunded-after-shipping apart), falling back to `order_status`.
- Push back: `order.logisticsAdd` (order_id, company_code, logistics_code).
- Webhooks: not supported here (Douyin message push is not in the sources this adapter was built from).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from channels.adapters.base import (
    OrderAdapter,
    OrderPage,
    PlatformAddress,
    PlatformError,
    PlatformOrder,
    PlatformOrderLine,
    RateLimited,
    dig,
)
from channels.adapters.convert import ZERO, fen_to_decimal, format_china_time, text, to_unix, unix_time
from channels.adapters.registry import register

SEARCH = "order.searchList"


def param_json(business: dict[str, Any]) -> str:
    """Douyin's canonical param_json: keys sorted (recursively), no spaces, non-ASCII kept."""
    return json.dumps(business, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def doudian_sign(
    app_key: str, secret: str, method: str, params_json: str, timestamp: str, v: str = "2"
) -> str:
    """Douyin v2 md5 signature (lower-case hex)."""
    pattern = f"app_key{app_key}method{method}param_json{params_json}timestamp{timestamp}v{v}"
    return hashlib.md5(f"{secret}{pattern}{secret}".encode()).hexdigest()


def _name(node: Any) -> str:
    return text(node.get("name")) if isinstance(node, dict) else text(node)


@register
class DouyinAdapter(OrderAdapter):
    """Douyin shop orders."""

    platform = "douyin"
    default_base_url = "https://openapi-fxg.jinritemai.com"
    max_window = timedelta(days=1)
    overlap = timedelta(minutes=2)
    page_size = 100
    default_status_map: ClassVar[dict[str, str]] = {
        "1": "pending_payment",
        "103": "pending_payment",
        "105": "pending_review",
        "2": "awaiting_shipment",
        "101": "partially_shipped",
        "3": "shipped",
        "4": "cancelled",
        "5": "completed",
        "21": "cancelled",
        "22": "closed",
        "39": "closed",
    }

    def call(self, method: str, business: dict[str, Any]) -> Any:
        """Call one Douyin method; returns `data` of a successful (code 10000) answer."""
        body = param_json(business)
        timestamp = format_china_time(datetime.now(UTC))
        params = {
            "app_key": self.credentials.app_key,
            "method": method,
            "v": "2",
            "timestamp": timestamp,
            "sign_method": "md5",
            "access_token": self.credentials.access_token,
            "sign": doudian_sign(
                self.credentials.app_key, self.credentials.app_secret, method, body, timestamp
            ),
        }
        url = f"{self.base_url}/{method.replace('.', '/')}"
        payload, _ = self._request(
            "POST",
            url,
            params=params,
            content=body.encode(),
            headers={"Content-Type": "application/json"},
            what=method,
        )
        return dig(payload, "data", what=method)

    def _check_payload(self, payload: Any, response: httpx.Response, *, what: str) -> None:
        if not isinstance(payload, dict):
            return
        code = payload.get("code")
        if code is None or code == 10000:
            return
        sub_code = text(payload.get("sub_code"))
        message = (
            f"{what}: Douyin error {code} {payload.get('msg', '')} {sub_code} {payload.get('sub_msg', '')}"
        )
        if "limit" in sub_code.lower():
            raise RateLimited(message.strip())
        raise PlatformError(message.strip(), platform_code=code, sub_code=sub_code or None)

    def _search(self, start: datetime, end: datetime, page: int, size: int) -> dict:
        return self.call(
            SEARCH,
            {
                "update_time_start": to_unix(start),
                "update_time_end": to_unix(end),
                "order_by": "update_time",
                "order_asc": False,
                "page": page,
                "size": size,
            },
        )

    def _fetch_window(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        def fetch_page(page: int) -> tuple[list, int]:
            data = self._search(start, end, page, self.page_size)
            total = int(dig(data, "total", what=SEARCH))
            return (data.get("shop_order_list") or []) if total else [], total

        yield from self._reverse_pages(
            fetch_page, page_size=self.page_size, window=(start, end), first_page=0, what=SEARCH
        )

    def _count_window(self, start: datetime, end: datetime) -> int:
        return int(dig(self._search(start, end, 0, 1), "total", what=SEARCH))

    def fetch_order(self, external_id: str) -> PlatformOrder:
        """One shop order's details via `order.orderDetail`."""
        data = self.call("order.orderDetail", {"shop_order_id": external_id})
        detail = dig(data, "shop_order_detail", what="order.orderDetail")
        return self._parse_one(detail, what="order.orderDetail")

    def confirm_shipment(self, external_id: str, carrier_code: str, tracking_number: str) -> None:
        """Ship with `order.logisticsAdd`; carrier_code is Douyin's company_code (e.g. "shunfeng")."""
        self.call(
            "order.logisticsAdd",
            {"order_id": external_id, "company_code": carrier_code, "logistics_code": tracking_number},
        )

    def parse_order(self, raw: dict) -> PlatformOrder:
        """Map one Douyin shop order (with `sku_order_list`) to a PlatformOrder."""
        order_id = text(raw["order_id"])
        where = f"douyin order {order_id}"
        lines = []
        subtotal = ZERO
        for sku in raw.get("sku_order_list") or []:
            at = f"{where} sku order {sku.get('order_id')}"
            sum_amount = fen_to_decimal(sku.get("sum_amount"), field=f"{at} sum_amount")
            discount = fen_to_decimal(sku.get("promotion_amount"), field=f"{at} promotion_amount")
            subtotal += sum_amount
            lines.append(
                PlatformOrderLine(
                    external_line_id=text(sku["order_id"]),
                    sku_code=text(sku.get("out_sku_id") or sku.get("code") or sku.get("sku_id")),
                    name=text(sku.get("product_name")),
                    quantity=int(sku["item_num"]),
                    unit_price=fen_to_decimal(sku.get("origin_amount"), field=f"{at} origin_amount"),
                    discount=discount,
                    total=sum_amount - discount,
                    platform_status=text(sku.get("main_status", sku.get("order_status"))) or None,
                    raw=sku,
                )
            )
        address = raw.get("post_addr") or {}
        street = " ".join(p for p in (_name(address.get("street")), text(address.get("encrypt_detail"))) if p)
        pay_time = unix_time(raw.get("pay_time"), field=f"{where} pay_time")
        status = raw.get("main_status", raw.get("order_status"))
        return PlatformOrder(
            external_id=order_id,
            platform_status=text(status),
            created_at=unix_time(raw.get("create_time"), field=f"{where} create_time"),
            updated_at=unix_time(raw.get("update_time"), field=f"{where} update_time"),
            paid_at=pay_time,
            shipped_at=unix_time(raw.get("ship_time"), field=f"{where} ship_time"),
            completed_at=unix_time(raw.get("finish_time"), field=f"{where} finish_time"),
            buyer_id=text(raw.get("doudian_open_id")),
            address=PlatformAddress(
                receiver=text(raw.get("encrypt_post_receiver") or raw.get("post_receiver")),
                phone=text(raw.get("encrypt_post_tel") or raw.get("post_tel")),
                province=_name(address.get("province")),
                city=_name(address.get("city")),
                district=_name(address.get("town")),
                street=street,
                country="CN",
            ),
            lines=lines,
            subtotal=subtotal,
            discount=fen_to_decimal(raw.get("promotion_amount"), field=f"{where} promotion_amount"),
            shipping=fen_to_decimal(raw.get("post_amount"), field=f"{where} post_amount"),
            total=fen_to_decimal(raw.get("order_amount"), field=f"{where} order_amount"),
            paid_amount=fen_to_decimal(raw.get("pay_amount") if pay_time else 0, field=f"{where} pay_amount"),
            currency=self.currency,
            buyer_note=text(raw.get("buyer_words")),
            seller_note=text(raw.get("seller_words")),
            raw=raw,
        )
