"""Value conversions shared by the adapters: platform money units to Decimal, platform times to aware
datetimes.

Every function raises `MalformedResponse` naming the field when a value is not what the platform documents, so
a bad payload is reported as "taobao order 123: pay_time '2024-13-01' is not a time", never as a bare
ValueError.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from channels.adapters.errors import MalformedResponse

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: China Standard Time has no daylight saving, so a fixed offset is exact (and needs no tz database).
CHINA_TZ = timezone(timedelta(hours=8), "GMT+8")
CHINA_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def to_decimal(value: object, *, field: str) -> Decimal:
    """Convert a platform money value in major units (yuan, dollars) to a cent-quantized Decimal, exactly.

    Strings and ints convert directly; a float (a JSON number parsed without `parse_float=Decimal`) goes
    through its shortest repr, which is the literal the platform sent, so no binary-float error creeps in.
    None and "" mean "not given" and become 0.00.
    """
    if value is None or value == "":
        return ZERO
    if isinstance(value, bool):
        raise MalformedResponse(f"{field}: {value!r} is not an amount")
    if isinstance(value, float):
        value = repr(value)
    if type(value) is str:  # most amounts, and few distinct ones ("99.00", "0.00"): converted once
        amount = _cents_from_text(value)
        if amount is None:
            raise MalformedResponse(f"{field}: {value!r} is not an amount")
        return amount
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise MalformedResponse(f"{field}: {value!r} is not an amount")
    if not amount.is_finite():
        raise MalformedResponse(f"{field}: {value!r} is not an amount")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@lru_cache(maxsize=4096)
def _cents_from_text(text: str) -> Decimal | None:
    """A money string as a cent-quantized Decimal (immutable, so shared safely); None if it is not one."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return amount.quantize(CENT, rounding=ROUND_HALF_UP) if amount.is_finite() else None


def fen_to_decimal(value: object, *, field: str) -> Decimal:
    """Convert an integer amount in fen (1/100 yuan), as Douyin and WeChat send it, to Decimal yuan."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise MalformedResponse(f"{field}: {value!r} is not an amount in fen")
    try:
        fen = int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        raise MalformedResponse(f"{field}: {value!r} is not an amount in fen")
    return (Decimal(fen) / 100).quantize(CENT)


def china_time(value: object, *, field: str) -> datetime | None:
    """Parse "yyyy-MM-dd HH:mm:ss" in GMT+8 (Taobao, JD, PDD) into an aware datetime; empty means None."""
    if value is None or value == "":
        return None
    try:
        return datetime.strptime(str(value), CHINA_TIME_FORMAT).replace(tzinfo=CHINA_TZ)
    except ValueError:
        raise MalformedResponse(f"{field}: {value!r} is not a time (expected yyyy-MM-dd HH:mm:ss)")


def unix_time(value: object, *, field: str) -> datetime | None:
    """Parse a Unix timestamp in seconds (Douyin, WeChat, TikTok) into an aware UTC datetime; 0/empty is None."""
    if value is None or value == "" or value == 0 or value == "0":
        return None
    try:
        seconds = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise MalformedResponse(f"{field}: {value!r} is not a Unix timestamp")
    return datetime.fromtimestamp(seconds, tz=UTC)


def iso_time(value: object, *, field: str) -> datetime | None:
    """Parse an ISO 8601 time with offset (Shopify, own website) into an aware datetime; empty means None."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise MalformedResponse(f"{field}: {value!r} is not an ISO 8601 time")
    if parsed.tzinfo is None:
        raise MalformedResponse(f"{field}: {value!r} has no UTC offset")
    return parsed


def format_china_time(moment: datetime) -> str:
    """Format an aware datetime as "yyyy-MM-dd HH:mm:ss" in GMT+8, the request format of the China platforms."""
    return require_aware(moment).astimezone(CHINA_TZ).strftime(CHINA_TIME_FORMAT)


def to_unix(moment: datetime) -> int:
    """An aware datetime as whole Unix seconds."""
    return int(require_aware(moment).timestamp())


def require_aware(moment: datetime) -> datetime:
    """Refuse naive datetimes: a sync window without a zone is off by hours on the China platforms."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} is naive; adapters need timezone-aware datetimes")
    return moment


def text(value: object) -> str:
    """A platform string field as str; None becomes ""."""
    return "" if value is None else str(value)
