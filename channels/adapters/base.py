"""The adapter contract: plain dataclasses for orders, the `OrderAdapter` base class and its HTTP helper.

Adapters translate a platform's HTTP API into these dataclasses and back; they never touch the database. The
sync service (channels/services.py) drives them: `fetch_orders(start, end)` pages through every time window,
`parse_order` maps one raw platform order, `verify_webhook` authenticates a push, `confirm_shipment` pushes a
tracking number back.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx

from channels.adapters.convert import ZERO, require_aware
from channels.adapters.errors import (
    AdapterError,
    MalformedResponse,
    PlatformError,
    PlatformUnavailable,
    RateLimited,
    SignatureError,
)

__all__ = [
    "AdapterError",
    "Credentials",
    "MalformedResponse",
    "OrderAdapter",
    "OrderPage",
    "PlatformAddress",
    "PlatformError",
    "PlatformOrder",
    "PlatformOrderLine",
    "PlatformUnavailable",
    "RateLimited",
    "SignatureError",
    "WebhookDelivery",
    "INTERNAL_STATUSES",
]

logger = logging.getLogger("channels.adapters")

#: The internal order statuses a platform status may map to (values of the orders app's status choices).
INTERNAL_STATUSES = frozenset(
    {
        "pending_payment",
        "pending_review",
        "awaiting_shipment",
        "partially_shipped",
        "shipped",
        "delivered",
        "completed",
        "cancelled",
        "closed",
    }
)


@dataclass(kw_only=True, slots=True)
class PlatformAddress:
    """A shipping address as the platform gave it (often masked or encrypted by the China platforms)."""

    receiver: str = ""
    phone: str = ""
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    postcode: str = ""
    country: str = ""


@dataclass(kw_only=True, slots=True)
class PlatformOrderLine:
    """One order line: amounts are Decimal in the order currency; `raw` is the line's JSON as received."""

    external_line_id: str
    sku_code: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = ZERO
    total: Decimal = ZERO
    platform_status: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(kw_only=True, slots=True)
class PlatformOrder:
    """One platform order mapped to plain data; `platform_status` is the platform's own raw status value."""

    external_id: str
    platform_status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    completed_at: datetime | None = None
    buyer_id: str = ""
    buyer_name: str = ""
    buyer_phone: str = ""
    buyer_email: str = ""
    address: PlatformAddress = field(default_factory=PlatformAddress)
    lines: list[PlatformOrderLine] = field(default_factory=list)
    subtotal: Decimal = ZERO
    discount: Decimal = ZERO
    shipping: Decimal = ZERO
    tax: Decimal = ZERO
    total: Decimal = ZERO
    paid_amount: Decimal = ZERO
    currency: str = "CNY"
    buyer_note: str = ""
    seller_note: str = ""
    raw: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class OrderPage:
    """One page of orders from one time window; `cursor` is the page number or token that produced it."""

    orders: list[PlatformOrder]
    window_start: datetime | None = None
    window_end: datetime | None = None
    cursor: str | None = None
    next_cursor: str | None = None
    has_more: bool = False
    total: int | None = None


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """What a channel needs to call its platform; secrets are kept out of repr so they never reach a log."""

    app_key: str = ""
    app_secret: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    shop_id: str = ""
    extra: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True, kw_only=True)
class WebhookDelivery:
    """A verified push: `delivery_id` is the platform's id for dedupe; `order_ids` when only ids are pushed."""

    delivery_id: str
    topic: str
    orders: list[PlatformOrder] = field(default_factory=list)
    order_ids: list[str] = field(default_factory=list)
    shop_id: str = ""
    payload: dict = field(default_factory=dict, repr=False, compare=False)


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lower-cased, since HTTP header names are case-insensitive."""
    return {str(k).lower(): v for k, v in headers.items()}


def parse_json(content: bytes | str, *, what: str) -> Any:
    """Parse JSON with every non-integer number as Decimal (never float); `MalformedResponse` if it is not
    JSON.
    """
    try:
        return json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse(f"{what}: response is not JSON ({exc.__class__.__name__})")


def dig(data: Any, *path: str | int, what: str) -> Any:
    """Follow `path` through nested dicts/lists, raising `MalformedResponse` naming the first missing key."""
    current = data
    walked: list[str] = []
    for key in path:
        walked.append(str(key))
        try:
            current = current[key]
        except (KeyError, IndexError, TypeError):
            raise MalformedResponse(f"{what}: missing key '{'.'.join(walked)}'")
    return current


class OrderAdapter(ABC):
    """Base class of every platform adapter; subclasses register with `@register` under their `platform` key."""

    platform: ClassVar[str]
    default_base_url: ClassVar[str] = ""
    #: The platform's longest allowed (or advisable) query window on modified time.
    max_window: ClassVar[timedelta]
    #: Each window starts this much before the previous one ended, so an order modified at the boundary is
    #: kept.
    overlap: ClassVar[timedelta] = timedelta(minutes=2)
    default_status_map: ClassVar[dict[str, str]] = {}
    currency: ClassVar[str] = "CNY"
    timeout: ClassVar[float] = 30.0
    max_backoff: ClassVar[float] = 60.0

    def __init__(
        self,
        credentials: Credentials,
        base_url: str | None = None,
        *,
        client: httpx.Client | None = None,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._client = client or httpx.Client(timeout=self.timeout)
        self._owns_client = client is None
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.platform} {self.base_url}>"

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> OrderAdapter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- time windows
    # -------------------------------------------------------------------------------------------

    def iter_windows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Split [start, end] into windows of at most `max_window`, each starting `overlap` before the last
        end.
        """
        yield from self._windows(start, end, self.overlap)

    def _windows(
        self, start: datetime, end: datetime, overlap: timedelta
    ) -> Iterator[tuple[datetime, datetime]]:
        require_aware(start)
        require_aware(end)
        if overlap >= self.max_window:
            raise ValueError(
                f"{self.platform}: overlap {overlap} must be shorter than max_window {self.max_window}"
            )
        cursor = start
        while cursor < end:
            window_end = min(cursor + self.max_window, end)
            yield cursor, window_end
            if window_end >= end:
                return
            cursor = window_end - overlap

    # --- the contract
    # -------------------------------------------------------------------------------------------

    def fetch_orders(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        """Every page of every window of orders modified in [start, end], in the platform's safe paging order.

        Pass an `end` a little in the past: paging is only gap-free for a window no new modification can
        enter.
        """
        for window_start, window_end in self.iter_windows(start, end):
            yield from self._fetch_window(window_start, window_end)

    @abstractmethod
    def _fetch_window(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        """All pages of orders modified within one window (at most `max_window` long)."""

    @abstractmethod
    def parse_order(self, raw: dict) -> PlatformOrder:
        """Map one raw platform order (as the platform's JSON gives it) to a `PlatformOrder`; pure."""

    @abstractmethod
    def confirm_shipment(self, external_id: str, carrier_code: str, tracking_number: str) -> None:
        """Tell the platform the order shipped, with the carrier code the platform expects and the tracking
        no.
        """

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """Verify a pushed delivery's signature on the raw body and return its orders; this platform has none."""
        raise AdapterError(
            "webhook_unsupported", f"{self.platform} has no HTTP webhook OMS can receive; poll instead"
        )

    def count_orders(self, start: datetime, end: datetime) -> int:
        """How many orders the platform says were modified in [start, end] (windows without overlap)."""
        return sum(self._count_window(ws, we) for ws, we in self._windows(start, end, timedelta(0)))

    def _count_window(self, start: datetime, end: datetime) -> int:
        raise AdapterError("count_unsupported", f"{self.platform} does not report a total order count")

    def map_status(self, platform_status: str, overrides: Mapping[str, str] | None = None) -> str | None:
        """The internal status for a platform status: the channel's overrides first, then the default map."""
        if overrides and platform_status in overrides:
            return overrides[platform_status]
        return self.default_status_map.get(platform_status)

    # --- helpers for subclasses
    # ---------------------------------------------------------------------------------

    def _parse_many(self, raws: list, *, what: str) -> list[PlatformOrder]:
        """Parse a page's raw orders, turning any shape error into `MalformedResponse` naming the order."""
        if not isinstance(raws, list):
            raise MalformedResponse(f"{what}: order list is {type(raws).__name__}, not a list")
        return [self._parse_one(raw, what=what) for raw in raws]

    def _parse_one(self, raw: Any, *, what: str) -> PlatformOrder:
        if not isinstance(raw, dict):
            raise MalformedResponse(f"{what}: order is {type(raw).__name__}, not an object")
        try:
            return self.parse_order(raw)
        except AdapterError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
            raise MalformedResponse(f"{what}: order could not be read ({exc.__class__.__name__}: {exc})")

    def _reverse_pages(
        self,
        fetch_page: Callable[[int], tuple[list, int]],
        *,
        page_size: int,
        window: tuple[datetime, datetime],
        first_page: int = 1,
        what: str,
    ) -> Iterator[OrderPage]:
        """Page a modified-time window from the last page back to the first.

        The platforms sort by modified time; an order modified while we page leaves the window and everything
        behind it moves up one slot. Reading last-to-first means a moved order lands on a page not read yet
        (at worst it is read twice), never on one already read. The first call only learns the total.
        """
        raws, total = fetch_page(first_page)
        pages = max(1, math.ceil(total / page_size))
        if pages > 1:
            page_numbers = list(range(first_page + pages - 1, first_page - 1, -1))
        else:
            page_numbers = [first_page]
        for index, number in enumerate(page_numbers):
            if pages > 1:
                raws, _ = fetch_page(number)
            yield OrderPage(
                orders=self._parse_many(raws, what=f"{what} page {number}"),
                window_start=window[0],
                window_end=window[1],
                cursor=str(number),
                next_cursor=str(page_numbers[index + 1]) if index + 1 < len(page_numbers) else None,
                has_more=index + 1 < len(page_numbers),
                total=total,
            )

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """Send one API call with retries; returns (parsed JSON, response).

        429 (honouring Retry-After), 5xx and transport errors are retried with exponential backoff
        (`backoff_base * 2**attempt`, capped) up to `max_retries` times, then `RateLimited` /
        `PlatformUnavailable`. A body that is not JSON raises `MalformedResponse`. The platform's own error
        envelope is checked by `_check_payload`, which may raise `RateLimited` to be retried too.
        """
        last_error: AdapterError | None = None
        for attempt in range(self.max_retries + 1):
            delay = min(self.backoff_base * (2**attempt), self.max_backoff)
            try:
                response = self._client.request(
                    method, url, params=params, data=data, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                last_error = PlatformUnavailable(f"{what}: {exc.__class__.__name__}")
            else:
                if response.status_code == 429:
                    retry_after = _retry_after(response)
                    last_error = RateLimited(f"{what}: HTTP 429", retry_after=retry_after)
                    if retry_after is not None:
                        delay = min(retry_after, self.max_backoff)
                elif response.status_code >= 500:
                    last_error = PlatformUnavailable(f"{what}: HTTP {response.status_code}")
                else:
                    try:
                        payload = parse_json(response.content, what=f"{what} (HTTP {response.status_code})")
                    except MalformedResponse:
                        if response.status_code >= 400:
                            raise PlatformError(f"{what}: HTTP {response.status_code}")
                        raise
                    try:
                        self._check_payload(payload, response, what=what)
                    except RateLimited as exc:
                        last_error = exc
                        if exc.retry_after is not None:
                            delay = min(exc.retry_after, self.max_backoff)
                    else:
                        if response.status_code >= 400:
                            raise PlatformError(f"{what}: HTTP {response.status_code}")
                        return payload, response
            if attempt >= self.max_retries:
                break
            logger.warning(
                "%s %s: attempt %d failed (%s); retrying in %.2fs",
                self.platform,
                what,
                attempt + 1,
                last_error.code if last_error else "?",
                delay,
            )
            self._sleep(delay)
        assert last_error is not None
        raise last_error

    def _check_payload(self, payload: Any, response: httpx.Response, *, what: str) -> None:
        """Raise the right error for the platform's error envelope (`RateLimited` is retried); default: none."""
        return None


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
