"""Turn a ``Table`` into an import plan: parsed orders grouped by (channel, order number) plus every error.

Pure: no database. The plan is all-or-nothing: a caller writes orders only when ``plan.ok``; otherwise the
preview shows ``plan.errors`` (row, column, value, message) and offers the error workbook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo

from oms.money import ZERO
from orders.importing.headers import FIELD_LABELS, LINE_FIELDS, HeaderMatch, match_headers
from orders.importing.profile import ImportProfileSpec
from orders.importing.readers import Table
from orders.importing.values import (
    ORDER_STATUSES,
    ValueParseError,
    is_blank,
    parse_amount,
    parse_datetime,
    parse_email,
    parse_identifier,
    parse_phone,
    parse_quantity,
    parse_status,
    parse_text,
    split_taobao_address,
)

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
TOLERANCE = Decimal("0.01")
#: Rows of one order whose timestamps differ by at most this much agree (exports stamp lines a minute apart).
SAME_MOMENT = timedelta(minutes=5)
EARLIEST_YEAR = 1990
DATE_FIELDS = ("placed_at", "paid_at", "shipped_at", "completed_at")
AMOUNT_FIELDS = ("unit_price", "line_total", "subtotal", "discount", "shipping_fee", "total", "paid_amount",
                 "refund_amount")  # fmt: skip
ADDRESS_FIELDS = ("province", "city", "district", "street", "postcode")
_NOT_MERGED = LINE_FIELDS | {"external_order_id", "channel", "status_label"}
"""Row values that are not order-level fields (line fields, the grouping keys, the status as written)."""


@dataclass
class RowError:
    """One problem: its Excel row and column (``None`` for file-level problems), the value, a message."""

    row: int | None
    column: str | None
    value: Any
    message: str
    code: str = "invalid"

    @property
    def reason(self) -> str:
        """The message without the row prefix, for the error workbook's reason column."""
        prefix = f"row {self.row}, " if self.row is not None else ""
        return self.message.removeprefix(prefix)

    def __str__(self) -> str:
        return self.message


@dataclass
class ParsedLine:
    """One line item as read from one row."""

    row: int
    sku_code: str = ""
    product_name: str = ""
    sku_properties: str = ""
    quantity: int = 0
    unit_price: Decimal | None = None
    line_total: Decimal | None = None


@dataclass
class ParsedOrder:
    """One order assembled from its rows: plain data for the order services to write."""

    external_id: str
    channel_code: str
    status: str
    status_source: str  # "column", "default" (profile) or "derived" (from payment/refund data)
    placed_at: datetime
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    completed_at: datetime | None = None
    buyer_name: str = ""
    buyer_id: str = ""
    buyer_phone: str = ""
    buyer_email: str = ""
    receiver_name: str = ""
    receiver_phone: str = ""
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    postcode: str = ""
    country: str = ""
    subtotal: Decimal = ZERO
    discount: Decimal = ZERO
    shipping_fee: Decimal = ZERO
    total: Decimal = ZERO
    paid_amount: Decimal | None = None
    refund_amount: Decimal | None = None
    buyer_note: str = ""
    seller_note: str = ""
    carrier: str = ""
    tracking_number: str = ""
    lines: list[ParsedLine] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    status_label: str = ""  # the status cell as written: a channel's status mappings may map it otherwise


@dataclass
class ImportPlan:
    """What importing a file would do: the orders, every error, and the columns that were not imported."""

    orders: list[ParsedOrder]
    errors: list[RowError]
    unknown_columns: list[str]
    ignored_columns: list[str]
    header_match: HeaderMatch
    filename: str = ""

    @property
    def ok(self) -> bool:
        """True when the whole file can be imported (all or nothing)."""
        return not self.errors

    @property
    def error_rows(self) -> list[int]:
        """Excel row numbers that have at least one error, in order."""
        return sorted({e.row for e in self.errors if e.row is not None})


_Parser = Callable[..., Any]
_PARSERS: dict[str, _Parser] = {
    "external_order_id": parse_identifier,
    "channel": parse_text,
    "status": parse_status,
    "buyer_name": parse_text,
    "buyer_id": parse_identifier,
    "buyer_phone": parse_phone,
    "buyer_email": parse_email,
    "receiver_name": parse_text,
    "receiver_phone": parse_phone,
    "receiver_landline": parse_phone,
    "province": parse_text,
    "city": parse_text,
    "district": parse_text,
    "street": parse_text,
    "full_address": split_taobao_address,
    "postcode": parse_identifier,
    "country": parse_text,
    "sku_code": parse_identifier,
    "product_name": parse_text,
    "sku_properties": parse_text,
    "quantity": parse_quantity,
    "buyer_note": parse_text,
    "seller_note": parse_text,
    "carrier": parse_text,
    "tracking_number": parse_identifier,
    **dict.fromkeys(AMOUNT_FIELDS, parse_amount),
}


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class _Collector:
    """Accumulates errors with the house message format."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []

    def add(
        self, row: int | None, column: str | None, value: Any, reason: str, code: str = "invalid"
    ) -> None:
        """Record ``reason`` as "row N, column C: reason"."""
        where = ", ".join(
            p for p in (f"row {row}" if row is not None else "", f"column {column}" if column else "") if p
        )
        message = f"{where}: {reason}" if where else reason
        self.errors.append(RowError(row, column, value, message, code))


@dataclass
class _Row:
    number: int
    values: dict[str, Any]
    failed: set[str]


_Contribution = tuple[tuple[str, Any], ...]
"""What one cell adds to its row's values: (field, value) pairs; empty for a blank cell."""
CACHE_SAMPLE_ROWS = 2000
"""Parse results are cached per column, unless this many first values of the column are nearly all distinct
(order numbers, timestamps, order totals)."""


def _contribution(
    name: str, columns: dict[str, int], profile: ImportProfileSpec, tz: tzinfo
) -> Callable[[Any], _Contribution]:
    """The function that reads one cell of field ``name`` (raising ``ValueParseError``)."""
    if name in DATE_FIELDS:
        day_first = profile.day_first

        def parse(cell: Any) -> Any:
            return parse_datetime(cell, day_first=day_first, tz=tz)

    else:
        parse = _PARSERS[name]

    def contribute(cell: Any) -> _Contribution:
        if cell.__class__ is datetime and name in DATE_FIELDS:  # a real date cell: only the zone to add
            return ((name, cell.replace(tzinfo=tz) if cell.tzinfo is None else cell.astimezone(tz)),)
        if is_blank(cell):
            return ()
        value = parse(cell)
        if name == "full_address":
            return tuple(
                (part, getattr(value, part))
                for part in ADDRESS_FIELDS
                if getattr(value, part) and part not in columns
            )
        if value is None or value == "":
            return ()
        if name == "status":
            return ((name, value), ("status_label", parse_text(cell)))
        return ((name, value),)

    return contribute


class _Failed:
    """A cell its column's parser refused (the error is recorded once the column is read)."""

    __slots__ = ("error",)

    def __init__(self, error: ValueParseError) -> None:
        self.error = error


def _read_column(cells: list[Any], contribute: Callable[[Any], _Contribution]) -> list[Any]:
    """Every cell of one column read by ``contribute``: a contribution, or ``_Failed``. The same value is
    read once while values repeat (a channel, a status, a price, a buyer's phone): parsing is pure."""

    def read(cell: Any) -> Any:
        try:
            return contribute(cell)
        except ValueParseError as exc:
            return _Failed(exc)

    # bool, int and float can be equal (True == 1 == 1.0) but read differently: keys carry the type
    keys = [cell if cell.__class__ is str else (cell.__class__, cell) for cell in cells]
    sample = keys[:CACHE_SAMPLE_ROWS]
    if len(set(sample)) >= len(sample) * 0.9 and len(sample) == CACHE_SAMPLE_ROWS:
        return [read(cell) for cell in cells]  # nearly all distinct (order numbers, timestamps)
    cache: dict[Any, Any] = {}
    found = []
    for key, cell in zip(keys, cells, strict=True):
        parts = cache.get(key)
        if parts is None:
            parts = cache[key] = read(cell)
        found.append(parts)
    return found


def _parse_rows(
    table: Table,
    columns: dict[str, int],
    profile: ImportProfileSpec,
    tz: tzinfo,
    errors: _Collector,
) -> list[_Row]:
    """Parse every cell, a column at a time, and collect each row's values and failed fields."""
    numbers = table.row_numbers
    failed: dict[int, set[str]] = {}
    read_columns = []
    for name, index in columns.items():
        cells = [cells[index] for cells in table.rows]
        read = _read_column(cells, _contribution(name, columns, profile, tz))
        for position, parts in enumerate(read):
            if parts.__class__ is _Failed:
                exc = parts.error
                errors.add(numbers[position], table.headers[index], cells[position], exc.message, exc.code)
                failed.setdefault(position, set()).add(name)
                read[position] = ()
        read_columns.append(read)
    by_row = zip(*read_columns, strict=True) if read_columns else ((),) * len(numbers)
    return [
        _Row(number, dict(chain.from_iterable(parts)), failed.get(position) or set())
        for position, (number, parts) in enumerate(zip(numbers, by_row, strict=True))
    ]


def build_import_plan(
    table: Table,
    *,
    profile: ImportProfileSpec | None = None,
    default_channel: str | None = None,
    today: date | None = None,
    tz: tzinfo | None = None,
) -> ImportPlan:
    """Parse every row, group rows into orders by (channel, order number) and check each order.

    Checks: required columns and values, one column per field, values that agree across an order's rows,
    quantities of at least 1, total = subtotal − discount + shipping when all are given (else derived), no
    dates in the future (after ``today`` in ``tz``, default Asia/Shanghai).
    """
    profile = profile or ImportProfileSpec()
    if tz is None:
        tz = ZoneInfo(profile.timezone) if profile.timezone else DEFAULT_TZ
    today = today or datetime.now(tz).date()
    channel_default = default_channel or profile.default_channel
    match = match_headers(table.headers, profile.column_mapping)
    errors = _Collector()
    for problem in match.problems:
        errors.add(None, None, None, problem, "bad_columns")
    if profile.default_status and profile.default_status not in ORDER_STATUSES:
        errors.add(
            None, None, profile.default_status, f"default status '{profile.default_status}' is not a status"
        )
    if match.column_of("channel") is None and not channel_default:
        errors.add(
            None,
            None,
            None,
            "no channel: add a 渠道/Channel column or choose a default channel",
            "missing_channel",
        )
    plan = ImportPlan([], [], match.unknown_columns, match.ignored_columns, match, table.filename)
    if match.problems:
        plan.errors = errors.errors
        return plan

    columns = {name: index for index, name in enumerate(match.fields) if name is not None}
    parsed_rows = _parse_rows(table, columns, profile, tz, errors)
    groups: dict[tuple[str, str], list[_Row]] = {}
    for row in parsed_rows:
        order_id = row.values.get("external_order_id")
        if not order_id:
            if "external_order_id" not in row.failed:
                header = table.headers[columns["external_order_id"]]
                errors.add(row.number, header, None, "order number is empty", "required")
            continue
        channel = row.values.get("channel") or channel_default or ""
        groups.setdefault((channel, order_id), []).append(row)
    for (channel, order_id), rows in groups.items():
        order = _assemble(channel, order_id, rows, columns, table.headers, profile, today, errors)
        if order is not None:
            plan.orders.append(order)
    plan.errors = sorted(errors.errors, key=lambda e: (e.row is not None, e.row or 0, e.column or ""))
    return plan


def _assemble(
    channel: str,
    order_id: str,
    rows: list[_Row],
    columns: dict[str, int],
    headers: list[str],
    profile: ImportProfileSpec,
    today: date,
    errors: _Collector,
) -> ParsedOrder | None:
    first = rows[0].number
    before = len(errors.errors)

    def column(name: str) -> str | None:
        """The header a field was read from (addresses: the full-address column)."""
        if name in columns:
            return headers[columns[name]]
        if name in ADDRESS_FIELDS and "full_address" in columns:
            return headers[columns["full_address"]]
        return None

    # Order-level values must agree across the order's rows; a blank cell inherits.
    merged: dict[str, Any] = {}
    where: dict[str, int] = {}
    reported: set[tuple[str, Any]] = set()
    if len(rows) == 1:  # most orders: nothing to agree on
        merged = {name: value for name, value in rows[0].values.items() if name not in _NOT_MERGED}
        where = dict.fromkeys(merged, first)
    else:
        for row in rows:
            for name, value in row.values.items():
                if name in _NOT_MERGED:
                    continue
                if name not in merged:
                    merged[name], where[name] = value, row.number
                elif name in DATE_FIELDS and abs(merged[name] - value) <= SAME_MOMENT:
                    if value < merged[name]:  # lines stamped a minute apart: keep the earliest
                        merged[name], where[name] = value, row.number
                elif merged[name] != value:
                    label = column(name) or FIELD_LABELS.get(name, name)
                    pairs = [(row.number, value, merged[name], where[name])]
                    if (name, value) not in reported:  # the first row: once per distinct other value
                        reported.add((name, value))
                        pairs.append((where[name], merged[name], value, row.number))
                    for this_row, this_value, other_value, other_row in pairs:
                        errors.add(
                            this_row,
                            label,
                            _shown(this_value),
                            f"order {order_id} has conflicting values '{_shown(this_value)}' (row {this_row}) "
                            f"and '{_shown(other_value)}' (row {other_row})",
                            "conflicting_values",
                        )

    lines = []
    for row in rows:
        if row.failed and row.failed & LINE_FIELDS:
            continue  # already reported
        line_values = {k: v for k, v in row.values.items() if k in LINE_FIELDS}
        if not line_values:
            continue
        line = _line(row.number, line_values, column, errors)
        if line is not None:
            lines.append(line)

    placed_at = merged.get("placed_at")
    if placed_at is None and not any("placed_at" in r.failed for r in rows):
        errors.add(first, column("placed_at"), None, f"order {order_id} has no order date", "required")
    for name in DATE_FIELDS:
        value = merged.get(name)
        if value is None:
            continue
        if value.date() > today:
            reason = f"'{_shown(value)}' is in the future (today is {today.isoformat()})"
            errors.add(where[name], column(name), _shown(value), reason, "future_date")
        elif value.year < EARLIEST_YEAR:
            reason = f"'{_shown(value)}' is before {EARLIEST_YEAR}; is this column really a date?"
            errors.add(where[name], column(name), _shown(value), reason, "invalid_date")
    for name in ("subtotal", "discount", "shipping_fee", "total", "paid_amount", "refund_amount"):
        value = merged.get(name)
        if value is not None and value < 0:
            errors.add(where[name], column(name), _shown(value), f"'{value}' is negative", "negative_amount")

    subtotal = merged.get("subtotal")
    if subtotal is None and lines and None not in [line.line_total for line in lines]:
        subtotal = sum((line.line_total for line in lines), ZERO)  # type: ignore[misc]
    discount = merged.get("discount", ZERO)
    shipping = merged.get("shipping_fee", ZERO)
    total = merged.get("total")
    all_given = "discount" in columns and "shipping_fee" in columns
    if total is None and subtotal is not None:
        total = subtotal - discount + shipping
    elif total is None:
        if len(errors.errors) == before and not any(r.failed for r in rows):
            errors.add(
                first, None, None, f"order {order_id} has neither line amounts nor a total", "no_amount"
            )
    elif subtotal is not None and all_given and abs(subtotal - discount + shipping - total) > TOLERANCE:
        errors.add(
            where.get("total", first),
            column("total"),
            _shown(total),
            f"order {order_id}: total {total} does not add up: subtotal {subtotal} − discount {discount} "
            f"+ shipping {shipping} = {subtotal - discount + shipping}",
            "total_mismatch",
        )

    status, source = merged.get("status"), "column"
    if status is None and profile.default_status:
        status, source = profile.default_status, "default"
    elif status is None:
        status, source = _derived_status(merged, total), "derived"

    if len(errors.errors) > before or any(r.failed for r in rows) or placed_at is None or total is None:
        return None
    receiver_phone = merged.get("receiver_phone") or merged.get("receiver_landline") or ""
    return ParsedOrder(
        external_id=order_id,
        channel_code=channel,
        status=status,
        status_source=source,
        status_label=next((r.values["status_label"] for r in rows if r.number == where.get("status")), ""),
        placed_at=placed_at,
        paid_at=merged.get("paid_at"),
        shipped_at=merged.get("shipped_at"),
        completed_at=merged.get("completed_at"),
        buyer_name=merged.get("buyer_name", ""),
        buyer_id=merged.get("buyer_id", ""),
        buyer_phone=merged.get("buyer_phone", ""),
        buyer_email=merged.get("buyer_email", ""),
        receiver_name=merged.get("receiver_name", ""),
        receiver_phone=receiver_phone,
        province=merged.get("province", ""),
        city=merged.get("city", ""),
        district=merged.get("district", ""),
        street=merged.get("street", ""),
        postcode=merged.get("postcode", ""),
        country=merged.get("country", ""),
        subtotal=subtotal if subtotal is not None else total - shipping + discount,
        discount=discount,
        shipping_fee=shipping,
        total=total,
        paid_amount=merged.get("paid_amount"),
        refund_amount=merged.get("refund_amount"),
        buyer_note=merged.get("buyer_note", ""),
        seller_note=merged.get("seller_note", ""),
        carrier=merged.get("carrier", ""),
        tracking_number=merged.get("tracking_number", ""),
        lines=lines,
        rows=[r.number for r in rows],
    )


def _line(
    number: int,
    values: dict[str, Any],
    column: Callable[[str], str | None],
    errors: _Collector,
) -> ParsedLine | None:
    quantity = values.get("quantity")
    if quantity is None:
        errors.add(number, column("quantity"), None, "quantity is empty", "required")
        return None
    if quantity < 1:
        errors.add(
            number,
            column("quantity"),
            quantity,
            f"quantity '{quantity}' must be at least 1",
            "invalid_quantity",
        )
        return None
    if not values.get("sku_code") and not values.get("product_name"):
        errors.add(number, None, None, "a line needs a SKU code or a product name", "required")
        return None
    unit_price, line_total = values.get("unit_price"), values.get("line_total")
    for name, value in (("unit_price", unit_price), ("line_total", line_total)):
        if value is not None and value < 0:
            errors.add(number, column(name), _shown(value), f"'{value}' is negative", "negative_amount")
            return None
    if unit_price is not None:
        expected = unit_price * quantity
        if line_total is None:
            line_total = expected
        elif abs(line_total - expected) > TOLERANCE:
            errors.add(
                number,
                column("line_total"),
                _shown(line_total),
                f"line total {line_total} ≠ quantity {quantity} × unit price {unit_price} = {expected}",
                "total_mismatch",
            )
            return None
    return ParsedLine(
        row=number,
        sku_code=values.get("sku_code", ""),
        product_name=values.get("product_name", ""),
        sku_properties=values.get("sku_properties", ""),
        quantity=quantity,
        unit_price=unit_price,
        line_total=line_total,
    )


def _derived_status(values: dict[str, Any], total: Decimal | None) -> str:
    """No status column and no profile default: read it from payment and refund data."""
    refund = values.get("refund_amount") or ZERO
    paid = values.get("paid_amount")
    if total is not None and total > 0 and refund >= total:
        return "closed"
    if values.get("completed_at"):
        return "completed"
    if values.get("shipped_at"):
        return "shipped"
    if values.get("paid_at") or (paid is not None and paid > 0):
        return "awaiting_shipment"
    return "pending_payment"
