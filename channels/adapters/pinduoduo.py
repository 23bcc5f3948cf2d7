"""Pinduoduo adapter: PDD POP router (`https://gw-api.pinduoduo.com/api/router`).

- Signing: common parameters type (the method), client_id, access_token, timestamp (Unix seconds, ±10 min),
  data_type=JSON, version=V1, plus the business parameters flattened beside them (lists/objects as JSON); sign
  = upper(md5(client_secret + concat(sorted(k + v)) + client_secret)). POSTed form-encoded.
- Sync: `pdd.order.number.list.increment.get` by update time, windows of at most 30 minutes (the API's limit),
  `page_size` 100, paged in reverse (last page first) as PDD instructs; `total_count` gives the page count and
  `count_orders`. `order_status=5` and `refund_status=5` ask for all states.
- Errors: `{"error_response": {"error_code", "error_msg", "sub_code", "sub_msg", "request_id"}}`; 52101 /
  70031 are throttling and are retried with backoff; 10019 (token expired), 20004 (sign failed) etc. raise
  PlatformError.
- Money: DOUBLE yuan (parsed as Decimal, never float); times "yyyy-MM-dd HH:mm:ss" GMT+8. The published doc
  example uses placeholders ("1") for times: such values are logged and read as "unknown" (None), not guessed.
- Status: PDD has no single status; `platform_status` is `order_status` ("1" 待发货, "2" 已发货待签收, "3" 已签收), except
  "refund_status=4" (退款成功), "confirm_status=2" (已取消) and "group_status=0" (拼团中), which decide.
- Push back: `pdd.logistics.online.send` (order_sn, logistics_id = PDD's carrier id, tracking_number).
- Webhooks: PDD pushes over its own message service (WebSocket), not HTTP webhooks: refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from channels.adapters.base import (
    MalformedResponse,
    OrderAdapter,
    OrderPage,
    PlatformAddress,
    PlatformError,
    PlatformOrder,
    PlatformOrderLine,
    RateLimited,
    dig,
)
from channels.adapters.convert import china_time, text, to_decimal, to_unix
from channels.adapters.registry import register

logger = logging.getLogger("channels.adapters")

INCREMENT = "pdd.order.number.list.increment.get"
THROTTLE_CODES = frozenset({52101, 70031})


def pdd_sign(params: dict[str, str], secret: str) -> str:
    """PDD md5 signature: upper(md5(secret + k1v1k2v2... (keys sorted, `sign` excluded) + secret))."""
    joined = "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign")
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest().upper()


def _param(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


@register
class PinduoduoAdapter(OrderAdapter):
    """Pinduoduo merchant orders."""

    platform = "pinduoduo"
    default_base_url = "https://gw-api.pinduoduo.com/api/router"
    max_window = timedelta(minutes=30)
    overlap = timedelta(minutes=1)
    page_size = 100
    default_status_map: ClassVar[dict[str, str]] = {
        "1": "awaiting_shipment",
        "2": "shipped",
        "3": "delivered",
        "group_status=0": "pending_review",
        "confirm_status=2": "cancelled",
        "refund_status=4": "closed",
    }

    def call(self, method: str, business: dict[str, Any]) -> dict:
        """Call one PDD method with signed common + business parameters."""
        params = {
            "type": method,
            "client_id": self.credentials.app_key,
            "access_token": self.credentials.access_token,
            "timestamp": str(int(time.time())),
            "data_type": "JSON",
            "version": "V1",
        }
        params.update({k: _param(v) for k, v in business.items() if v is not None})
        params["sign"] = pdd_sign(params, self.credentials.app_secret)
        payload, _ = self._request("POST", self.base_url, data=params, what=method)
        if not isinstance(payload, dict):
            raise PlatformError(f"{method}: response is not an object")
        return payload

    def _check_payload(self, payload: Any, response: httpx.Response, *, what: str) -> None:
        if not isinstance(payload, dict) or "error_response" not in payload:
            return
        error = payload["error_response"] or {}
        code = error.get("error_code")
        message = (
            f"{what}: PDD error {code} {error.get('error_msg', '')} {error.get('sub_msg') or ''}".strip()
        )
        if code in THROTTLE_CODES:
            raise RateLimited(message)
        raise PlatformError(message, platform_code=code, sub_code=error.get("sub_code"))

    def _increment(self, start: datetime, end: datetime, page: int, page_size: int) -> dict:
        payload = self.call(
            INCREMENT,
            {
                "is_lucky_flag": 0,
                "order_status": 5,
                "refund_status": 5,
                "start_updated_at": to_unix(start),
                "end_updated_at": to_unix(end),
                "page": page,
                "page_size": page_size,
                "use_has_next": "false",
            },
        )
        return dig(payload, "order_sn_increment_get_response", what=INCREMENT)

    def _fetch_window(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        def fetch_page(page: int) -> tuple[list, int]:
            body = self._increment(start, end, page, self.page_size)
            total = int(dig(body, "total_count", what=INCREMENT))
            return (body.get("order_sn_list") or []) if total else [], total

        yield from self._reverse_pages(
            fetch_page, page_size=self.page_size, window=(start, end), what=INCREMENT
        )

    def _count_window(self, start: datetime, end: datetime) -> int:
        return int(dig(self._increment(start, end, 1, 1), "total_count", what=INCREMENT))

    def fetch_order(self, external_id: str) -> PlatformOrder:
        """One order's details via `pdd.order.information.get`."""
        what = "pdd.order.information.get"
        payload = self.call(what, {"order_sn": external_id})
        return self._parse_one(dig(payload, "order_info_get_response", "order_info", what=what), what=what)

    def confirm_shipment(self, external_id: str, carrier_code: str, tracking_number: str) -> None:
        """Ship with `pdd.logistics.online.send`; carrier_code is PDD's numeric logistics_id for the carrier."""
        what = "pdd.logistics.online.send"
        payload = self.call(
            what, {"order_sn": external_id, "logistics_id": carrier_code, "tracking_number": tracking_number}
        )
        result = dig(payload, "logistics_online_send_response", what=what)
        if result.get("is_success") not in (True, "true", 1):
            raise PlatformError(f"{what}: order {external_id} was not accepted")

    @staticmethod
    def status_of(raw: dict) -> str:
        """The one status value that decides a PDD order's state (see the module docstring)."""
        if raw.get("refund_status") == 4:
            return "refund_status=4"
        if raw.get("confirm_status") == 2:
            return "confirm_status=2"
        if raw.get("group_status") == 0:
            return "group_status=0"
        return text(raw["order_status"])

    def _time(self, raw: dict, key: str, where: str) -> datetime | None:
        try:
            return china_time(raw.get(key), field=f"{where} {key}")
        except MalformedResponse as exc:
            logger.warning("%s; read as unknown", exc.message)
            return None

    def parse_order(self, raw: dict) -> PlatformOrder:
        """Map one PDD `OrderInfo` (order_list / order_sn_list item) to a PlatformOrder."""
        order_sn = text(raw["order_sn"])
        where = f"pinduoduo order {order_sn}"
        lines = []
        for item in raw.get("item_list") or []:
            quantity = int(item["goods_count"])
            price = to_decimal(item.get("goods_price"), field=f"{where} goods_price")
            lines.append(
                PlatformOrderLine(
                    external_line_id=text(item.get("sku_id") or item.get("goods_id")),
                    sku_code=text(item.get("outer_id") or item.get("outer_goods_id") or item.get("sku_id")),
                    name=text(item.get("goods_name")),
                    quantity=quantity,
                    unit_price=price,
                    total=price * quantity,
                    raw=item,
                )
            )
        pay_amount = to_decimal(raw.get("pay_amount"), field=f"{where} pay_amount")
        return PlatformOrder(
            external_id=order_sn,
            platform_status=self.status_of(raw),
            created_at=self._time(raw, "created_time", where),
            updated_at=self._time(raw, "updated_at", where),
            paid_at=self._time(raw, "pay_time", where),
            shipped_at=self._time(raw, "shipping_time", where),
            completed_at=self._time(raw, "receive_time", where),
            address=PlatformAddress(
                receiver=text(raw.get("receiver_name")),
                phone=text(raw.get("receiver_phone")),
                province=text(raw.get("province")),
                city=text(raw.get("city")),
                district=text(raw.get("town")),
                street=text(raw.get("address")),
                country=text(raw.get("country")) or "CN",
            ),
            lines=lines,
            subtotal=to_decimal(raw.get("goods_amount"), field=f"{where} goods_amount"),
            discount=to_decimal(raw.get("discount_amount"), field=f"{where} discount_amount"),
            shipping=to_decimal(raw.get("postage"), field=f"{where} postage"),
            total=pay_amount,
            paid_amount=pay_amount,  # PDD lists only orders that were paid (成交)
            currency=self.currency,
            buyer_note=text(raw.get("buyer_memo")),
            seller_note=text(raw.get("remark")),
            raw=raw,
        )
