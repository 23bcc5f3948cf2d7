"""Per-platform behaviours of the fake platform server: documented request formats, signatures, errors,
paging.

Signatures are re-implemented here from the platforms' documented rules (not imported from the adapters), so
an adapter bug in signing shows up as a refused request.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from channels.tests.fake_platform import (
    ACCESS_TOKEN,
    APP_KEY,
    APP_SECRET,
    FakeBehaviour,
    FakeRequest,
    FakeResponse,
    load_jsonc,
)

GMT8 = timezone(timedelta(hours=8))


def _china(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)
    except (TypeError, ValueError):
        return None


def _fmt_china(moment: datetime) -> str:
    return moment.astimezone(GMT8).strftime("%Y-%m-%d %H:%M:%S")


def _md5_wrapped(params: dict[str, str], secret: str) -> str:
    joined = "".join(k + params[k] for k in sorted(params) if k != "sign")
    return hashlib.md5((secret + joined + secret).encode()).hexdigest().upper()


def _page(items: list, page: int, size: int) -> list:
    return items[(page - 1) * size : page * size]


# --- Taobao / Tmall (TOP)
# -------------------------------------------------------------------------------------


class TaobaoFake(FakeBehaviour):
    """TOP router: form-encoded, md5 sign, trades.sold.increment.get sorted by modified DESC, ≤ 1 day windows."""

    platform = "taobao"

    def load_samples(self) -> None:
        if self.samples_dir:
            data = self.sample("taobao_trades_sold_get_response_docs_example_legacy.json")
            self.orders.extend(data["trades_sold_get_response"]["trades"]["trade"])

    def base_url(self, server_url: str) -> str:
        return f"{server_url}/router/rest"

    def make_order(self, index: int, updated: datetime) -> dict:
        base = self.orders[0] if self.orders else {"orders": {"order": [{}]}}
        trade = copy.deepcopy(base)
        trade.update(tid=900000 + index, modified=_fmt_china(updated), status="WAIT_SELLER_SEND_GOODS")
        trade["orders"]["order"][0].update(oid=9000000 + index, num=1, status="WAIT_SELLER_SEND_GOODS")
        return trade

    @staticmethod
    def _error(code: int, msg: str, sub_code: str, sub_msg: str = "") -> FakeResponse:
        error = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg, "request_id": "fake"}
        return FakeResponse({"error_response": error})

    def throttle_response(self) -> FakeResponse:
        return self._error(7, "App Call Limited", "accesscontrol.limited-by-app-access-count")

    def break_response(self, body: Any) -> Any:
        body.get("trades_sold_increment_get_response", {}).pop("total_results", None)
        return body

    def handle(self, request: FakeRequest) -> FakeResponse:
        params = request.params
        for required in ("method", "app_key", "session", "timestamp", "format", "v", "sign_method", "sign"):
            if required not in params:
                return self._error(40, "Missing required arguments", f"isv.missing-parameter:{required}")
        if params["sign"] != _md5_wrapped(params, APP_SECRET) or params["app_key"] != APP_KEY:
            return self._error(25, "Invalid signature", "isv.invalid-signature")
        if params["session"] != ACCESS_TOKEN:
            return self._error(27, "Invalid session", "isv.invalid-session")
        if _china(params["timestamp"]) is None:
            return self._error(41, "Invalid arguments", "isv.invalid-parameter:timestamp")
        method = params["method"]
        if method == "taobao.trades.sold.increment.get":
            return self._increment(params)
        if method == "taobao.logistics.offline.send":
            self.shipments.append({k: params[k] for k in ("tid", "out_sid", "company_code")})
            return FakeResponse({"logistics_offline_send_response": {"shipping": {"is_success": True}}})
        if method == "taobao.trade.fullinfo.get":
            for trade in self.orders:
                if str(trade["tid"]) == params["tid"]:
                    return FakeResponse({"trade_fullinfo_get_response": {"trade": trade}})
            return self._error(15, "Remote service error", "isv.trade-not-exist")
        return self._error(22, "Invalid method", "isv.invalid-method")

    def _increment(self, params: dict[str, str]) -> FakeResponse:
        start, end = _china(params.get("start_modified", "")), _china(params.get("end_modified", ""))
        if start is None or end is None or end < start or end - start > timedelta(days=1):
            return self._error(41, "Invalid arguments", "isv.invalid-parameter", "时间跨度不能超过一天")
        size, page = int(params.get("page_size", 40)), int(params.get("page_no", 1))
        if not 1 <= size <= 100:
            return self._error(41, "Invalid arguments", "isv.invalid-parameter:page_size")
        self.windows.append((start, end))
        matching = [t for t in self.orders if (m := _china(t.get("modified"))) and start <= m <= end]
        matching.sort(key=lambda t: (t["modified"], t["tid"]), reverse=True)
        body: dict[str, Any] = {"total_results": len(matching)}
        if matching:
            fields = params.get("fields", "")
            trades = _page(matching, page, size)
            body["trades"] = {"trade": trades if fields != "tid" else [{"tid": t["tid"]} for t in trades]}
        return FakeResponse({"trades_sold_increment_get_response": body})


# --- JD (JOS)
# -------------------------------------------------------------------------------------------------


def jd_order(index: int, modified: datetime) -> dict:
    """A JOS OrderSearchInfo built from the documented optional_fields (no published JD sample exists)."""
    return {
        "orderId": str(30000000000 + index),
        "venderId": "10086",
        "orderType": "22",
        "payType": "4-在线支付",
        "orderTotalPrice": "199.00",
        "orderSellerPrice": "189.00",
        "orderPayment": "197.00",
        "freightPrice": "8.00",
        "sellerDiscount": "10.00",
        "orderState": "WAIT_SELLER_STOCK_OUT",
        "orderStateRemark": "等待出库",
        "orderRemark": "请尽快发货",
        "venderRemark": "",
        "orderStartTime": "2025-03-01 09:59:00",
        "paymentConfirmTime": "2025-03-01 10:00:05",
        "orderEndTime": "",
        "modified": _fmt_china(modified),
        "pin": "jd_buyer_x",
        "open_id_buyer": "open-buyer-1",
        "consigneeInfo": {
            "fullname": "李*",
            "mobile": "138****0000",
            "telephone": "",
            "province": "北京",
            "city": "北京市",
            "county": "朝阳区",
            "fullAddress": "北京朝阳区建国路**号",
        },
        "itemInfoList": [
            {
                "skuId": "100012",
                "outerSkuId": "SKU-JD-1",
                "skuName": "保温杯 500ml",
                "jdPrice": "99.50",
                "itemTotal": "2",
            }
        ],
        "couponDetailList": [{"skuId": "100012", "couponType": "20-套装优惠", "couponPrice": "10.00"}],
    }


class JDFake(FakeBehaviour):
    """JOS routerjson: 360buy_param_json, md5 sign, pop.order.search with dateType/sortType, ≤ 1 month."""

    platform = "jd"

    def base_url(self, server_url: str) -> str:
        return f"{server_url}/routerjson"

    def make_order(self, index: int, updated: datetime) -> dict:
        return jd_order(index, updated)

    @staticmethod
    def _error(code: str, en: str) -> FakeResponse:
        return FakeResponse({"error_response": {"code": code, "zh_desc": en, "en_desc": en}})

    def break_response(self, body: Any) -> Any:
        body["jingdong_pop_order_search_responce"]["searchorderinfo_result"].pop("orderTotal", None)
        return body

    def handle(self, request: FakeRequest) -> FakeResponse:
        params = request.params
        if params.get("sign") != _md5_wrapped(params, APP_SECRET) or params.get("app_key") != APP_KEY:
            return self._error("19", "Invalid signature")
        if params.get("access_token") != ACCESS_TOKEN:
            return self._error("18", "Invalid access_token")
        business = json.loads(params.get("360buy_param_json", "{}"))
        if params["method"] == "jingdong.pop.order.shipment":
            self.shipments.append(business)
            result = {"success": True, "chineseErrCode": "成功", "englishErrCode": "success"}
            return FakeResponse({"jingdong_pop_order_shipment_responce": {"sopjosshipment_result": result}})
        if params["method"] != "jingdong.pop.order.search":
            return self._error("21", "Invalid method")
        start, end = _china(business.get("start_date", "")), _china(business.get("end_date", ""))
        size, page = int(business.get("page_size", 0)), int(business.get("page", 0))
        if (
            start is None
            or end is None
            or end - start > timedelta(days=31)
            or not 1 <= size <= 50
            or page < 1
        ):
            api = {"success": False, "englishErrCode": "invalid parameter", "numberCode": 10100}
            return FakeResponse(
                {"jingdong_pop_order_search_responce": {"searchorderinfo_result": {"apiResult": api}}}
            )
        assert (
            business.get("dateType") == 0 and business.get("order_state") and business.get("optional_fields")
        )
        self.windows.append((start, end))
        matching = [o for o in self.orders if start <= _china(o["modified"]) <= end]  # type: ignore[operator]
        matching.sort(key=lambda o: o["modified"], reverse=business.get("sortType") == 1)
        result = {
            "apiResult": {
                "success": True,
                "chineseErrCode": "成功",
                "englishErrCode": "success",
                "numberCode": 10100000,
            },
            "orderTotal": len(matching),
            "orderInfoList": _page(matching, page, size),
        }
        return FakeResponse({"jingdong_pop_order_search_responce": {"searchorderinfo_result": result}})


# --- Pinduoduo
# ------------------------------------------------------------------------------------------------


class PinduoduoFake(FakeBehaviour):
    """PDD router: flattened params, md5 sign, increment.get ≤ 30 min, sorted by updated_at DESC."""

    platform = "pinduoduo"

    def load_samples(self) -> None:
        if self.samples_dir:
            self.orders.extend(
                self.sample("pdd_order_list_get_response_docs_example.json")["order_list_get_response"][
                    "order_list"
                ]
            )

    def base_url(self, server_url: str) -> str:
        return f"{server_url}/api/router"

    def make_order(self, index: int, updated: datetime) -> dict:
        order = copy.deepcopy(self.orders[0]) if self.orders else {"item_list": [{}]}
        order.update(
            order_sn=f"250301-{index:06d}",
            updated_at=_fmt_china(updated),
            created_time="2025-03-01 08:00:00",
            pay_time="2025-03-01 08:00:10",
            shipping_time="",
            receive_time="",
            last_ship_time="",
        )
        return order

    @staticmethod
    def _error(code: int, msg: str) -> FakeResponse:
        error = {"error_code": code, "error_msg": msg, "sub_code": None, "sub_msg": "", "request_id": "fake"}
        return FakeResponse({"error_response": error})

    def throttle_response(self) -> FakeResponse:
        return self._error(70031, "调用过于频繁，请调整调用频率")

    def break_response(self, body: Any) -> Any:
        body["order_sn_increment_get_response"].pop("total_count", None)
        return body

    def handle(self, request: FakeRequest) -> FakeResponse:
        params = request.params
        for required in ("type", "client_id", "timestamp", "sign"):
            if required not in params:
                return self._error(10001, f"公共参数错误:{required}")
        if params["sign"] != _md5_wrapped(params, APP_SECRET) or params["client_id"] != APP_KEY:
            return self._error(20004, "签名验证失败")
        if params.get("access_token") != ACCESS_TOKEN:
            return self._error(10019, "access_token已过期")
        if abs(int(params["timestamp"]) - time.time()) > 600:
            return self._error(10001, "公共参数错误:timestamp")
        if params["type"] == "pdd.logistics.online.send":
            self.shipments.append({k: params[k] for k in ("order_sn", "logistics_id", "tracking_number")})
            return FakeResponse({"logistics_online_send_response": {"is_success": True}})
        if params["type"] != "pdd.order.number.list.increment.get":
            return self._error(10001, "公共参数错误:type")
        start = datetime.fromtimestamp(int(params["start_updated_at"]), UTC)
        end = datetime.fromtimestamp(int(params["end_updated_at"]), UTC)
        size, page = int(params.get("page_size", 100)), int(params.get("page", 1))
        if end < start or end - start > timedelta(minutes=30):
            return self._error(50000, "时间间隔不能超过30分钟")
        if not 1 <= size <= 100:
            return self._error(50000, "page_size不合法")
        self.windows.append((start, end))
        matching = [o for o in self.orders if (u := _china(o.get("updated_at"))) and start <= u <= end]
        matching.sort(key=lambda o: o["updated_at"], reverse=True)
        body = {
            "total_count": len(matching),
            "order_sn_list": _page(matching, page, size),
            "has_next": page * size < len(matching),
        }
        return FakeResponse({"order_sn_increment_get_response": body})


# --- Douyin
# ---------------------------------------------------------------------------------------------------


class DouyinFake(FakeBehaviour):
    """Douyin gateway: /order/searchList, v2 md5 sign over app_key/method/param_json/timestamp/v, 0-based
    pages.
    """

    platform = "douyin"

    def load_samples(self) -> None:
        if self.samples_dir:
            data = load_jsonc(
                self.samples_dir
                / "platforms"
                / "douyin_order_searchList_shop_order_list_via_agiso_docs.jsonc"
            )
            self.orders.extend(data["data"]["shop_order_list"])

    def make_order(self, index: int, updated: datetime) -> dict:
        order = copy.deepcopy(self.orders[0]) if self.orders else {"sku_order_list": [{}]}
        order.update(
            order_id=str(6900000000000000000 + index), update_time=int(updated.timestamp()), main_status=2
        )
        for sku in order["sku_order_list"]:
            sku["order_id"] = f"{order['order_id']}1"
            sku["parent_order_id"] = order["order_id"]
        return order

    @staticmethod
    def _error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> FakeResponse:
        return FakeResponse(
            {
                "code": code,
                "msg": msg,
                "sub_code": sub_code,
                "sub_msg": sub_msg,
                "data": None,
                "log_id": "fake",
            }
        )

    def throttle_response(self) -> FakeResponse:
        return self._error(90000, "服务繁忙", "isp.access-limit", "调用频率超限")

    def break_response(self, body: Any) -> Any:
        body["data"].pop("total", None)
        return body

    def handle(self, request: FakeRequest) -> FakeResponse:
        query = request.query
        method = query.get("method", "")
        param_json = request.body.decode()
        pattern = f"app_key{query.get('app_key')}method{method}param_json{param_json}timestamp{query.get('timestamp')}v{query.get('v')}"
        expected = hashlib.md5(f"{APP_SECRET}{pattern}{APP_SECRET}".encode()).hexdigest()
        if (
            query.get("sign") != expected
            or query.get("app_key") != APP_KEY
            or query.get("sign_method") != "md5"
        ):
            return self._error(40004, "签名校验失败", "isv.signature-invalid")
        if query.get("access_token") != ACCESS_TOKEN:
            return self._error(30002, "access_token已过期", "isv.access-token-expired")
        if request.path != "/" + method.replace(".", "/"):
            return self._error(40002, "method与路径不一致")
        business = json.loads(param_json)
        if param_json != json.dumps(business, sort_keys=True, separators=(",", ":"), ensure_ascii=False):
            return self._error(40004, "param_json未按key排序", "isv.param-json-unsorted")
        if method == "order.logisticsAdd":
            self.shipments.append(business)
            return FakeResponse({"code": 10000, "msg": "success", "data": {}, "log_id": "fake"})
        start = datetime.fromtimestamp(business["update_time_start"], UTC)
        end = datetime.fromtimestamp(business["update_time_end"], UTC)
        page, size = business["page"], business["size"]
        if not 1 <= size <= 100 or page < 0 or business.get("order_by") != "update_time":
            return self._error(40003, "参数错误", "isv.parameter-invalid")
        self.windows.append((start, end))
        matching = [o for o in self.orders if start.timestamp() <= o["update_time"] <= end.timestamp()]
        matching.sort(key=lambda o: o["update_time"], reverse=not business.get("order_asc"))
        data = {
            "shop_order_list": _page(matching, page + 1, size),
            "page": page,
            "size": size,
            "total": len(matching),
        }
        return FakeResponse(
            {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "data": data, "log_id": "fake"}
        )


# --- WeChat Channels shop
# -------------------------------------------------------------------------------------


class WeChatFake(FakeBehaviour):
    """channels/ec/order: access_token in the query, list/get returns ids + next_key, order/get returns
    details.
    """

    platform = "wechat"
    page_cap = 100

    def load_samples(self) -> None:
        if self.samples_dir:
            self.orders.append(self.sample("wechat_channels_ec_order_get_docs_example.json")["order"])

    def make_order(self, index: int, updated: datetime) -> dict:
        order = copy.deepcopy(self.orders[0]) if self.orders else {"order_detail": {"product_infos": []}}
        order.update(order_id=str(3700000000000000 + index), update_time=int(updated.timestamp()))
        return order

    def throttle_response(self) -> FakeResponse:
        return FakeResponse({"errcode": 45009, "errmsg": "reach max api daily quota limit"})

    def break_response(self, body: Any) -> Any:
        body.pop("order_id_list", None)
        return body

    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.query.get("access_token") != ACCESS_TOKEN:
            return FakeResponse(
                {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
            )
        body = request.json()
        if request.path == "/channels/ec/order/list/get":
            span = body.get("update_time_range") or {}
            start, end = span.get("start_time"), span.get("end_time")
            size = body.get("page_size", 10)
            if start is None or end is None or end - start > 7 * 86400 or not 1 <= size <= self.page_cap:
                return FakeResponse({"errcode": 47001, "errmsg": "data format error"})
            self.windows.append((datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)))
            matching = sorted(
                (o for o in self.orders if start <= o["update_time"] <= end), key=lambda o: o["update_time"]
            )
            offset = int(body.get("next_key") or 0)
            chunk = matching[offset : offset + size]
            more = offset + size < len(matching)
            return FakeResponse(
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "order_id_list": [o["order_id"] for o in chunk],
                    "next_key": str(offset + size),
                    "has_more": more,
                }
            )
        if request.path == "/channels/ec/order/get":
            for order in self.orders:
                if order["order_id"] == body.get("order_id"):
                    return FakeResponse({"errcode": 0, "errmsg": "ok", "order": order})
            return FakeResponse({"errcode": 100002, "errmsg": "order not exist"})
        if request.path == "/channels/ec/order/delivery/send":
            self.shipments.append(body)
            return FakeResponse({"errcode": 0, "errmsg": "ok"})
        return FakeResponse({"errcode": 43004, "errmsg": "unknown api"}, status=404)


# --- TikTok Shop
# ----------------------------------------------------------------------------------------------


def tts_expected_sign(path: str, query: dict[str, str], body: bytes) -> str:
    """202309 signature as documented: secret + path + sorted(k+v) + body + secret, HMAC-SHA256 hex."""
    joined = "".join(k + query[k] for k in sorted(query) if k not in ("sign", "access_token"))
    text = APP_SECRET.encode() + path.encode() + joined.encode() + body + APP_SECRET.encode()
    return hmac.new(APP_SECRET.encode(), text, hashlib.sha256).hexdigest()


class TikTokFake(FakeBehaviour):
    """Partner API 202309: HMAC-SHA256 request signature, orders/search with page_token cursors."""

    platform = "tiktok"

    def load_samples(self) -> None:
        if self.samples_dir:
            self.orders.extend(self.sample("tiktokshop_orders_search_202309_real_masked_vn_2.json"))

    def make_order(self, index: int, updated: datetime) -> dict:
        order = (
            copy.deepcopy(self.orders[0]) if self.orders else {"line_items": [], "packages": [{"id": "1"}]}
        )
        order.update(id=str(581000000000000000 + index), update_time=int(updated.timestamp()))
        return order

    def break_response(self, body: Any) -> Any:
        body["data"].pop("orders", None)
        return body

    @staticmethod
    def _error(code: int, message: str, status: int = 200) -> FakeResponse:
        return FakeResponse(
            {"code": code, "message": message, "request_id": "fake", "data": {}}, status=status
        )

    def handle(self, request: FakeRequest) -> FakeResponse:
        query = request.query
        if query.get("app_key") != APP_KEY or query.get("sign") != tts_expected_sign(
            request.path, query, request.body
        ):
            return self._error(106001, "Invalid sign", status=401)
        if request.headers.get("x-tts-access-token") != ACCESS_TOKEN:
            return self._error(105002, "Expired credentials", status=401)
        if abs(int(query.get("timestamp", "0")) - time.time()) > 300:
            return self._error(106002, "Timestamp expired", status=401)
        if request.path == "/order/202309/orders/search":
            body = request.json()
            size = int(query.get("page_size", 0))
            if not 1 <= size <= 100:
                return self._error(36009003, "page_size must be 1-100", status=400)
            start, end = body["update_time_ge"], body["update_time_lt"]
            self.windows.append((datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)))
            matching = [o for o in self.orders if start <= o["update_time"] < end]
            matching.sort(key=lambda o: o["update_time"], reverse=query.get("sort_order") == "DESC")
            offset = int(query.get("page_token") or 0)
            chunk = matching[offset : offset + size]
            token = str(offset + size) if offset + size < len(matching) else ""
            return FakeResponse(
                {
                    "code": 0,
                    "message": "Success",
                    "request_id": "fake",
                    "data": {"orders": chunk, "next_page_token": token, "total_count": len(matching)},
                }
            )
        if request.path == "/order/202309/orders":
            ids = set(query.get("ids", "").split(","))
            data = {"orders": [o for o in self.orders if o["id"] in ids]}
            return FakeResponse({"code": 0, "message": "Success", "request_id": "fake", "data": data})
        if request.path.startswith("/fulfillment/202309/packages/") and request.path.endswith("/ship"):
            self.shipments.append({"package_id": request.path.split("/")[4], **request.json()})
            return FakeResponse({"code": 0, "message": "Success", "request_id": "fake", "data": {}})
        return self._error(36009004, "Not found", status=404)


# --- Shopify
# --------------------------------------------------------------------------------------------------


class ShopifyFake(FakeBehaviour):
    """Admin REST 2025-07: token header, status filter (default open), updated_at filters, Link page_info
    cursors.
    """

    platform = "shopify"
    prefix = "/admin/api/2025-07"

    def __init__(self, samples_dir: Any) -> None:
        self.cursors: dict[str, dict] = {}
        self.fulfillment_orders: dict[str, list[dict]] = {}
        super().__init__(samples_dir)

    def load_samples(self) -> None:
        if self.samples_dir:
            self.orders.extend(self.sample("shopify_rest_2025-07_orders_list_status_any.json")["orders"])
            self.orders.append(
                self.sample("shopify_rest_2025-07_order_cancel_response.json")["order"] | {"id": 450789470}
            )

    def base_url(self, server_url: str) -> str:
        return f"{server_url}{self.prefix}"

    def make_order(self, index: int, updated: datetime) -> dict:
        order = copy.deepcopy(self.orders[0]) if self.orders else {"line_items": []}
        order.update(id=5000000000000 + index, updated_at=updated.isoformat(), cancelled_at=None)
        return order

    def break_response(self, body: Any) -> Any:
        body.pop("orders", None)
        return body

    def _matching(self, params: dict[str, str]) -> list[dict]:
        status = params.get("status", "open")
        low = datetime.fromisoformat(params["updated_at_min"]) if "updated_at_min" in params else None
        high = datetime.fromisoformat(params["updated_at_max"]) if "updated_at_max" in params else None
        result = []
        for order in self.orders:
            updated = datetime.fromisoformat(order["updated_at"])
            closed = bool(order.get("cancelled_at") or order.get("closed_at"))
            if status == "open" and closed:
                continue
            if (low and updated < low) or (high and updated > high):
                continue
            result.append(order)
        return sorted(result, key=lambda o: (o["updated_at"], o["id"]))

    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.headers.get("x-shopify-access-token") != ACCESS_TOKEN:
            return FakeResponse(
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
                401,
            )
        path = request.path.removeprefix(self.prefix)
        query = request.query
        if path == "/orders.json":
            if "page_info" in query:
                if set(query) - {"page_info", "limit", "fields"}:
                    return FakeResponse(
                        {"errors": {"page_info": ["Cannot filter by other params with page_info"]}}, 400
                    )
                state = self.cursors.get(query["page_info"])
                if state is None:
                    return FakeResponse({"errors": {"page_info": ["Invalid value."]}}, 400)
                params, offset = state["params"], state["offset"]
            else:
                params, offset = query, 0
            limit = int(query.get("limit", 50))
            if not 1 <= limit <= 250:
                return FakeResponse({"errors": {"limit": ["must be between 1 and 250"]}}, 400)
            if "updated_at_min" in params:
                self.windows.append(
                    (
                        datetime.fromisoformat(params["updated_at_min"]),
                        datetime.fromisoformat(params["updated_at_max"]),
                    )
                )
            matching = self._matching(params)
            chunk = matching[offset : offset + limit]
            headers = {}
            if offset + limit < len(matching):
                token = f"cursor{len(self.cursors) + 1}"
                self.cursors[token] = {"params": params, "offset": offset + limit}
                link = f"{self.server.url if self.server else ''}{self.prefix}/orders.json?{urlencode({'limit': limit, 'page_info': token})}"
                headers["Link"] = f'<{link}>; rel="next"'
            return FakeResponse({"orders": chunk}, headers=headers)
        if path == "/orders/count.json":
            return FakeResponse({"count": len(self._matching(query))})
        if path.endswith("/fulfillment_orders.json"):
            order_id = path.split("/")[2]
            default = [{"id": 1046000000 + int(order_id) % 1000, "order_id": int(order_id), "status": "open"}]
            return FakeResponse({"fulfillment_orders": self.fulfillment_orders.get(order_id, default)})
        if path == "/fulfillments.json" and request.method == "POST":
            self.shipments.append(request.json())
            return FakeResponse({"fulfillment": {"id": 255858047, "status": "success"}}, 201)
        return FakeResponse({"errors": "Not Found"}, 404)


# --- Own website
# ----------------------------------------------------------------------------------------------


def website_order(index: int, updated: datetime) -> dict:
    """An order in the OMS website feed format."""
    return {
        "id": f"W{10000 + index}",
        "status": "paid",
        "created_at": "2025-03-01T10:15:00+08:00",
        "updated_at": updated.isoformat(),
        "paid_at": "2025-03-01T10:16:30+08:00",
        "shipped_at": None,
        "completed_at": None,
        "currency": "CNY",
        "customer": {"id": "c-17", "name": "张三", "phone": "13800000000", "email": "zhang@example.com"},
        "shipping_address": {
            "name": "张三",
            "phone": "13800000000",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "street": "文三路 1 号",
            "postcode": "310000",
            "country": "CN",
        },
        "lines": [
            {
                "id": "L1",
                "sku": "SKU-1",
                "name": "茶杯",
                "quantity": 2,
                "unit_price": "99.00",
                "discount": "10.00",
                "total": "188.00",
                "status": None,
            }
        ],
        "subtotal": "198.00",
        "discount": "10.00",
        "shipping": "8.00",
        "tax": "0.00",
        "total": "196.00",
        "paid_amount": "196.00",
        "buyer_note": "请用纸箱",
        "seller_note": "",
    }


class WebsiteFake(FakeBehaviour):
    """The OMS-defined feed: HMAC over "ts\\nMETHOD\\npath?query\\nbody", cursor paging, shipments endpoint."""

    platform = "website"
    prefix = "/oms/v1"

    def base_url(self, server_url: str) -> str:
        return f"{server_url}{self.prefix}"

    def make_order(self, index: int, updated: datetime) -> dict:
        return website_order(index, updated)

    def break_response(self, body: Any) -> Any:
        body.pop("next_cursor", None)
        return body

    def refusal(self, request: FakeRequest) -> FakeResponse | None:
        """The 401 answer for a bad signature or a stale timestamp; None when the request is authentic."""
        timestamp = request.headers.get("x-oms-timestamp", "")
        message = f"{timestamp}\n{request.method}\n{request.raw_path}\n".encode() + request.body
        expected = hmac.new(APP_SECRET.encode(), message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-oms-signature", ""), expected):
            return FakeResponse({"error": "bad_signature"}, 401)
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 300:
            return FakeResponse({"error": "stale_timestamp"}, 401)
        return None

    def handle(self, request: FakeRequest) -> FakeResponse:
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        path = request.path.removeprefix(self.prefix)
        if path == "/orders" and request.method == "GET":
            low = datetime.fromisoformat(request.query["updated_from"])
            high = datetime.fromisoformat(request.query["updated_to"])
            limit = int(request.query.get("limit", 100))
            self.windows.append((low, high))
            matching = sorted(
                (o for o in self.orders if low <= datetime.fromisoformat(o["updated_at"]) <= high),
                key=lambda o: o["updated_at"],
            )
            offset = (
                int(base64.urlsafe_b64decode(request.query["cursor"]).decode())
                if request.query.get("cursor")
                else 0
            )
            end = offset + limit
            cursor = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(matching) else None
            return FakeResponse(
                {"orders": matching[offset:end], "next_cursor": cursor, "total": len(matching)}
            )
        if path.startswith("/orders/") and path.endswith("/shipments") and request.method == "POST":
            self.shipments.append({"order_id": path.split("/")[2], **request.json()})
            return FakeResponse({"ok": True})
        return FakeResponse({"error": "not_found"}, 404)


BEHAVIOURS: dict[str, type[FakeBehaviour]] = {
    "taobao": TaobaoFake,
    "tmall": TaobaoFake,
    "jd": JDFake,
    "pinduoduo": PinduoduoFake,
    "douyin": DouyinFake,
    "wechat": WeChatFake,
    "tiktok": TikTokFake,
    "shopify": ShopifyFake,
    "website": WebsiteFake,
}

__all__ = ["BEHAVIOURS", "jd_order", "website_order"]
