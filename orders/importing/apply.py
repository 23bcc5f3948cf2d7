"""Write an import plan to the database: preview what it would change, then apply it in one transaction.

``preview_import`` compares every ``ParsedOrder`` with the order stored under its (channel, order number):
new → created, identical → skipped, different → updated (with the field diff). ``apply_import`` writes that
with bulk queries inside one transaction per file: all or nothing, unless the caller explicitly asks for the
valid orders only. Re-importing a file changes nothing; a corrected file updates only the orders that differ.

Decisions (documented for clerks in the admin help and the command's --help):
- Channels are looked up by code, then by name (case-insensitive); an unknown channel is a row error.
- A status read from the file goes through the channel's status mappings first (its own rows, then its
  platform's), matched on the label as written (e.g. 买家已付款，等待卖家发货 → pending_review); labels no row
  maps keep the built-in meaning.
- Unknown SKUs create a ``Product`` on the fly (name and price from the file) when the profile allows it
  (``create_unknown_skus``, the default); otherwise the row is an error. A line with only a product name is
  matched by name, else gets the SKU ``IMP-<hash of the name>`` (stable, so re-imports find it again).
- Imported orders are history: no stock moves, no rules or webhooks. Each gets one IMPORTED event (file,
  rows); an update gets one UPDATED event with the diff. The status of an order OMS is already working on
  (stock reserved or deducted, on hold) is never overwritten by a file: that is a row error.
- Fields are compared and updated only when the file has a column for them, so a file without a discount
  column never zeroes the discounts stored in OMS.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.mapping import effective_status_map
from channels.models import Channel, StatusMapping
from oms.actors import Actor
from oms.money import ZERO
from orders.choices import EventType, FulfillmentStatus, OrderStatus, PaymentStatus, StockStatus
from orders.importing.headers import FIELD_LABELS, LINE_FIELDS
from orders.importing.plan import ImportPlan, ParsedLine, ParsedOrder, RowError, build_import_plan
from orders.importing.profile import ImportProfileSpec
from orders.importing.readers import FileRefused, Table, read_table
from orders.importing.values import status_key
from orders.models import Customer, CustomerAddress, Order, OrderEvent, OrderLine, Product, Shipment
from orders.services.bulk import among, insert_rows, insert_rows_on_conflict
from orders.services.creation import reserve_order_numbers_by_day
from orders.services.customers import customer_dedupe_key, normalize_email, normalize_phone
from orders.services.events import jsonable

BATCH = 2000
"""Rows per bulk INSERT/UPDATE statement."""
LOOKUP_CHUNK = 900
"""Values per IN (...) lookup (below SQLite's historic 999-variable limit)."""
ARRAY_LOOKUP_CHUNK = 10_000
"""Values per ``= ANY(array)`` lookup on PostgreSQL."""
CENT = Decimal("0.01")

Progress = Callable[[int, int, str], None]
"""progress(done, total, phase): called while a file is applied (phase: 'checking' or 'writing')."""

#: Order fields an import writes, and the plan fields (columns) that provide each of them.
ORDER_FIELD_SOURCES: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "fulfillment_status": ("status",),
    "placed_at": ("placed_at",),
    "paid_at": ("paid_at",),
    "shipped_at": ("shipped_at",),
    "completed_at": ("completed_at",),
    "buyer_name": ("buyer_name",),
    "buyer_phone": ("buyer_phone",),
    "buyer_email": ("buyer_email",),
    "receiver_name": ("receiver_name",),
    "receiver_phone": ("receiver_phone", "receiver_landline"),
    "province": ("province", "full_address"),
    "city": ("city", "full_address"),
    "district": ("district", "full_address"),
    "street": ("street", "full_address"),
    "postcode": ("postcode", "full_address"),
    "subtotal": ("subtotal", "line_total", "unit_price"),
    "discount": ("discount",),
    "shipping_fee": ("shipping_fee",),
    "total": ("total", "subtotal", "line_total", "unit_price"),
    "paid_amount": ("paid_amount",),
    "refunded_amount": ("refund_amount",),
    "payment_status": ("paid_amount", "refund_amount", "status", "paid_at"),
    "buyer_note": ("buyer_note",),
    "seller_note": ("seller_note",),
}
COMPARED_FIELDS = tuple(ORDER_FIELD_SOURCES)
TEXT_LIMITS: dict[str, int] = {
    name: Order._meta.get_field(name).max_length
    for name in COMPARED_FIELDS
    if Order._meta.get_field(name).get_internal_type() == "CharField"
}
"""Order text fields an import writes, with their maximum length."""
SHIPPED_STATUSES = {
    OrderStatus.SHIPPED: FulfillmentStatus.FULFILLED,
    OrderStatus.COMPLETED: FulfillmentStatus.FULFILLED,
    OrderStatus.DELIVERED: FulfillmentStatus.DELIVERED,
    OrderStatus.PARTIALLY_SHIPPED: FulfillmentStatus.PARTIALLY_FULFILLED,
}
PAID_STATUSES = {
    OrderStatus.PENDING_REVIEW,
    OrderStatus.AWAITING_SHIPMENT,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
}


@dataclass
class LineValues:
    """One order line as it will be stored."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    row: int

    def key(self) -> tuple[str, int, Decimal, Decimal]:
        """What makes two lines the same for re-import comparison."""
        return (self.sku, self.quantity, self.unit_price, self.total)


@dataclass
class OrderChange:
    """What importing one parsed order does: create it, update some fields, or skip it (unchanged)."""

    parsed: ParsedOrder
    channel: Channel
    values: dict[str, Any]
    lines: list[LineValues]
    action: str = "create"  # "create" | "update" | "skip"
    order_id: int | None = None
    number: str = ""
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    replace_lines: bool = False
    add_shipment: bool = False

    @property
    def row(self) -> int:
        """The order's first row in the file."""
        return self.parsed.rows[0]


@dataclass
class ImportPreview:
    """What applying a plan would do, and every error (the plan's and the database checks')."""

    plan: ImportPlan
    changes: list[OrderChange]
    errors: list[RowError]
    new_products: dict[str, tuple[str, Decimal]]  # sku -> (name, price)
    rejected_orders: int = 0

    @property
    def ok(self) -> bool:
        """True when the whole file can be imported."""
        return not self.errors

    def count(self, action: str) -> int:
        """How many orders get ``action`` ('create', 'update', 'skip')."""
        return sum(1 for change in self.changes if change.action == action)


@dataclass
class ImportResult:
    """The outcome of importing (or previewing) one file."""

    filename: str
    applied: bool = False
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected_orders: int = 0
    new_products: int = 0
    new_customers: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0
    table: Table | None = None
    preview: ImportPreview | None = None

    @property
    def ok(self) -> bool:
        """True when the file had no error at all."""
        return not self.errors

    @property
    def refused(self) -> bool:
        """True when nothing was written because of errors."""
        return bool(self.errors) and not self.applied

    @property
    def rows_per_second(self) -> float:
        """Throughput of the whole import (read, check, write)."""
        return self.rows / self.seconds if self.seconds else 0.0

    def error_workbook(self) -> bytes | None:
        """The failed rows with their reasons as .xlsx (None when the file could not be read or is clean)."""
        from orders.importing.errors_workbook import build_error_workbook

        if self.table is None or not self.errors:
            return None
        return build_error_workbook(self.table, self.errors)

    def summary(self, *, max_errors: int = 500, max_changes: int = 200) -> dict[str, Any]:
        """JSON-ready summary for ImportJob.summary (counts, the first errors, a sample of the changes)."""
        changes = []
        if self.preview is not None:
            for change in self.preview.changes:
                if change.action == "skip":
                    continue
                changes.append(
                    {
                        "action": change.action,
                        "external_id": change.parsed.external_id,
                        "channel": change.channel.code,
                        "row": change.row,
                        "number": change.number,
                        "changes": {k: [_shown(a), _shown(b)] for k, (a, b) in change.changes.items()},
                        "total": str(change.values["total"]),
                    }
                )
                if len(changes) >= max_changes:
                    break
        return {
            "filename": self.filename,
            "applied": self.applied,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "rejected_orders": self.rejected_orders,
            "new_products": self.new_products,
            "new_customers": self.new_customers,
            "error_count": len(self.errors),
            "errors": [
                {
                    "row": e.row,
                    "column": e.column,
                    "value": _shown(e.value),
                    "message": e.message,
                    "code": e.code,
                }
                for e in self.errors[:max_errors]
            ],
            "changes": changes,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


# --- public API ---


def import_file(
    source: Any,
    *,
    filename: str | None = None,
    profile: ImportProfileSpec | None = None,
    channel: str | None = None,
    actor: Actor | None = None,
    dry_run: bool = False,
    valid_only: bool = False,
    create_unknown_skus: bool = True,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> ImportResult:
    """Read, check and (unless ``dry_run``) import one order file: the command, the admin and the task use this.

    ``source`` is a path or bytes. All or nothing: with any error nothing is written, unless ``valid_only``.
    """
    started = time.perf_counter()
    profile = profile or ImportProfileSpec()
    name = filename or getattr(source, "name", None) or str(source)
    try:
        table = read_table(
            source,
            filename=filename,
            sheet=profile.sheet_name,
            encoding=profile.encoding,
            column_mapping=profile.column_mapping,
        )
    except FileRefused as exc:
        result = ImportResult(
            filename=name, dry_run=dry_run, errors=[RowError(None, None, None, exc.message, exc.code)]
        )
        result.seconds = time.perf_counter() - started
        return result
    plan = build_import_plan(table, profile=profile, default_channel=channel, today=today)
    actor = actor or Actor.importer(table.filename)
    if dry_run:
        preview = preview_import(plan, create_unknown_skus=create_unknown_skus, progress=progress)
        result = _result_of(preview, table, applied=False)
        result.dry_run = True
    else:
        result = apply_import(
            plan,
            actor=actor,
            valid_only=valid_only,
            create_unknown_skus=create_unknown_skus,
            progress=progress,
        )
        result.table = table
    result.rows = len(table.rows)
    result.seconds = time.perf_counter() - started
    return result


def preview_import(
    plan: ImportPlan, *, create_unknown_skus: bool = True, progress: Progress | None = None
) -> ImportPreview:
    """What importing ``plan`` would create, update or skip, with every error. Reads only."""
    return _prepare(plan, create_unknown_skus=create_unknown_skus, lock=False, progress=progress)


def apply_import(
    plan: ImportPlan,
    *,
    actor: Actor,
    valid_only: bool = False,
    create_unknown_skus: bool = True,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``plan`` in one transaction: created and updated orders with lines, customers, products, events.

    With any error nothing is written, unless ``valid_only`` (then the orders without errors are imported and
    the errors are still reported).
    """
    with transaction.atomic():
        preview = _prepare(plan, create_unknown_skus=create_unknown_skus, lock=True, progress=progress)
        if preview.errors and not valid_only:
            return _result_of(preview, None, applied=False)
        result = _result_of(preview, None, applied=True)
        writer = _Writer(preview, actor, plan.filename, progress)
        result.new_products = writer.create_products()
        result.new_customers = writer.create_customers()
        writer.create_orders()
        writer.update_orders()
    return result


# --- checking ---


def _result_of(preview: ImportPreview, table: Table | None, *, applied: bool) -> ImportResult:
    return ImportResult(
        filename=preview.plan.filename,
        applied=applied,
        created=preview.count("create"),
        updated=preview.count("update"),
        skipped=preview.count("skip"),
        rejected_orders=preview.rejected_orders,
        new_products=len(preview.new_products),
        errors=preview.errors,
        table=table,
        preview=preview,
    )


def _error(row: int | None, column: str | None, value: Any, reason: str, code: str) -> RowError:
    """A RowError in the house message format: "row N, column C: reason"."""
    where = ", ".join(
        p for p in (f"row {row}" if row is not None else "", f"column {column}" if column else "") if p
    )
    return RowError(row, column, value, f"{where}: {reason}" if where else reason, code)


def _chunks(items: list[Any], size: int | None = None) -> Iterator[list[Any]]:
    """``items`` in slices of ``size`` (default: values per lookup, larger on PostgreSQL's arrays)."""
    size = size or (ARRAY_LOOKUP_CHUNK if connection.vendor == "postgresql" else LOOKUP_CHUNK)
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Columns:
    """Which plan fields the file has, and the header each was read from."""

    def __init__(self, plan: ImportPlan) -> None:
        match = plan.header_match
        self.headers: dict[str, str] = {}
        for header, name in zip(match.headers, match.fields, strict=False):
            if name is not None and name not in self.headers:
                self.headers[name] = header
        self.provided = set(self.headers)

    def header(self, *names: str) -> str | None:
        """The header of the first of ``names`` the file has."""
        for name in names:
            if name in self.headers:
                return self.headers[name]
        return None

    def has_any(self, names: Iterable[str]) -> bool:
        """Whether the file has a column for any of ``names``."""
        return any(name in self.provided for name in names)

    def compared_fields(self, status_source: str) -> list[str]:
        """Order fields the file provides, so a re-import may compare and update them."""
        names = [f for f in COMPARED_FIELDS if self.has_any(ORDER_FIELD_SOURCES[f])]
        if "total" not in names:
            names.append("total")
        if status_source == "derived" and "status" not in names:
            names += ["status", "fulfillment_status"]  # derived from payment/refund/date columns
        return names


def _resolve_channels(codes: set[str]) -> dict[str, Channel]:
    """Channel per code or name as written in the file (exact code, exact name, then case-insensitive)."""
    if not codes:
        return {}
    query = Q()
    for code in codes:
        query |= Q(code__iexact=code) | Q(name__iexact=code)
    channels = list(Channel.objects.filter(query))
    found: dict[str, Channel] = {}
    for code in codes:
        for test in (
            lambda c, code=code: c.code == code,
            lambda c, code=code: c.name == code,
            lambda c, code=code: c.code.lower() == code.lower() or c.name.lower() == code.lower(),
        ):
            match = next((c for c in channels if test(c)), None)
            if match is not None:
                found[code] = match
                break
    return found


def _status_maps(channels: Iterable[Channel]) -> dict[int, dict[str, str]]:
    """Per channel: its status mappings (platform rows, overridden by its own) keyed by `status_key(label)`."""
    channels = list(channels)
    query = Q(channel__in=channels) | Q(platform__in={c.platform for c in channels}, channel__isnull=True)
    rows = list(StatusMapping.objects.filter(query)) if channels else []
    maps = {}
    for channel in channels:
        shared = {
            r.platform_status: r.internal_status
            for r in rows
            if r.channel_id is None and r.platform == channel.platform
        }
        own = {r.platform_status: r.internal_status for r in rows if r.channel_id == channel.pk}
        layered = effective_status_map({}, shared, own)
        maps[channel.pk] = {status_key(label): status for label, status in layered.items()}
    return maps


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT)


_normalized_phone = functools.lru_cache(maxsize=50_000)(normalize_phone)
"""``normalize_phone``, once per distinct number (a buyer's number repeats on every order of theirs)."""


def _order_values(parsed: ParsedOrder, channel: Channel) -> dict[str, Any]:
    """The order's field values as they will be stored."""
    total = _money(parsed.total) or ZERO
    status = parsed.status
    paid = _money(parsed.paid_amount)
    refunded = _money(parsed.refund_amount) or ZERO
    if paid is None:
        paid = total if (status in PAID_STATUSES or parsed.paid_at) and total > 0 else ZERO
    elif refunded > 0 and abs(paid + refunded - total) <= CENT:
        paid = total  # the platform reports what the buyer paid net of refunds (Tmall's 买家实际支付金额)
    if refunded > 0 and refunded >= paid > 0:
        payment = PaymentStatus.REFUNDED
    elif refunded > 0:
        payment = PaymentStatus.PARTIALLY_REFUNDED
    elif paid > 0 and paid >= total:
        payment = PaymentStatus.PAID
    elif paid > 0:
        payment = PaymentStatus.PARTIALLY_PAID
    else:
        payment = PaymentStatus.UNPAID
    return {
        "status": status,
        "fulfillment_status": SHIPPED_STATUSES.get(status, FulfillmentStatus.UNFULFILLED),
        "placed_at": parsed.placed_at,
        "paid_at": parsed.paid_at,
        "shipped_at": parsed.shipped_at,
        "completed_at": parsed.completed_at,
        "buyer_name": parsed.buyer_name,
        "buyer_phone": _normalized_phone(parsed.buyer_phone),
        "buyer_email": normalize_email(parsed.buyer_email),
        "receiver_name": parsed.receiver_name,
        "receiver_phone": _normalized_phone(parsed.receiver_phone),
        "province": parsed.province,
        "city": parsed.city,
        "district": parsed.district,
        "street": parsed.street,
        "postcode": parsed.postcode,
        "subtotal": _money(parsed.subtotal) or ZERO,
        "discount": _money(parsed.discount) or ZERO,
        "shipping_fee": _money(parsed.shipping_fee) or ZERO,
        "total": total,
        "paid_amount": paid,
        "refunded_amount": refunded,
        "payment_status": payment,
        "buyer_note": parsed.buyer_note,
        "seller_note": parsed.seller_note,
    }


def _name_sku(name: str) -> str:
    """A stable SKU for a line that has only a product name."""
    return "IMP-" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()


def _prepare(
    plan: ImportPlan, *, create_unknown_skus: bool, lock: bool, progress: Progress | None
) -> ImportPreview:
    columns = _Columns(plan)
    errors: list[RowError] = list(plan.errors)
    bad: set[int] = set()  # id() of parsed orders with an error
    total = len(plan.orders)

    channels = _resolve_channels({p.channel_code for p in plan.orders})
    status_maps = _status_maps({c.pk: c for c in channels.values()}.values())
    changes: list[OrderChange] = []
    seen: dict[tuple[int, str], OrderChange] = {}
    label_keys: dict[str, str] = {}  # status label as written -> status_key (a file has a handful)
    id_limit = Order._meta.get_field("external_id").max_length
    for parsed in plan.orders:
        channel = channels.get(parsed.channel_code)
        if channel is None:
            errors.append(
                _error(
                    parsed.rows[0],
                    columns.header("channel"),
                    parsed.channel_code,
                    _(
                        "unknown channel '%(channel)s': use a channel code or shop name from Channels, "
                        "or create the channel first"
                    )
                    % {"channel": parsed.channel_code},
                    "unknown_channel",
                )
            )
            continue
        key = (channel.pk, parsed.external_id)
        if key in seen:
            first = seen[key]
            errors.append(
                _error(
                    parsed.rows[0],
                    columns.header("channel"),
                    parsed.channel_code,
                    _(
                        "order %(id)s appears twice in channel %(channel)s (rows %(first)s and %(second)s, "
                        "written '%(a)s' and '%(b)s')"
                    )
                    % {
                        "id": parsed.external_id,
                        "channel": channel.code,
                        "first": first.row,
                        "second": parsed.rows[0],
                        "a": first.parsed.channel_code,
                        "b": parsed.channel_code,
                    },
                    "duplicate_order",
                )
            )
            bad.add(id(first.parsed))
            continue
        if parsed.status_label:
            key = label_keys.get(parsed.status_label)
            if key is None:
                key = label_keys[parsed.status_label] = status_key(parsed.status_label)
            parsed.status = status_maps[channel.pk].get(key, parsed.status)
        change = OrderChange(parsed=parsed, channel=channel, values=_order_values(parsed, channel), lines=[])
        seen[key] = change
        changes.append(change)
        if parsed.status == OrderStatus.ON_HOLD:
            errors.append(
                _error(
                    parsed.rows[0],
                    columns.header("status"),
                    parsed.status,
                    _("orders cannot be imported on hold; import them in their status and hold them in OMS"),
                    "invalid_status",
                )
            )
            bad.add(id(parsed))
        values = change.values
        for name, limit in TEXT_LIMITS.items():
            value = values[name]
            if len(value) > limit:
                errors.append(
                    _error(
                        parsed.rows[0],
                        columns.header(*ORDER_FIELD_SOURCES[name]),
                        value[:50] + "…",
                        _("%(field)s is %(length)s characters long; at most %(limit)s fit")
                        % {"field": FIELD_LABELS.get(name, name), "length": len(value), "limit": limit},
                        "too_long",
                    )
                )
                bad.add(id(parsed))
        if len(parsed.external_id) > id_limit:
            errors.append(
                _error(
                    parsed.rows[0],
                    columns.header("external_order_id"),
                    parsed.external_id,
                    _("order number is longer than 64 characters"),
                    "too_long",
                )
            )
            bad.add(id(parsed))
    if progress:
        progress(0, total, "checking")

    new_products = _resolve_lines(changes, columns, create_unknown_skus, errors, bad)
    _compare_existing(changes, columns, lock, errors, bad)
    changes = [c for c in changes if id(c.parsed) not in bad]
    used = {line.sku for c in changes for line in c.lines if c.action == "create" or c.replace_lines}
    new_products = {sku: value for sku, value in new_products.items() if sku in used}
    errors.sort(key=lambda e: (e.row is not None, e.row or 0, e.column or ""))
    return ImportPreview(plan, changes, errors, new_products, rejected_orders=len(plan.orders) - len(changes))


def _resolve_lines(
    changes: list[OrderChange],
    columns: _Columns,
    create_unknown_skus: bool,
    errors: list[RowError],
    bad: set[int],
) -> dict[str, tuple[str, Decimal]]:
    """Match every line to a product (by SKU, else by name); collect the products to create."""
    codes = {line.sku_code for c in changes for line in c.parsed.lines if line.sku_code}
    names = {line.product_name for c in changes for line in c.parsed.lines if not line.sku_code}
    products: dict[str, tuple[str, Decimal]] = {}
    for chunk in _chunks(sorted(codes)):
        products.update(
            {
                sku: (name, price)
                for sku, name, price in Product.objects.filter(among("sku", chunk)).values_list(
                    "sku", "name", "price"
                )
            }
        )
    by_name: dict[str, str] = {}
    for chunk in _chunks(sorted(names)):
        for sku, name in (
            Product.objects.filter(among("name", chunk)).order_by("-sku").values_list("sku", "name")
        ):
            by_name[name] = sku  # the first SKU in order wins
    by_name.update({name: _name_sku(name) for name in names if name not in by_name})
    for chunk in _chunks(sorted(set(by_name.values()) - set(products))):
        products.update(
            {
                sku: (name, price)
                for sku, name, price in Product.objects.filter(among("sku", chunk)).values_list(
                    "sku", "name", "price"
                )
            }
        )

    new: dict[str, tuple[str, Decimal]] = {}
    sku_max = OrderLine._meta.get_field("sku").max_length
    name_max = OrderLine._meta.get_field("name").max_length
    for change in changes:
        for parsed in change.parsed.lines:
            sku = parsed.sku_code or by_name[parsed.product_name]
            column = columns.header("sku_code") if parsed.sku_code else columns.header("product_name")
            if len(sku) > sku_max:
                errors.append(
                    _error(
                        parsed.row,
                        column,
                        sku,
                        _("SKU '%(sku)s' is longer than %(limit)s characters")
                        % {"sku": sku, "limit": sku_max},
                        "too_long",
                    )
                )
                bad.add(id(change.parsed))
                continue
            known = products.get(sku) or new.get(sku)
            unit_price, total = _line_amounts(parsed, known[1] if known else None)
            if known is None:
                if not create_unknown_skus:
                    errors.append(
                        _error(
                            parsed.row,
                            column,
                            sku,
                            _(
                                "unknown SKU '%(sku)s': add it to Products first, or allow unknown SKUs in the "
                                "import profile"
                            )
                            % {"sku": sku},
                            "unknown_sku",
                        )
                    )
                    bad.add(id(change.parsed))
                    continue
                known = new[sku] = ((parsed.product_name or sku)[:200], unit_price)
            name = parsed.product_name or known[0]
            if parsed.sku_properties:
                name = f"{name} {parsed.sku_properties}"
            if len(name) > name_max:
                name = name[: name_max - 1] + "…"
            change.lines.append(LineValues(sku, name, parsed.quantity, unit_price, total, parsed.row))
    return new


def _line_amounts(line: ParsedLine, list_price: Decimal | None) -> tuple[Decimal, Decimal]:
    """Unit price and line total: from the file, else derived from each other, else the list price."""
    if line.unit_price is not None:
        unit = line.unit_price.quantize(CENT)
    elif line.line_total is not None:
        unit = (line.line_total / line.quantity).quantize(CENT)
    else:
        unit = (list_price or ZERO).quantize(CENT)
    total = (
        line.line_total.quantize(CENT)
        if line.line_total is not None
        else (unit * line.quantity).quantize(CENT)
    )
    return unit, total


def _historical(existing: dict[str, Any]) -> bool:
    """An order OMS has not started working on (no stock moved, not held): an import may change its status."""
    return existing["stock_status"] == StockStatus.NONE and existing["status"] != OrderStatus.ON_HOLD


def _compare_existing(
    changes: list[OrderChange], columns: _Columns, lock: bool, errors: list[RowError], bad: set[int]
) -> None:
    """Find each order already stored under (channel, order number) and decide update or skip."""
    by_channel: dict[int, dict[str, OrderChange]] = defaultdict(dict)
    for change in changes:
        by_channel[change.channel.pk][change.parsed.external_id] = change
    wanted = ["id", "number", "external_id", "stock_status", *COMPARED_FIELDS]
    existing: dict[int, dict[str, Any]] = {}
    for channel_id, by_id in by_channel.items():
        for chunk in _chunks(sorted(by_id)):
            query = Order.objects.filter(among("external_id", chunk), channel_id=channel_id).order_by("pk")
            if lock:
                query = query.select_for_update()
            for row in query.values(*wanted):
                change = by_id[row["external_id"]]
                change.order_id, change.number = row["id"], row["number"]
                existing[row["id"]] = row
    if not existing:
        return
    line_columns = columns.has_any(LINE_FIELDS)
    stored_lines: dict[int, list[tuple]] = defaultdict(list)
    busy_lines: set[int] = set()
    if line_columns:
        for chunk in _chunks(sorted(existing)):
            for order_id, sku, qty, unit, total, reserved, shipped in (
                OrderLine.objects.filter(among("order_id", chunk))
                .order_by("order_id", "pk")
                .values_list(
                    "order_id",
                    "sku",
                    "quantity",
                    "unit_price",
                    "total",
                    "quantity_reserved",
                    "quantity_shipped",
                )
            ):
                stored_lines[order_id].append((sku, qty, unit, total))
                if reserved or shipped:
                    busy_lines.add(order_id)
    tracking: dict[int, set[str]] = defaultdict(set)
    if "tracking_number" in columns.provided:
        for chunk in _chunks(sorted(existing)):
            for order_id, number in Shipment.objects.filter(among("order_id", chunk)).values_list(
                "order_id", "tracking_number"
            ):
                tracking[order_id].add(number)

    for change in changes:
        if change.order_id is None:
            continue
        row = existing[change.order_id]
        parsed = change.parsed
        for name in columns.compared_fields(parsed.status_source):
            old, new = row[name], change.values[name]
            if isinstance(old, dt.datetime) and isinstance(new, dt.datetime):
                same = old == new
            else:
                same = old == new or (old in (None, "") and new in (None, ""))
            if not same:
                change.changes[name] = (old, new)
        historical = _historical(row)
        if not historical:  # OMS's services own these once it works on the order
            for name in ("fulfillment_status", "payment_status", "paid_amount", "refunded_amount"):
                change.changes.pop(name, None)
        if "status" in change.changes and not historical:
            if "status" in columns.provided:
                errors.append(
                    _error(
                        parsed.rows[0],
                        columns.header("status"),
                        parsed.status,
                        _(
                            "order %(id)s (%(number)s) is being processed in OMS (status %(status)s, stock "
                            "%(stock)s); change its status in OMS, not by import"
                        )
                        % {
                            "id": parsed.external_id,
                            "number": row["number"],
                            "status": row["status"],
                            "stock": row["stock_status"],
                        },
                        "order_in_progress",
                    )
                )
                bad.add(id(parsed))
                continue
            change.changes.pop("status")  # derived status: OMS knows better
        if line_columns and [ln.key() for ln in change.lines] != stored_lines.get(change.order_id, []):
            if change.order_id in busy_lines or not historical:
                errors.append(
                    _error(
                        parsed.rows[0],
                        None,
                        parsed.external_id,
                        _(
                            "order %(id)s (%(number)s) already has stock reserved or shipped; its lines cannot "
                            "be changed by an import"
                        )
                        % {"id": parsed.external_id, "number": row["number"]},
                        "order_in_progress",
                    )
                )
                bad.add(id(parsed))
                continue
            change.replace_lines = True
            change.changes["lines"] = (
                "; ".join(f"{s}×{q}" for s, q, *_r in stored_lines.get(change.order_id, [])),
                "; ".join(f"{ln.sku}×{ln.quantity}" for ln in change.lines),
            )
        if parsed.tracking_number and parsed.tracking_number not in tracking.get(change.order_id, set()):
            change.add_shipment = True
            change.changes["tracking_number"] = ("", parsed.tracking_number)
        change.action = "update" if change.changes else "skip"


# --- writing ---


class _Writer:
    """Bulk writes of one previewed file, inside the caller's transaction."""

    def __init__(
        self, preview: ImportPreview, actor: Actor, filename: str, progress: Progress | None
    ) -> None:
        self.preview = preview
        self.actor = actor
        self.filename = filename
        self.progress = progress
        self.creates = [c for c in preview.changes if c.action == "create"]
        self.updates = [c for c in preview.changes if c.action == "update"]
        self.total = len(self.creates) + len(self.updates)
        self.done = 0
        self.customers: dict[str, int] = {}
        self.product_ids: dict[str, int] = {}
        self.actor_kind, self.actor_label = actor.kind, actor.label[:150]
        self.customer_keys: dict[int, str] = {}  # id(change) -> its customer's dedupe key
        self.imported_template = _("Imported from %(file)s, row %(rows)s")  # translated once, not per order

    def _tick(self, count: int) -> None:
        self.done += count
        if self.progress:
            self.progress(self.done, self.total, "writing")

    def create_products(self) -> int:
        """Create the unknown SKUs the new lines need; load the ids of every SKU used."""
        new = self.preview.new_products
        Product.objects.bulk_create(
            [Product(sku=sku, name=name, price=price) for sku, (name, price) in new.items()],
            batch_size=BATCH,
            ignore_conflicts=True,
        )
        skus = sorted({ln.sku for c in self.creates + self.updates for ln in c.lines})
        for chunk in _chunks(skus):
            self.product_ids.update(Product.objects.filter(among("sku", chunk)).values_list("sku", "pk"))
        return len(new)

    def _customer_key(self, change: OrderChange) -> str:
        key = self.customer_keys.get(id(change))
        if key is None:
            values = change.values
            key = self.customer_keys[id(change)] = customer_dedupe_key(
                phone=values["buyer_phone"] or values["receiver_phone"],
                email=values["buyer_email"],
                channel_code=change.channel.code,
                buyer_id=change.parsed.buyer_id,
            )
        return key

    def create_customers(self) -> int:
        """Find or create (bulk, deduplicated) the customers of the new orders."""
        wanted: dict[str, dict[str, Any]] = {}
        for change in self.creates:
            key = self._customer_key(change)
            if key and key not in wanted:
                values = change.values
                wanted[key] = {
                    "dedupe_key": key,
                    "name": (values["buyer_name"] or values["receiver_name"])[:200],
                    "phone": values["buyer_phone"] or values["receiver_phone"],
                    "email": values["buyer_email"],
                    "channel_id": change.channel.pk,
                    "channel_buyer_id": change.parsed.buyer_id[:128],
                }
        keys = sorted(wanted)
        for chunk in _chunks(keys):
            self.customers.update(
                Customer.objects.filter(among("dedupe_key", chunk)).values_list("dedupe_key", "pk")
            )
        missing = [wanted[key] for key in keys if key not in self.customers]
        self.customers.update(insert_rows_on_conflict(Customer, missing, key="dedupe_key"))
        return len(missing)

    def create_orders(self) -> None:
        """Insert the new orders, their lines, shipments, addresses and IMPORTED events in batches."""
        zone = timezone.get_current_timezone()
        dated = sorted(
            (
                (change.values["placed_at"].astimezone(zone).date(), index)
                for index, change in enumerate(self.creates)
            ),
        )
        numbers = reserve_order_numbers_by_day([day for day, _index in dated])
        for (_day, index), number in zip(dated, numbers, strict=True):
            self.creates[index].number = number
        addresses: dict[tuple, dict[str, Any]] = {}
        for batch in _chunks(self.creates, BATCH):
            order_ids = insert_rows(Order, self._order_rows(batch, addresses), count=len(batch))
            for change, order_id in zip(batch, order_ids, strict=True):
                change.order_id = order_id
            self._write_lines(batch)
            self._write_shipments(batch)
            insert_rows(
                OrderEvent,
                (
                    self._event(
                        change,
                        EventType.IMPORTED,
                        self._imported_message(change),
                        status=str(change.values["status"]),
                        total=str(change.values["total"]),
                    )
                    for change in batch
                ),
                returning=False,
            )
            self._tick(len(batch))
        insert_rows_on_conflict(CustomerAddress, list(addresses.values()))

    def _order_rows(self, batch: list[OrderChange], addresses: dict[tuple, dict[str, Any]]) -> Iterator[dict]:
        """The order rows of ``batch`` (for ``insert_rows``), noting each new receiver address on the way."""
        for change in batch:
            values = change.values
            customer_id = self.customers.get(self._customer_key(change))
            yield {
                **values,
                "number": change.number,
                "channel_id": change.channel.pk,
                "external_id": change.parsed.external_id,
                "customer_id": customer_id,
                "currency": change.channel.currency,
                "warehouse_id": change.channel.default_warehouse_id,
                "cancelled_at": values["completed_at"] if values["status"] in _CLOSED else None,
            }
            if customer_id and values["receiver_name"] and values["street"]:
                key = (
                    customer_id,
                    values["receiver_name"],
                    values["receiver_phone"],
                    values["province"],
                    values["city"],
                    values["district"],
                    values["street"],
                )
                entry = addresses.get(key)
                if entry is None:
                    addresses[key] = {
                        "customer_id": customer_id,
                        "receiver_name": values["receiver_name"],
                        "receiver_phone": values["receiver_phone"],
                        "province": values["province"],
                        "city": values["city"],
                        "district": values["district"],
                        "street": values["street"],
                        "postcode": values["postcode"],
                        "use_count": 1,
                        "last_used_at": values["placed_at"],
                    }
                else:
                    entry["use_count"] += 1
                    entry["last_used_at"] = max(entry["last_used_at"], values["placed_at"])

    def _imported_message(self, change: OrderChange) -> str:
        return self.imported_template % {"file": self.filename, "rows": _rows_text(change.parsed.rows)}

    def _event(self, change: OrderChange, type: str, message: str, **data: Any) -> dict[str, Any]:
        """An event row (as ``event_row`` builds it) for ``insert_rows``; ``data`` must be JSON-ready."""
        return {
            "order_id": change.order_id,
            "type": type,
            "actor_kind": self.actor_kind,
            "actor_user_id": self.actor.user_id,
            "actor_label": self.actor_label,
            "message": str(message),
            "data": {"file": self.filename, "rows": change.parsed.rows, **data},
        }

    def _write_lines(self, batch: list[OrderChange]) -> None:
        insert_rows(
            OrderLine,
            (
                {
                    "order_id": change.order_id,
                    "product_id": self.product_ids[line.sku],
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "total": line.total,
                }
                for change in batch
                for line in change.lines
            ),
            returning=False,
        )

    def _write_shipments(self, batch: list[OrderChange]) -> None:
        shipments = []
        for change in batch:
            parsed = change.parsed
            if not parsed.tracking_number or (change.action == "update" and not change.add_shipment):
                continue
            delivered = change.values["status"] in (OrderStatus.DELIVERED, OrderStatus.COMPLETED)
            shipments.append(
                Shipment(
                    order_id=change.order_id,
                    carrier=(parsed.carrier or "—")[:50],
                    tracking_number=parsed.tracking_number[:64],
                    status=Shipment.Status.DELIVERED if delivered else Shipment.Status.SHIPPED,
                    shipped_at=parsed.shipped_at or parsed.paid_at or parsed.placed_at,
                )
            )
        Shipment.objects.bulk_create(shipments, batch_size=BATCH)

    def update_orders(self) -> None:
        """Write the changed fields of existing orders (bulk_update per set of fields) and UPDATED events."""
        for batch in _chunks(self.updates, BATCH):
            by_fields: dict[tuple[str, ...], list[Order]] = defaultdict(list)
            now = timezone.now()
            for change in batch:
                names = tuple(sorted(n for n in change.changes if n in ORDER_FIELD_SOURCES))
                if not names:
                    continue
                order = Order(pk=change.order_id, updated_at=now)
                for name in names:
                    setattr(order, name, change.changes[name][1])
                by_fields[names].append(order)
            for names, orders in by_fields.items():
                Order.objects.bulk_update(orders, [*names, "updated_at"], batch_size=BATCH)
            replaced = [c for c in batch if c.replace_lines]
            if replaced:
                OrderLine.objects.filter(order_id__in=[c.order_id for c in replaced]).delete()
                self._write_lines(replaced)
            self._write_shipments(batch)
            insert_rows(
                OrderEvent,
                [
                    self._event(
                        change,
                        EventType.UPDATED,
                        _updated_message(self.filename, change),
                        changes=jsonable({k: [a, b] for k, (a, b) in change.changes.items()}),
                    )
                    for change in batch
                ],
                returning=False,
            )
            self._tick(len(batch))


_CLOSED = (OrderStatus.CANCELLED, OrderStatus.CLOSED)


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    return shown + ("…" if len(rows) > 5 else "")


def _updated_message(filename: str, change: OrderChange) -> str:
    parts = [f"{name}: {_shown(old)} → {_shown(new)}" for name, (old, new) in change.changes.items()]
    return _("Updated by import of %(file)s, row %(rows)s: %(changes)s") % {
        "file": filename,
        "rows": _rows_text(change.parsed.rows),
        "changes": "; ".join(parts),
    }


def _shown(value: Any) -> Any:
    """A value for messages and JSON (datetimes in local time, Decimals as text)."""
    if isinstance(value, dt.datetime):
        return (
            timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
            if timezone.is_aware(value)
            else value.isoformat(" ")
        )
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


__all__ = [
    "ImportPreview",
    "ImportResult",
    "OrderChange",
    "apply_import",
    "import_file",
    "preview_import",
]
