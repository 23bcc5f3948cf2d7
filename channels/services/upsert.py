"""Upsert a batch of platform orders into OMS by (channel, external id): the heart of sync and webhooks.

One call handles one page inside the caller's transaction. Existing channel orders are loaded (and locked) in one
query and written back in bulk; a payload whose hash did not change is skipped; new orders are created in bulk
through `orders.services.bulk` in the mapped status with a SYNCED event; a changed platform status goes through the
state machine (channels.services.moves). An order that cannot be imported keeps its raw payload on a ChannelOrder
without an OMS order, with the reason, and is retried on the next sync: nothing is lost silently.

Unknown SKUs: the platform's merchant code (outer id) becomes a new Product with the line's name and unit price,
so an order is never refused for a catalogue gap; the product can be completed in the admin later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.mapping import ChannelMapping, MappedOrder, map_order, map_status
from channels.models import ChannelOrder
from channels.services.moves import apply_platform_status
from oms.actors import Actor
from oms.errors import OMSError
from orders.choices import EventType, ExceptionReason
from orders.services import create_order, flag_exception, record_payment
from orders.services.bulk import (
    CopyRowSplitter,
    EncodedJSON,
    ProductStandIns,
    StagedOrder,
    among,
    copy_text_lines,
    create_orders_bulk,
    ensure_products,
    insert_rows,
    stage_order,
    write_staged,
    writes_set_based,
)
from orders.services.events import json_default, jsonable

logger = logging.getLogger(__name__)

CHANNEL_ORDER_FIELDS = [
    "raw",
    "payload_hash",
    "platform_status",
    "platform_updated_at",
    "synced_at",
    "last_error",
]


@dataclass
class UpsertResult:
    """What one batch did: counts, and errors as JSON-ready dicts (external id, code, message)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    conflicts: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, external_id: str, code: str, message: str) -> None:
        """Record one problem with one order."""
        self.errors.append({"external_id": external_id, "code": code, "message": str(message)[:500]})


def payload_hash(raw: Any) -> str:
    """A stable hash of a raw payload (sorted keys, Decimals as text) to detect unchanged orders."""
    return encoded_payload(raw).text_hash


class _EncodedPayload(EncodedJSON):
    """A raw payload encoded once: its canonical JSON text (stored as is) and that text's SHA-256."""

    __slots__ = ("text_hash",)


def encoded_payload(raw: Any) -> _EncodedPayload:
    """The payload's canonical JSON (sorted keys, compact, non-ASCII as is, Decimals as text) and its hash; the
    same text is what the channel order stores, so a page encodes each payload once.

    orjson writes exactly what `json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))` writes
    for parsed JSON (pinned by a test), several times faster; what it refuses (an integer beyond 64 bits) goes
    through the standard library.
    """
    try:
        data = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS, default=json_default)
    except TypeError:
        data = json.dumps(
            raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=json_default
        ).encode()
    encoded = _EncodedPayload(raw, data.decode())
    encoded.text_hash = hashlib.sha256(data).hexdigest()
    return encoded


def _latest_per_id(orders: list[Any]) -> list[Any]:
    """One platform order per external id, the most recently modified (windows overlap, pages may repeat)."""
    latest: dict[str, Any] = {}
    for order in orders:
        seen = latest.get(order.external_id)
        if seen is None or (order.updated_at and seen.updated_at and order.updated_at >= seen.updated_at):
            latest[order.external_id] = order
    return list(latest.values())


@dataclass(slots=True)
class PreparedOrder:
    """A platform order with the work that needs no database done: its payload encoded and hashed once, and
    (when asked for ahead) its mapping to an OMS order input, or the error that refused it."""

    position: int
    order: Any
    encoded: _EncodedPayload
    mapped: MappedOrder | None = None
    refusal: OMSError | None = None
    staged: StagedOrder | None = None
    """PostgreSQL: the mapped order checked and formatted for `write_staged`, or the error in `stage_error`."""
    stage_error: OMSError | None = None
    channel_order_parts: tuple[str, str] | None = None
    """With `staged`: its ChannelOrder row as COPY text around the order id (`CopyRowSplitter`)."""

    def map(self, channel: Any, mapping: ChannelMapping) -> None:
        """Map the order now (idempotent): `mapped`, or `refusal` when the mapping refuses it."""
        if self.mapped is None and self.refusal is None:
            try:
                self.mapped = map_order(self.order, channel=channel, mapping=mapping)
            except OMSError as exc:
                self.refusal = exc

    def stage(self, channel: Any, page: PageStaging) -> None:
        """Check and format the mapped order for `write_staged` now, with its ChannelOrder row (idempotent;
        needs `map` first)."""
        if self.mapped is not None and self.staged is None and self.stage_error is None:
            try:
                self.staged = stage_order(
                    self.position,
                    self.mapped.data,
                    page.products,
                    payment_reference=payment_reference(channel),
                    now=page.now,
                    tz=page.tz,
                )
            except OMSError as exc:
                self.stage_error = exc
            else:
                self.channel_order_parts = page.channel_orders(self.channel_order_row(channel, page.now))

    def channel_order_row(self, channel: Any, now) -> dict[str, Any]:
        """The values of this order's ChannelOrder row (no OMS order yet, no error)."""
        return {
            "channel_id": channel.pk,
            "external_id": self.order.external_id,
            "order_id": None,
            "raw": self.encoded,
            "payload_hash": self.encoded.text_hash,
            "platform_status": self.order.platform_status[:64],
            "platform_updated_at": self.order.updated_at,
            "synced_at": now,
            "last_error": "",
        }


def channel_order_splitter() -> CopyRowSplitter:
    """Formats new ChannelOrder rows as COPY text around their order id."""
    return CopyRowSplitter(ChannelOrder, "order_id")


@dataclass(slots=True)
class PageStaging:
    """What the orders of one page share when they are staged, worked out once: stand-ins for their products,
    the time, the ChannelOrder row formatter and the time zone of order dates."""

    products: ProductStandIns = field(default_factory=ProductStandIns)
    now: dt.datetime = field(default_factory=timezone.now)
    channel_orders: CopyRowSplitter = field(default_factory=channel_order_splitter)
    tz: dt.tzinfo = field(default_factory=timezone.get_current_timezone)


def payment_reference(channel: Any) -> str:
    """The transaction id a synced order's platform payment carries (`{external_id}` filled in)."""
    return f"{channel.code}:{{external_id}}"


def prepare_orders(
    orders: list[Any], *, channel: Any = None, mapping: ChannelMapping | None = None
) -> list[PreparedOrder]:
    """One PreparedOrder per external id (the latest version), mapped ahead when `mapping` is given, and on
    PostgreSQL also staged for the set-based writer.

    Touches no database, so a sync runs it for the next page in its fetching thread while the current page is
    written. Working ahead also maps orders that turn out to be known (that work is then not used).
    """
    prepared = [
        PreparedOrder(position, order, encoded_payload(order.raw))
        for position, order in enumerate(_latest_per_id(orders))
    ]
    if mapping is not None:
        staging = writes_set_based()
        page = PageStaging()
        for item in prepared:
            item.map(channel, mapping)
            if staging:
                item.stage(channel, page)
    return prepared


def upsert_orders(
    channel: Any,
    orders: list[Any] | list[PreparedOrder],
    *,
    mapping: ChannelMapping,
    actor: Actor,
    on_orders_written: Callable[[], Any] | None = None,
) -> UpsertResult:
    """Create or update the OMS orders for a batch of `PlatformOrder`s of one channel (inside a transaction);
    the batch may come from `prepare_orders` already.

    `on_orders_written` is called once the rows another batch could have to wait for are written (orders,
    products, customers, stock moves), before this batch's own new ChannelOrder rows: a sync starts writing its
    next page from there."""
    result = UpsertResult()
    if orders and not isinstance(orders[0], PreparedOrder):  # a webhook's: prepared here, mapped on creation
        orders = prepare_orders(orders)
    if not orders:
        return result
    now = timezone.now()
    with transaction.atomic():
        existing = {
            co.external_id: co
            for co in ChannelOrder.objects.select_for_update()
            .filter(among("external_id", [item.order.external_id for item in orders]), channel=channel)
            .order_by("pk")
        }
        to_create: list[tuple[PreparedOrder, ChannelOrder | None]] = []
        to_update: list[tuple[Any, str, ChannelOrder]] = []
        for item in orders:
            platform_order, digest = item.order, item.encoded.text_hash
            known = existing.get(platform_order.external_id)
            if known is None or known.order_id is None:
                to_create.append((item, known))
            elif known.payload_hash == digest or _is_stale(platform_order, known):
                result.unchanged += 1
            else:
                to_update.append((platform_order, digest, known))
        updated = [
            _update(
                channel, platform_order, digest, known, mapping=mapping, actor=actor, now=now, result=result
            )
            for platform_order, digest, known in to_update
        ]
        if to_create:
            _create(
                channel,
                to_create,
                mapping=mapping,
                actor=actor,
                now=now,
                result=result,
                before_channel_orders=on_orders_written,
            )
        elif on_orders_written is not None:
            on_orders_written()
        if updated:
            _save_rows(updated, CHANNEL_ORDER_FIELDS)
    return result


def _is_stale(platform_order: Any, known: ChannelOrder) -> bool:
    """An older version of an order we already hold (a late webhook, an overlapping window)."""
    return bool(
        platform_order.updated_at
        and known.platform_updated_at
        and platform_order.updated_at < known.platform_updated_at
    )


def _channel_order(platform_order: Any, digest: str, now, known: ChannelOrder) -> ChannelOrder:
    """`known` with the platform's new payload (saved by the caller, made JSON-safe by `_save_rows`)."""
    known.raw = platform_order.raw
    known.payload_hash = digest
    known.platform_status = platform_order.platform_status[:64]
    known.platform_updated_at = platform_order.updated_at
    known.synced_at = now
    known.last_error = ""
    return known


def _save_rows(rows: list[ChannelOrder], fields: list[str]) -> None:
    """Write existing channel orders back, their raw payloads made JSON-safe first (Decimals as text)."""
    for row in rows:
        row.raw = jsonable(row.raw)
    ChannelOrder.objects.bulk_update(rows, fields)


def _create(
    channel,
    items,
    *,
    mapping: ChannelMapping,
    actor: Actor,
    now,
    result: UpsertResult,
    before_channel_orders: Callable[[], Any] | None = None,
) -> None:
    """Map and bulk-create new orders; failures keep their raw payload with the reason.

    A channel order seen for the first time is written as a plain row (one COPY per page); one refused on an
    earlier sync (`known`) is updated in place.
    """
    mapped: list[tuple[Any, dict[str, Any], MappedOrder]] = []
    prepared: list[PreparedOrder] = []  # the items of `mapped`
    refused: list[dict[str, Any]] = []
    known_by_id = {known.external_id: known for _item, known in items if known is not None}
    for item, _known in items:
        platform_order = item.order
        row = item.channel_order_row(channel, now)
        item.map(channel, mapping)
        if item.mapped is None:
            _refuse(row, platform_order, item.refusal, refused, result)
        else:
            mapped.append((platform_order, row, item.mapped))
            prepared.append(item)
    try:
        with transaction.atomic():
            if writes_set_based():
                created, errors = _write_staged(channel, prepared, actor=actor, now=now)
            else:
                outcome = create_orders_bulk(
                    [item.data for *_rest, item in mapped],
                    actor=actor,
                    event_type=EventType.SYNCED,
                    payment_reference=payment_reference(channel),
                    products=ensure_products(_product_specs(mapped)),
                )
                created, errors = outcome.order_ids, outcome.errors
    except IntegrityError:
        # Someone (a webhook, another node) created one of these orders meanwhile: go one by one.
        ensure_products(_product_specs(mapped))
        created, errors = _create_one_by_one(channel, mapped, actor=actor)
    rows: list[dict[str, Any]] = []
    for index, (platform_order, row, item) in enumerate(mapped):
        order_id = created.get(index)
        if order_id is None:
            exc = errors.get(index)
            if exc is None:  # created meanwhile by someone else: it is an update now
                result.unchanged += 1
                continue
            _refuse(row, platform_order, exc, refused, result)
            continue
        row["order_id"] = order_id
        result.created += 1
        if item.anomalies:
            flag_exception(
                order_id, reason=ExceptionReason.AMOUNT_ANOMALY, detail="; ".join(item.anomalies), actor=actor
            )
        rows.append(row)
    rows += refused  # refused on their first sight too: payload and reason
    retried = []
    for row in [row for row in rows if row["external_id"] in known_by_id]:
        known = known_by_id[row["external_id"]]
        for name in (*CHANNEL_ORDER_FIELDS, "order_id"):
            setattr(known, name, row[name])
        known.raw = row["raw"].value
        retried.append(known)
    new_rows = [row for row in rows if row["external_id"] not in known_by_id]
    if before_channel_orders is not None:
        before_channel_orders()
    if writes_set_based():
        parts = {item.order.external_id: item.channel_order_parts for item in prepared}
        copy_text_lines(ChannelOrder, _channel_order_lines(new_rows, parts))
    else:
        insert_rows(ChannelOrder, new_rows, returning=False)
    if retried:
        _save_rows(retried, [*CHANNEL_ORDER_FIELDS, "order"])


def _channel_order_lines(
    rows: list[dict[str, Any]], parts: dict[str, tuple[str, str] | None]
) -> Iterator[str]:
    """COPY text of new channel orders: a created order's from the parts its staging formatted, others' now."""
    splitter = None
    for row in rows:
        order_id = row["order_id"]
        head_and_tail = order_id and parts.get(row["external_id"])
        if not head_and_tail:
            splitter = splitter or channel_order_splitter()
            head_and_tail = splitter(row)
        head, tail = head_and_tail
        yield f"{head}{'\\N' if order_id is None else order_id}{tail}"


def _product_specs(mapped: list[tuple[Any, dict[str, Any], MappedOrder]]) -> dict[str, tuple[str, Decimal]]:
    """(name, price) of each SKU the mapped orders name, from its first line (for `ensure_products`)."""
    specs: dict[str, tuple[str, Decimal]] = {}
    for _po, _row, item in mapped:
        for line in item.data.lines:
            if line.sku not in specs:
                specs[line.sku] = (line.name, Decimal(str(line.unit_price or 0)))
    return specs


def _write_staged(
    channel: Any, prepared: list[PreparedOrder], *, actor: Actor, now
) -> tuple[dict[int, int], dict[int, OMSError]]:
    """The PostgreSQL creation: the mapped orders (staged ahead by the sync's fetching thread, or now) written
    set-based, unknown SKUs becoming products. Order ids and errors by position in `prepared`."""
    page = PageStaging(now=now)
    staged, errors, positions = [], {}, {}
    for index, item in enumerate(prepared):
        item.stage(channel, page)
        if item.staged is None:
            errors[index] = item.stage_error
        else:
            staged.append(item.staged)
            positions[item.staged.index] = index
    order_ids = write_staged(staged, actor=actor, event_type=EventType.SYNCED, create_products=True)
    return {positions[key]: order_id for key, order_id in order_ids.items()}, errors


def _refuse(
    row: dict[str, Any], platform_order: Any, exc: OMSError, refused: list, result: UpsertResult
) -> None:
    """Keep a refused order's payload with the reason, to be retried on the next sync."""
    row["last_error"] = f"{exc.code}: {exc.message}"
    refused.append(row)
    result.failed += 1
    result.error(platform_order.external_id, exc.code, exc.message)


def _create_one_by_one(channel, mapped, *, actor: Actor) -> tuple[dict[int, int], dict[int, OMSError]]:
    created: dict[int, int] = {}
    errors: dict[int, OMSError] = {}
    for index, (platform_order, _row, item) in enumerate(mapped):
        try:
            with transaction.atomic():
                order = create_order(item.data, actor=actor, event_type=EventType.SYNCED)
                if item.data.paid_amount and order.paid_amount:
                    record_payment(
                        order,
                        amount=order.paid_amount,
                        method="platform",
                        actor=actor,
                        transaction_id=payment_reference(channel).format(
                            external_id=platform_order.external_id
                        ),
                        paid_at=item.data.paid_at,
                    )
                created[index] = order.pk
        except OMSError as exc:
            if exc.code != "duplicate_external_id":
                errors[index] = exc
    return created, errors


def _update(
    channel, platform_order, digest: str, known: ChannelOrder, *, mapping, actor, now, result
) -> ChannelOrder:
    """The row with the new payload (saved by the caller); a changed platform status moves the order through
    the state machine."""
    previous_status = known.platform_status
    row = _channel_order(platform_order, digest, now, known)
    result.updated += 1
    if platform_order.platform_status != previous_status:
        try:
            target = map_status(platform_order.platform_status, mapping)
        except OMSError as exc:
            row.last_error = f"{exc.code}: {exc.message}"
            result.error(platform_order.external_id, exc.code, exc.message)
        else:
            conflict = apply_platform_status(
                known.order_id, target, platform_order=platform_order, actor=actor, channel=channel
            )
            if conflict:
                result.conflicts += 1
                result.error(platform_order.external_id, "sync_conflict", conflict)
    return row


def describe(result: UpsertResult) -> str:
    """A one-line summary for logs and messages."""
    return _("%(c)s created, %(u)s updated, %(n)s unchanged, %(f)s failed, %(k)s conflicts") % {
        "c": result.created,
        "u": result.updated,
        "n": result.unchanged,
        "f": result.failed,
        "k": result.conflicts,
    }
