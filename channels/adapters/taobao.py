"""Taobao / Tmall adapter: Taobao Open Platform (TOP) router API, `taobao.trades.sold.increment.get`.

- Signing (sign_method=md5): upper(hex(md5(secret + concat(sorted(k + v)) + secret))) over every parameter
  except `sign`; system parameters method, app_key, session, timestamp ("yyyy-MM-dd HH:mm:ss" GMT+8),
  format=json, v=2.0. Everything is POSTed form-encoded, so the session key never appears in a URL (or an
  access log).
- Sync: modified-time windows of at most 1 day (the API's limit), paged from the last page back to the first
  as TOP recommends (results are sorted by `modified` descending). `total_results` gives the page count and
  `count_orders`.
- Errors: `{"error_response": {"code", "msg", "sub_code", "sub_msg"}}`; code 7 / `accesscontrol.*` sub-codes
  mean throttled and are retried with backoff; `isp.*` sub-codes are TOP-side failures and are retried too.
- Money: yuan strings ("200.07"); times "yyyy-MM-dd HH:mm:ss" in GMT+8.
- Push back: `taobao.logistics.offline.send` (tid, out_sid, company_code).
- Webhooks: Taobao pushes through TMC (a long-lived message channel), not HTTP, so `verify_webhook` is
  refused.
"""

from __future__ import annotations

import hashlib
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
    PlatformUnavailable,
    RateLimited,
    dig,
)
from channels.adapters.convert import ZERO, china_time, format_china_time, text, to_decimal
from channels.adapters.registry import register

#: Fields requested from trades.sold.increment.get (all documented Trade / Order fields OMS maps).
TRADE_FIELDS = (
    "tid,status,type,created,modified,pay_time,consign_time,end_time,buyer_nick,buyer_open_uid,buyer_message,"
    "seller_memo,total_fee,discount_fee,adjust_fee,post_fee,payment,received_payment,receiver_name,receiver_state,"
    "receiver_city,receiver_district,receiver_town,receiver_address,receiver_zip,receiver_mobile,receiver_phone,"
    "receiver_country,orders.oid,orders.status,orders.title,orders.sku_properties_name,orders.outer_iid,"
    "orders.outer_sku_id,orders.sku_id,orders.num_iid,orders.num,orders.price,orders.total_fee,orders.payment,"
    "orders.discount_fee,orders.adjust_fee,orders.refund_status"
)

#: Statuses in which the buyer has not (yet) paid.
UNPAID_STATUSES = frozenset(
    {
        "TRADE_NO_CREATE_PAY",
        "WAIT_BUYER_PAY",
        "PAY_PENDING",
        "WAIT_PRE_AUTH_CONFIRM",
        "TRADE_CLOSED_BY_TAOBAO",
    }
)


def top_sign(params: dict[str, str], secret: str) -> str:
    """TOP md5 signature: upper(md5(secret + k1v1k2v2... (keys sorted) + secret))."""
    joined = "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign")
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest().upper()


@register
class TaobaoAdapter(OrderAdapter):
    """Taobao C-shop orders through the TOP router."""

    platform = "taobao"
    default_base_url = "https://gw.api.taobao.com/router/rest"
    max_window = timedelta(days=1)
    overlap = timedelta(minutes=5)
    page_size = 50  # TOP recommends 40-50 (max 100)
    default_status_map: ClassVar[dict[str, str]] = {
        "TRADE_NO_CREATE_PAY": "pending_payment",
        "WAIT_BUYER_PAY": "pending_payment",
        "PAY_PENDING": "pending_payment",
        "WAIT_PRE_AUTH_CONFIRM": "pending_payment",
        "PAID_FORBID_CONSIGN": "pending_review",
        "WAIT_SELLER_SEND_GOODS": "awaiting_shipment",
        "SELLER_CONSIGNED_PART": "partially_shipped",
        "WAIT_BUYER_CONFIRM_GOODS": "shipped",
        "TRADE_BUYER_SIGNED": "delivered",
        "TRADE_FINISHED": "completed",
        "TRADE_CLOSED": "closed",
        "TRADE_CLOSED_BY_TAOBAO": "cancelled",
    }

    # --- HTTP -----------------------------------------------------------------------------------------------

    def call(self, method: str, business: dict[str, Any]) -> dict:
        """Call one TOP method with signed system + business parameters; returns the whole JSON response."""
        params = {
            "method": method,
            "app_key": self.credentials.app_key,
            "session": self.credentials.access_token,
            "timestamp": format_china_time(datetime.now(UTC)),
            "format": "json",
            "v": "2.0",
            "sign_method": "md5",
        }
        params.update({k: str(v) for k, v in business.items() if v is not None})
        params["sign"] = top_sign(params, self.credentials.app_secret)
        payload, _ = self._request("POST", self.base_url, data=params, what=method)
        if not isinstance(payload, dict):
            raise PlatformError(f"{method}: response is not an object")
        return payload

    def _check_payload(self, payload: Any, response: httpx.Response, *, what: str) -> None:
        if not isinstance(payload, dict) or "error_response" not in payload:
            return
        error = payload["error_response"] or {}
        code, sub_code = error.get("code"), text(error.get("sub_code"))
        message = (
            f"{what}: TOP error {code} {error.get('msg', '')} {sub_code} {error.get('sub_msg', '')}".strip()
        )
        if str(code) == "7" or sub_code.startswith("accesscontrol."):
            raise RateLimited(message)
        if sub_code.startswith("isp."):
            raise PlatformUnavailable(message)
        raise PlatformError(message, platform_code=code, sub_code=sub_code or None)

    # --- sync -----------------------------------------------------------------------------------------------

    def _increment_page(
        self, start: datetime, end: datetime, page_no: int, page_size: int, fields: str
    ) -> dict:
        payload = self.call(
            "taobao.trades.sold.increment.get",
            {
                "fields": fields,
                "start_modified": format_china_time(start),
                "end_modified": format_china_time(end),
                "page_no": page_no,
                "page_size": page_size,
            },
        )
        return dig(payload, "trades_sold_increment_get_response", what="taobao.trades.sold.increment.get")

    def _fetch_window(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        what = "taobao.trades.sold.increment.get"

        def fetch_page(page_no: int) -> tuple[list, int]:
            body = self._increment_page(start, end, page_no, self.page_size, TRADE_FIELDS)
            total = int(dig(body, "total_results", what=what))
            trades = (body.get("trades") or {}).get("trade", []) if total else []
            return trades, total

        yield from self._reverse_pages(fetch_page, page_size=self.page_size, window=(start, end), what=what)

    def _count_window(self, start: datetime, end: datetime) -> int:
        body = self._increment_page(start, end, 1, 1, "tid")
        return int(dig(body, "total_results", what="taobao.trades.sold.increment.get"))

    def fetch_order(self, external_id: str) -> PlatformOrder:
        """One order's full details via `taobao.trade.fullinfo.get` (e.g. after a TMC message)."""
        payload = self.call("taobao.trade.fullinfo.get", {"tid": external_id, "fields": TRADE_FIELDS})
        trade = dig(payload, "trade_fullinfo_get_response", "trade", what="taobao.trade.fullinfo.get")
        return self._parse_one(trade, what="taobao.trade.fullinfo.get")

    def confirm_shipment(self, external_id: str, carrier_code: str, tracking_number: str) -> None:
        """Ship with `taobao.logistics.offline.send` (own carrier): tid, out_sid, company_code."""
        what = "taobao.logistics.offline.send"
        payload = self.call(
            what, {"tid": external_id, "out_sid": tracking_number, "company_code": carrier_code}
        )
        shipping = dig(payload, "logistics_offline_send_response", "shipping", what=what)
        if shipping.get("is_success") not in (True, "true"):
            raise PlatformError(f"{what}: tid {external_id} was not accepted")

    # --- parsing --------------------------------------------------------------------------------------------

    def parse_order(self, raw: dict) -> PlatformOrder:
        """Map one TOP `Trade` (with `orders.order[]`) to a PlatformOrder."""
        tid = text(raw["tid"])
        status = text(raw["status"])
        where = f"{self.platform} trade {tid}"
        payment = to_decimal(raw.get("payment"), field=f"{where} payment")
        lines = [self._parse_line(order, where) for order in (raw.get("orders") or {}).get("order", [])]
        return PlatformOrder(
            external_id=tid,
            platform_status=status,
            created_at=china_time(raw.get("created"), field=f"{where} created"),
            updated_at=china_time(raw.get("modified"), field=f"{where} modified"),
            paid_at=china_time(raw.get("pay_time"), field=f"{where} pay_time"),
            shipped_at=china_time(raw.get("consign_time"), field=f"{where} consign_time"),
            completed_at=china_time(raw.get("end_time"), field=f"{where} end_time"),
            buyer_id=text(raw.get("buyer_open_uid") or raw.get("buyer_nick")),
            buyer_name=text(raw.get("buyer_nick")),
            address=PlatformAddress(
                receiver=text(raw.get("receiver_name")),
                phone=text(raw.get("receiver_mobile") or raw.get("receiver_phone")),
                province=text(raw.get("receiver_state")),
                city=text(raw.get("receiver_city")),
                district=text(raw.get("receiver_district")),
                street=" ".join(
                    p for p in (text(raw.get("receiver_town")), text(raw.get("receiver_address"))) if p
                ),
                postcode=text(raw.get("receiver_zip")),
                country=text(raw.get("receiver_country")) or "CN",
            ),
            lines=lines,
            subtotal=to_decimal(raw.get("total_fee"), field=f"{where} total_fee"),
            discount=to_decimal(raw.get("discount_fee"), field=f"{where} discount_fee"),
            shipping=to_decimal(raw.get("post_fee"), field=f"{where} post_fee"),
            total=payment,
            paid_amount=ZERO if status in UNPAID_STATUSES else payment,
            currency=self.currency,
            buyer_note=text(raw.get("buyer_message")),
            seller_note=text(raw.get("seller_memo")),
            raw=raw,
        )

    def _parse_line(self, order: dict, where: str) -> PlatformOrderLine:
        oid = text(order["oid"])
        at = f"{where} order {oid}"
        return PlatformOrderLine(
            external_line_id=oid,
            sku_code=text(order.get("outer_sku_id") or order.get("outer_iid") or order.get("sku_id")),
            name=text(order.get("title")),
            quantity=int(order["num"]),
            unit_price=to_decimal(order.get("price"), field=f"{at} price"),
            discount=to_decimal(order.get("discount_fee"), field=f"{at} discount_fee"),
            total=to_decimal(order.get("total_fee"), field=f"{at} total_fee"),
            platform_status=text(order.get("status")) or None,
            raw=order,
        )


@register
class TmallAdapter(TaobaoAdapter):
    """Tmall shops use the same TOP trade API as Taobao; a separate key so channels and mappings stay apart."""

    platform = "tmall"
