"""Kuaidi100 (快递100) real-time query API: POST https://poll.kuaidi100.com/poll/query.do, form fields
customer, sign = upper(md5(param + key + customer)) and param = JSON {com, num, phone?}. The answer is
{message, state, status, ischeck, com, nu, data: [{time, ftime, context}, ...] newest first}; errors come
as {result: false, returnCode, message}.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import httpx

from orders.tracking.base import (
    Checkpoint,
    TrackingAdapter,
    TrackingError,
    TrackingResult,
    TrackingState,
    register,
)

DEFAULT_URL = "https://poll.kuaidi100.com/poll/query.do"
TIMEOUT_SECONDS = 10.0

STATES = {
    "0": TrackingState.IN_TRANSIT,  # 在途
    "1": TrackingState.PICKED_UP,  # 揽收
    "2": TrackingState.PROBLEM,  # 疑难
    "3": TrackingState.DELIVERED,  # 签收
    "4": TrackingState.RETURNED,  # 退签: back with the sender
    "5": TrackingState.OUT_FOR_DELIVERY,  # 派件
    "6": TrackingState.RETURNING,  # 退回: on its way back
    "7": TrackingState.IN_TRANSIT,  # 转投
    "8": TrackingState.IN_TRANSIT,  # 清关
    "14": TrackingState.REFUSED,  # 拒签
}
"""Kuaidi100 state code → normalised state."""

CARRIER_CODES = {
    "sf": "shunfeng",
    "顺丰": "shunfeng",
    "顺丰速运": "shunfeng",
    "zto": "zhongtong",
    "中通": "zhongtong",
    "yto": "yuantong",
    "圆通": "yuantong",
    "sto": "shentong",
    "申通": "shentong",
    "yd": "yunda",
    "yunda": "yunda",
    "韵达": "yunda",
    "ems": "ems",
    "jd": "jd",
    "京东": "jd",
    "jt": "jtexpress",
    "极兔": "jtexpress",
    "邮政": "youzhengguonei",
    "debang": "debangkuaidi",
    "德邦": "debangkuaidi",
}
"""Carrier names clerks type → Kuaidi100 company codes (anything else is passed on lower-cased)."""


def company_code(carrier: str) -> str:
    """The Kuaidi100 code for a carrier name as typed on a shipment."""
    name = carrier.strip()
    return CARRIER_CODES.get(name.lower(), CARRIER_CODES.get(name, name.lower()))


def sign(param: str, key: str, customer: str) -> str:
    """Kuaidi100's request signature."""
    return hashlib.md5((param + key + customer).encode()).hexdigest().upper()  # noqa: S324 - their protocol


def _time(value: str) -> dt.datetime | None:
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return dt.datetime.strptime(value.strip(), pattern)
        except ValueError:
            continue
    return None


@register("kuaidi100")
class Kuaidi100Adapter(TrackingAdapter):
    """Queries Kuaidi100 with the merchant's customer id and key."""

    def __init__(
        self, *, customer: str, key: str, url: str = DEFAULT_URL, client: httpx.Client | None = None
    ):
        self.customer, self.secret, self.url, self.client = customer, key, url, client

    def query(self, *, carrier: str, tracking_number: str, phone: str = "") -> TrackingResult:
        """POST one query; translate the answer (or raise TrackingError)."""
        payload = {"com": company_code(carrier), "num": tracking_number.strip()}
        if phone:
            payload["phone"] = phone
        param = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        form = {"customer": self.customer, "sign": sign(param, self.secret, self.customer), "param": param}
        http = self.client or httpx.Client(timeout=TIMEOUT_SECONDS)
        try:
            response = http.post(self.url, data=form)
        except httpx.HTTPError as error:
            raise TrackingError(f"Kuaidi100 unreachable: {type(error).__name__}: {error}"[:500])
        finally:
            if self.client is None:
                http.close()
        if response.status_code != 200:
            raise TrackingError(f"Kuaidi100 answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise TrackingError("Kuaidi100 answered something that is not JSON")
        if body.get("result") is False or str(body.get("status", "200")) != "200":
            raise TrackingError(
                f"Kuaidi100 refused the query: {body.get('returnCode', '')} {body.get('message', '')}".strip(),
                code="tracking_refused",
            )
        raw_state = str(body.get("state", ""))
        checkpoints = []
        for item in body.get("data") or []:
            when = _time(str(item.get("ftime") or item.get("time") or ""))
            text = str(item.get("context", "")).strip()
            if when and text:
                checkpoints.append(Checkpoint(time=when, description=text, state=str(item.get("status", ""))))
        checkpoints.sort(key=lambda c: c.time)
        return TrackingResult(
            state=STATES.get(raw_state, TrackingState.UNKNOWN),
            checkpoints=checkpoints,
            raw_state=raw_state,
            signed=str(body.get("ischeck", "")) == "1",
        )
