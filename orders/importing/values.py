"""Pure parsers for cell values as people really type them (dates, amounts, quantities, phones, addresses).

Each parser takes a raw cell (a str from CSV; str/float/int/datetime/date from a workbook), returns ``None``
or ``""`` for a blank cell, and raises ``ValueParseError`` with a message a clerk can act on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from oms.errors import ValidationFailed
from oms.money import CENT


class ValueParseError(ValidationFailed):
    """A cell value that cannot be read as what its column promises."""

    default_code = "invalid_value"


# --- text ---

_BLANK_CHARS = " \t\r\n\u3000\u00a0\ufeff\u200b"
_WRAPPED = re.compile(r'^=\s*"(.*)"$', re.DOTALL)
_FORMULA = re.compile(r"^=.")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$")
_INTEGRAL_FLOAT_TEXT = re.compile(r"^(\d+)\.0+$")
#: Above this, a float from Excel has lost digits of an identifier (IEEE doubles hold 15-16 digits exactly).
_MAX_EXACT_FLOAT = 10**15


def _strip(text: str) -> str:
    return text.strip(_BLANK_CHARS)


def is_blank(value: object) -> bool:
    """True for ``None`` and cells holding only whitespace (incl. full-width space and BOM)."""
    return value is None or (isinstance(value, str) and not _strip(value))


def _unwrap(text: str) -> str:
    """Undo the export tricks that keep Excel from mangling a value: ``="…"`` and a leading apostrophe."""
    text = _strip(text)
    wrapped = _WRAPPED.match(text)
    if wrapped:
        return _strip(wrapped.group(1).replace('""', '"'))
    if text.startswith("'"):
        return _strip(text[1:])
    return text


def _refuse_formula(text: str, original: object) -> None:
    if _FORMULA.match(text) and not _WRAPPED.match(text):
        raise ValueParseError(
            f"'{original}' is a formula; formulas are never evaluated, paste the value instead",
            code="formula",
        )


_PLAIN_EDGES = tuple(_BLANK_CHARS)
_PLAIN_STARTS = (*_PLAIN_EDGES, "=", "'")


def _plain(text: str) -> bool:
    """Text with nothing to trim, unwrap or refuse (most cells): parsers return it as it is."""
    return bool(text) and not text.startswith(_PLAIN_STARTS) and not text.endswith(_PLAIN_EDGES)


def parse_text(value: object) -> str:
    """Trim a text cell, unwrap ``="…"`` and a leading ``'``; refuse formulas; ``""`` for a blank cell."""
    if value.__class__ is str and _plain(value):  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < _MAX_EXACT_FLOAT else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    text = _strip(str(value))
    if not text:
        return ""
    _refuse_formula(text, value)
    return _unwrap(text)


def parse_identifier(value: object) -> str:
    """An order number, SKU or tracking number: like ``parse_text`` but refuses ids that Excel turned into
    floats or scientific notation (``3.51531E+16``) and drops a float's ``.0`` (``17850.0`` -> ``17850``)."""
    if isinstance(value, float):
        if not value.is_integer():
            return repr(value)
        if abs(value) >= _MAX_EXACT_FLOAT:
            raise ValueParseError(
                f"'{value:.0f}' is a long number that Excel stored as a float and may have lost digits; "
                "format the column as text and export again",
                code="number_precision",
            )
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = parse_text(value)
    if _SCIENTIFIC.match(text):
        raise ValueParseError(
            f"'{text}' was turned into scientific notation by Excel and lost digits; "
            "format the column as text and export again",
            code="number_precision",
        )
    integral = _INTEGRAL_FLOAT_TEXT.match(text)
    if integral:
        return integral.group(1)
    return text


def parse_email(value: object) -> str:
    """An e-mail address (trimmed); ``""`` for blank; refuses text without ``@``."""
    text = parse_text(value)
    if text and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise ValueParseError(f"'{text}' is not an e-mail address")
    return text


def _prepare(value: object) -> str:
    """Text of a cell for number/date parsing: NFKC (full-width digits, ￥, ：), trimmed, unwrapped."""
    text = str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    elif _plain(text):
        return text
    text = _strip(text)
    _refuse_formula(text, value)
    return _unwrap(text)


# --- dates ---

_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31
_ISO = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_CHINESE = re.compile(
    r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?"
    r"(?:\s*(上午|下午)?\s*(\d{1,2})\s*[时点:]\s*(?:(\d{1,2})\s*分?\s*(?::?\s*(\d{1,2})\s*秒?)?)?)?$"
)
_NUMERIC_DMY = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:[T\s]?(\d{2}):?(\d{2})(?::?(\d{2}))?)?$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_NAMED_MONTH_FORMATS = ("%d-%b-%Y", "%d %b %Y", "%b %d, %Y", "%d-%b-%y", "%d %B %Y", "%B %d, %Y")


def _not_a_date(original: object, hint: str = "") -> ValueParseError:
    return ValueParseError(f"'{original}' is not a date{hint}", code="invalid_date")


def _build(
    original: object, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0
) -> datetime:
    try:
        return datetime(y, mo, d, h, mi, s, us)
    except ValueError:
        raise _not_a_date(original)


def _from_serial(number: Decimal, original: object) -> datetime:
    """Excel's 1900 date system, with its fictitious 1900-02-29 (serial 60); 8-digit integers as yyyymmdd."""
    if number == number.to_integral_value() and 19000101 <= number <= 29991231:
        digits = str(int(number))
        return _build(original, int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    if number < 1 or number > _EXCEL_MAX_SERIAL:
        raise _not_a_date(original)
    days = int(number)
    if days == 60:
        raise ValueParseError(
            f"'{original}' is Excel's 1900-02-29, a date that does not exist; check the cell",
            code="invalid_date",
        )
    base = datetime(1899, 12, 31) if days < 60 else datetime(1899, 12, 30)
    seconds = int(((number - days) * 86400).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return base + timedelta(days=days, seconds=seconds)


def _offset(text: str) -> tzinfo:
    if text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _parse_naive_or_aware(text: str, original: object, day_first: bool) -> datetime:
    m = _ISO.match(text)
    if m:
        y, mo, d, h, mi, s, frac, off = m.groups()
        us = int((frac or "0").ljust(6, "0"))
        result = _build(original, int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), us)
        return result.replace(tzinfo=_offset(off)) if off else result
    m = _CHINESE.match(text)
    if m:
        y, mo, d, half, h, mi, s = m.groups()
        hour = int(h or 0)
        if half == "下午" and hour < 12:
            hour += 12
        return _build(original, int(y), int(mo), int(d), hour, int(mi or 0), int(s or 0))
    m = _NUMERIC_DMY.match(text)
    if m:
        a, b, y, h, mi, s, ampm = m.groups()
        day, month = (int(a), int(b)) if day_first else (int(b), int(a))
        year = int(y) + 2000 if len(y) == 2 else int(y)
        if month > 12:
            order = "day before month" if not day_first else "month before day"
            raise _not_a_date(
                original, f" (month {month}); if the file writes {order}, change the date order"
            )
        hour = int(h or 0)
        if ampm:
            if hour > 12:
                raise _not_a_date(original)
            hour = hour % 12 + (12 if ampm[0] in "Pp" else 0)
        return _build(original, year, month, day, hour, int(mi or 0), int(s or 0))
    m = _COMPACT.match(text)
    if m:
        y, mo, d, h, mi, s = m.groups()
        return _build(original, int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    if _NUMBER.match(text):
        return _from_serial(Decimal(text), original)
    for fmt in _NAMED_MONTH_FORMATS:
        for full_fmt in (fmt, fmt + " %H:%M", fmt + " %H:%M:%S"):
            try:
                return datetime.strptime(text, full_fmt)
            except ValueError:
                continue
    raise _not_a_date(original)


def parse_datetime(value: object, *, day_first: bool = False, tz: tzinfo) -> datetime | None:
    """A date or date-time cell -> aware datetime in ``tz`` (naive values are local to ``tz``); None if blank.

    Accepts datetime/date objects, Excel serials (1900 system incl. its leap-year bug), ``2024/3/5``,
    ``2024-03-05 14:00[:ss]``, ISO with offset, ``2024年3月5日 14时30分``, ``3/5/2024``
    (``day_first`` decides), ``12/1/2010 8:26``, ``20240305`` and ``5-Mar-2024``.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    elif isinstance(value, bool):
        raise _not_a_date(value)
    elif isinstance(value, (time, timedelta)):
        raise ValueParseError(f"'{value}' is a time without a date", code="invalid_date")
    elif isinstance(value, (int, float, Decimal)):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise _not_a_date(value)
        result = _from_serial(Decimal(repr(value)) if isinstance(value, float) else Decimal(value), value)
    else:
        text = _prepare(value)
        if not text:
            return None
        result = _parse_naive_or_aware(text, _strip(str(value)), day_first)
    if result.tzinfo is None:
        return result.replace(tzinfo=tz)
    return result.astimezone(tz)


# --- amounts ---

_CURRENCY_PREFIXES = ("US$", "HK$", "RMB", "CNY", "USD", "HKD", "EUR", "GBP", "¥", "$", "€", "£")
_CURRENCY_SUFFIXES = ("元", "块", "RMB", "CNY", "USD", "HKD", "EUR", "GBP")
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$")
_MAX_AMOUNT = Decimal(10) ** 12
_PLAIN_NUMBER = re.compile(r"^-?\d{1,15}(?:\.\d{1,10})?$")


def _strip_affixes(text: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> str:
    changed = True
    while changed:
        changed = False
        upper = text.upper()
        for prefix in prefixes:
            if upper.startswith(prefix):
                text, changed = text[len(prefix) :].strip(), True
                break
        upper = text.upper()
        for suffix in suffixes:
            if upper.endswith(suffix.upper()):
                text, changed = text[: -len(suffix)].strip(), True
                break
    return text


def _decimal_from_number(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueParseError(f"'{value}' is not an amount", code="invalid_amount")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueParseError(f"'{value}' is not an amount", code="invalid_amount")
        return Decimal(repr(value))  # repr gives the shortest text that round-trips, so 0.1 stays 0.1
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueParseError(f"'{value}' is not an amount", code="invalid_amount")
        return value
    return Decimal(int(value))  # type: ignore[call-overload]


def parse_amount(value: object) -> Decimal | None:
    """A money cell -> Decimal quantized to 0.01 (half up); ``None`` if blank or ``-``.

    Accepts numbers (floats via ``repr``, never binary), ``¥1,234.50``, ``￥``, ``1234.5元``, ``RMB 12``,
    ``$3``, ``(12.00)`` and ``-12`` as negatives, apostrophe-prefixed text cells.
    """
    if value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        amount = _decimal_from_number(value)
    elif isinstance(value, str) and _PLAIN_NUMBER.match(value):
        amount = Decimal(value)
    else:
        text = _prepare(value)
        if text in ("", "-", "--", "—"):
            return None
        negative = False
        body = text
        if body.startswith("(") and body.endswith(")"):
            negative, body = True, body[1:-1].strip()
        if body.startswith(("+", "-")):
            negative, body = (body[0] == "-") != negative, body[1:].strip()
        body = _strip_affixes(body, _CURRENCY_PREFIXES, _CURRENCY_SUFFIXES)
        if body.startswith(("+", "-")) and not text.startswith(("+", "-", "(")):
            negative, body = body[0] == "-", body[1:].strip()
        body = body.replace(" ", "").replace("\u2009", "")
        if not body or body == "." or not _AMOUNT.match(body):
            raise ValueParseError(f"'{_strip(str(value))}' is not an amount", code="invalid_amount")
        amount = Decimal(body.replace(",", ""))
        if negative:
            amount = -amount
    if abs(amount) >= _MAX_AMOUNT:
        raise ValueParseError(f"'{value}' is too large for an amount", code="invalid_amount")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# --- quantities ---

_QUANTITY_UNITS = re.compile(
    r"^(?:[x×*]\s*)?(.*?)\s*(?:件|个|只|台|套|盒|瓶|包|双|支|pcs|pc|units?|x)?$", re.IGNORECASE
)
_MAX_QUANTITY = 1_000_000


def parse_quantity(value: object) -> int | None:
    """A quantity cell -> int; None if blank. Refuses fractions, negatives and text with clear messages."""
    if value is None:
        return None
    original = _strip(str(value))
    if isinstance(value, bool):
        raise ValueParseError(f"'{value}' is not a quantity", code="invalid_quantity")
    if isinstance(value, (int, float, Decimal)):
        number = _decimal_from_number(value)
    else:
        text = _prepare(value)
        if not text:
            return None
        match = _QUANTITY_UNITS.match(text)
        body = (match.group(1) if match else text).replace(" ", "")
        if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", body):
            body = body.replace(",", "")
        try:
            number = Decimal(body)
        except InvalidOperation:
            raise ValueParseError(f"'{original}' is not a quantity", code="invalid_quantity")
        if not number.is_finite() or not re.fullmatch(r"[+-]?\d+(?:\.\d+)?", body):
            raise ValueParseError(f"'{original}' is not a quantity", code="invalid_quantity")
    if number != number.to_integral_value():
        raise ValueParseError(f"'{original}' is not a whole number", code="invalid_quantity")
    if number < 0:
        raise ValueParseError(
            f"'{original}' is a negative quantity; returns and cancellations cannot be imported as orders",
            code="negative_quantity",
        )
    if number > _MAX_QUANTITY:
        raise ValueParseError(f"'{original}' is too large for a quantity", code="invalid_quantity")
    return int(number)


# --- phones ---

_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s\-()*#]+(?:(?:转|ext\.?|x)\s*\d{1,6})?$", re.IGNORECASE)


def parse_phone(value: object) -> str | None:
    """A phone cell -> text; None if blank. Chinese mobiles become 11 digits (``+86``, dashes, spaces and
    an Excel float ``13912345678.0`` are undone); masked numbers like ``139****5678`` are kept as is."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueParseError(f"'{value}' is not a phone number", code="invalid_phone")
    if isinstance(value, (int, float, Decimal)):
        number = _decimal_from_number(value)
        if number != number.to_integral_value() or number < 0:
            raise ValueParseError(f"'{value}' is not a phone number", code="invalid_phone")
        if number >= _MAX_EXACT_FLOAT:
            raise ValueParseError(
                f"'{value}' is too long for a phone number stored as a number; format the column as text",
                code="invalid_phone",
            )
        text = str(int(number))
    else:
        text = _prepare(value)
        if not text:
            return None
        if _SCIENTIFIC.match(text):
            raise ValueParseError(
                f"'{text}' was turned into scientific notation by Excel and lost digits; "
                "format the column as text and export again",
                code="number_precision",
            )
        if _INTEGRAL_FLOAT_TEXT.match(text):
            text = text.split(".")[0]
    if not _PHONE_CHARS.match(text):
        raise ValueParseError(f"'{_strip(str(value))}' is not a phone number", code="invalid_phone")
    compact = re.sub(r"[\s\-()]", "", text)
    if "*" in compact:
        return compact
    mobile = _CN_MOBILE.match(compact)
    if mobile:
        return mobile.group(1)
    if re.fullmatch(r"\+?\d+", compact):
        if len(compact.lstrip("+")) < 5:
            raise ValueParseError(
                f"'{_strip(str(value))}' is too short for a phone number", code="invalid_phone"
            )
        return compact if compact.startswith("+") else re.sub(r"\s+", "-", text.strip())
    return re.sub(r"\s+", " ", text)


# --- addresses ---


@dataclass(frozen=True)
class AddressParts:
    """A Chinese address split into its administrative levels."""

    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    postcode: str = ""


_POSTCODE_TAIL = re.compile(r"\(\s*(\d{0,6})\s*\)\s*$")
_MUNICIPALITIES = ("北京", "上海", "天津", "重庆")
_GLUED = re.compile(
    r"^(?P<p>[^省市]{2,7}?(?:省|自治区|特别行政区)|北京市?|上海市?|天津市?|重庆市?)"
    r"(?P<c>.{1,10}?(?:市|自治州|地区|盟))?"
    r"(?P<d>.{1,10}?(?:区|县|旗|市))?"
    r"(?P<s>.*)$"
)


def split_taobao_address(value: object) -> AddressParts:
    """Split a Taobao export address ``省 市 区 详细(邮编)`` (space-separated, postcode in parentheses; a
    ``000000`` postcode means none); addresses without spaces are split by the 省/市/区 suffixes."""
    text = unicodedata.normalize("NFKC", parse_text(value))
    text = re.sub(r"\s+", " ", text).strip()
    postcode = ""
    tail = _POSTCODE_TAIL.search(text)
    if tail:
        digits = tail.group(1)
        postcode = "" if set(digits) <= {"0"} else digits
        text = text[: tail.start()].strip()
    parts = text.split(" ") if text else []
    if len(parts) == 1 and len(parts[0]) > 4:
        glued = _GLUED.match(parts[0])
        if glued:
            province = glued.group("p")
            if province.rstrip("市") in _MUNICIPALITIES:
                return AddressParts(
                    province.rstrip("市"),
                    province.rstrip("市") + "市",
                    glued.group("d") or "",
                    glued.group("s"),
                    postcode,
                )
            return AddressParts(
                province, glued.group("c") or "", glued.group("d") or "", glued.group("s"), postcode
            )
    padded = [*parts[:3], "", "", ""][:3]
    return AddressParts(padded[0], padded[1], padded[2], " ".join(parts[3:]), postcode)


# --- status ---

ORDER_STATUSES: tuple[str, ...] = (
    "pending_payment",
    "pending_review",
    "awaiting_shipment",
    "partially_shipped",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
    "closed",
)

_STATUS_LABELS: dict[str, str] = {
    # Taobao / Tmall seller-centre export labels
    "等待买家付款": "pending_payment",
    "没有创建支付宝交易": "pending_payment",
    "待付款": "pending_payment",
    "未付款": "pending_payment",
    "待审核": "pending_review",
    "买家已付款等待卖家发货": "awaiting_shipment",
    "等待卖家发货": "awaiting_shipment",
    "待发货": "awaiting_shipment",
    "已付款": "awaiting_shipment",
    "买家已付款": "awaiting_shipment",
    "卖家部分发货": "partially_shipped",
    "部分发货": "partially_shipped",
    "卖家已发货等待买家确认": "shipped",
    "等待买家确认收货": "shipped",
    "卖家已发货": "shipped",
    "已发货": "shipped",
    "待收货": "shipped",
    "买家已签收": "delivered",
    "已签收": "delivered",
    "已收货": "delivered",
    "交易成功": "completed",
    "已完成": "completed",
    "交易完成": "completed",
    "交易关闭": "closed",
    "已关闭": "closed",
    "付款以后用户退款成功交易自动关闭": "closed",
    "已退款": "closed",
    "已取消": "cancelled",
    "交易取消": "cancelled",
    "订单取消": "cancelled",
    # Taobao Open Platform codes, in case a file carries them
    "waitbuyerpay": "pending_payment",
    "tradenocreatepay": "pending_payment",
    "waitsellersendgoods": "awaiting_shipment",
    "sellerconsignedpart": "partially_shipped",
    "waitbuyerconfirmgoods": "shipped",
    "tradebuyersigned": "delivered",
    "tradefinished": "completed",
    "tradeclosed": "closed",
    "tradeclosedbytaobao": "cancelled",
    # English
    "pending": "pending_payment",
    "unpaid": "pending_payment",
    "paid": "awaiting_shipment",
    "unfulfilled": "awaiting_shipment",
    "partiallyfulfilled": "partially_shipped",
    "fulfilled": "shipped",
    "canceled": "cancelled",
    "refunded": "closed",
}
_STATUS_LABELS.update({status.replace("_", ""): status for status in ORDER_STATUSES})
_STATUS_PUNCT = re.compile(r"[\s,，、|｜_\-:;。.]+")


def status_key(text: str) -> str:
    """A status label as looked up: width-folded, without spaces or punctuation, case-folded."""
    return _STATUS_PUNCT.sub("", unicodedata.normalize("NFKC", text)).casefold()


def parse_status(value: object) -> str | None:
    """A status label (Taobao Chinese labels, TOP codes, English words, our own codes) -> internal status."""
    text = parse_text(value)
    if not text:
        return None
    key = status_key(text)
    try:
        return _STATUS_LABELS[key]
    except KeyError:
        raise ValueParseError(
            f"'{text}' is not a known order status (e.g. 等待买家付款, 买家已付款，等待卖家发货, "
            "卖家已发货，等待买家确认, 交易成功, 交易关闭)",
            code="invalid_status",
        )
