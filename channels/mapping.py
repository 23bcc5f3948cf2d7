"""From a platform order to an OMS `OrderInput`: status mapping, field mappings, amount reconciliation.

Pure except `load_mapping`, the one function that reads mapping rows. The order of precedence for a status is the
channel's own StatusMapping rows, then the platform's rows (channel empty), then the adapter's
`default_status_map`. Field mappings run after the adapter's parse, so a manager can fix a field the adapter
reads differently from how the shop uses it (e.g. the buyer's note kept in a custom attribute).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from channels.choices import FieldTransform, MappedField
from oms.errors import ValidationFailed
from oms.money import CENT, ZERO
from orders.choices import OrderStatus
from orders.services.creation import LineInput, OrderInput
from orders.services.customers import normalize_phone
from orders.state import payment_status_for

MISSING = object()
"""Returned by `dig_path` when the path does not exist in the payload."""

_MONEY_FIELDS = {MappedField.SHIPPING_FEE}
_TIME_FIELDS = {MappedField.PLACED_AT, MappedField.PAID_AT}
_MAPPABLE_STATUSES = frozenset(OrderStatus.values) - {OrderStatus.ON_HOLD}
"""Statuses a platform status may map to (on hold is OMS's own state, never the platform's)."""


@dataclass(frozen=True)
class FieldRule:
    """One field mapping as plain data: read `path` from the raw payload, transform, write `target`."""

    path: str
    target: str
    transform: str = FieldTransform.NONE


@dataclass(frozen=True)
class ChannelMapping:
    """Everything needed to map one channel's orders: the effective status map and the field rules."""

    platform: str
    status_map: dict[str, str] = field(default_factory=dict)
    field_rules: tuple[FieldRule, ...] = ()


@dataclass
class MappedOrder:
    """The outcome of mapping: the OrderInput to create, the OMS status, and notes (e.g. amount anomalies)."""

    data: OrderInput
    status: str
    anomalies: list[str] = field(default_factory=list)


def parse_path(path: str) -> list[str | int]:
    """Split a dotted path ('orders.order.0.title') into keys and list indexes; ValueError if malformed."""
    path = (path or "").strip()
    if not path:
        raise ValueError(_("the path is empty"))
    parts: list[str | int] = []
    for part in path.split("."):
        if not part:
            raise ValueError(_("'%(path)s' has an empty segment") % {"path": path})
        parts.append(int(part) if part.lstrip("-").isdigit() else part)
    return parts


def dig_path(data: Any, path: str) -> Any:
    """The value at a dotted path in nested dicts/lists, or MISSING."""
    current = data
    for key in parse_path(path):
        try:
            if isinstance(key, int) and isinstance(current, list):
                current = current[key]
            elif isinstance(current, dict):
                current = current[str(key)] if str(key) in current else current[key]
            else:
                return MISSING
        except (KeyError, IndexError, TypeError):
            return MISSING
    return current


def apply_transform(value: Any, transform: str, *, field_name: str = "") -> Any:
    """Apply one transform to a raw value; ValidationFailed names the field when the value does not fit."""
    if value is None:
        return None
    if transform in (FieldTransform.NONE, ""):
        return value
    if transform == FieldTransform.STRIP:
        return str(value).strip()
    if transform == FieldTransform.UPPER:
        return str(value).strip().upper()
    if transform == FieldTransform.PHONE:
        return normalize_phone(str(value))
    if transform == FieldTransform.FEN_TO_YUAN:
        try:
            return (Decimal(int(Decimal(str(value)))) / 100).quantize(CENT)
        except (InvalidOperation, ValueError):
            raise ValidationFailed(
                _("%(field)s: '%(value)s' is not an amount in fen") % {"field": field_name, "value": value},
                code="invalid_amount",
                field=field_name,
            )
    if transform == FieldTransform.DATE:
        return parse_moment(value, field_name=field_name)
    raise ValidationFailed(
        _("unknown transform '%(t)s'") % {"t": transform}, code="invalid_choice", field="transform"
    )


def parse_moment(value: Any, *, field_name: str = "") -> dt.datetime | None:
    """A platform time as an aware datetime: Unix seconds, ISO 8601, 'yyyy-MM-dd HH:mm:ss' or a bare date.

    Times without a zone are read in the project's time zone (the China platforms send GMT+8 local times).
    """
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, int | float | Decimal) or (isinstance(value, str) and value.strip().isdigit()):
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    else:
        text = str(value).strip()
        moment = parse_datetime(text.replace("/", "-"))
        if moment is None:
            day = parse_date(text.replace("/", "-"))
            if day is None:
                raise ValidationFailed(
                    _("%(field)s: '%(value)s' is not a date") % {"field": field_name, "value": value},
                    code="invalid_date",
                    field=field_name,
                )
            moment = dt.datetime.combine(day, dt.time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def effective_status_map(
    adapter_defaults: Mapping[str, str], platform_rows: Mapping[str, str], channel_rows: Mapping[str, str]
) -> dict[str, str]:
    """Layer the status maps: adapter defaults, then the platform's rows, then the channel's own rows."""
    return {**adapter_defaults, **platform_rows, **channel_rows}


def load_mapping(channel: Any) -> ChannelMapping:
    """Read the effective mapping of one channel (one query per mapping table)."""
    from channels.adapters.registry import get_adapter_class
    from channels.models import FieldMapping, StatusMapping

    defaults = dict(getattr(get_adapter_class(channel.platform), "default_status_map", {}) or {})
    platform_rows: dict[str, str] = {}
    channel_rows: dict[str, str] = {}
    rows_q = Q(platform=channel.platform, channel__isnull=True) | Q(channel=channel)
    for row in StatusMapping.objects.filter(rows_q):
        (channel_rows if row.channel_id else platform_rows)[row.platform_status] = row.internal_status
    rules: dict[str, FieldRule] = {}
    rows = FieldMapping.objects.filter(platform=channel.platform, is_active=True).order_by("channel_id")
    for row in rows:
        if row.channel_id not in (None, channel.pk):
            continue
        if row.channel_id is None and row.target_field in rules:
            continue
        rules[row.target_field] = FieldRule(row.source_path, row.target_field, row.transform)
    # channel rows must win whatever the ordering of NULLs on this database
    for row in rows:
        if row.channel_id == channel.pk:
            rules[row.target_field] = FieldRule(row.source_path, row.target_field, row.transform)
    return ChannelMapping(
        platform=channel.platform,
        status_map=effective_status_map(defaults, platform_rows, channel_rows),
        field_rules=tuple(rules.values()),
    )


def map_status(platform_status: str, mapping: ChannelMapping) -> str:
    """The OMS status for a platform status; ValidationFailed('unmapped_status') when none is configured."""
    status = mapping.status_map.get(platform_status)
    if status not in _MAPPABLE_STATUSES:
        raise ValidationFailed(
            _("platform status '%(status)s' has no mapping for %(platform)s; add one under Status mappings")
            % {"status": platform_status, "platform": mapping.platform},
            code="unmapped_status",
            field="platform_status",
        )
    return status


def fallback_sku(platform: str, external_line_id: str) -> str:
    """The SKU used when the platform line has no merchant code (outer id): platform + line id."""
    return f"{platform.upper()}-{external_line_id}"[:64]


def _line_inputs(order: Any, platform: str) -> list[LineInput]:
    lines = []
    for line in order.lines:
        quantity = int(line.quantity)
        gross = (line.unit_price * quantity).quantize(CENT)
        discount = line.discount or ZERO
        if line.total and not line.discount and line.total <= gross:
            discount = gross - line.total
        discount = min(max(discount, ZERO), gross)
        lines.append(
            LineInput(
                sku=(line.sku_code or fallback_sku(platform, line.external_line_id))[:64],
                quantity=quantity,
                unit_price=line.unit_price,
                discount=discount,
                name=(line.name or "")[:200],
                external_line_id=str(line.external_line_id)[:64],
            )
        )
    return lines


def map_order(order: Any, *, channel: Any, mapping: ChannelMapping) -> MappedOrder:
    """Map a `PlatformOrder` to an `OrderInput` in the mapped status, reconciling amounts with the platform's.

    The order-level discount is whatever makes lines + shipping + tax come to the platform's total, so OMS's
    total always equals what the buyer was charged; a platform total above that sum is an anomaly (reported,
    and the order is kept with OMS's computed total).
    """
    status = map_status(order.platform_status, mapping)
    address = order.address
    lines = _line_inputs(order, mapping.platform)
    values: dict[str, Any] = {
        "buyer_name": order.buyer_name,
        "buyer_phone": order.buyer_phone,
        "buyer_email": order.buyer_email,
        "buyer_id": order.buyer_id,
        "receiver_name": address.receiver,
        "receiver_phone": address.phone,
        "province": address.province,
        "city": address.city,
        "district": address.district,
        "street": address.street,
        "postcode": address.postcode,
        "buyer_note": order.buyer_note,
        "seller_note": order.seller_note,
        "shipping_fee": order.shipping or ZERO,
        "placed_at": order.created_at or order.updated_at,
        "paid_at": order.paid_at,
    }
    values.update(apply_field_rules(order.raw, mapping.field_rules))
    anomalies: list[str] = []
    # _line_inputs' prices and discounts are Decimals already.
    lines_sum = sum((line.unit_price * line.quantity - line.discount for line in lines), ZERO)
    shipping = Decimal(str(values["shipping_fee"] or ZERO)).quantize(CENT)
    tax = order.tax or ZERO
    platform_total = order.total or ZERO
    discount = lines_sum + shipping + tax - platform_total
    if not platform_total and not order.discount:
        discount = ZERO
    if discount < 0:
        anomalies.append(
            _("platform total %(total)s is above lines %(lines)s + shipping %(ship)s + tax %(tax)s")
            % {"total": platform_total, "lines": lines_sum, "ship": shipping, "tax": tax}
        )
        discount = ZERO
    total = lines_sum + shipping + tax - discount
    paid = min(order.paid_amount or ZERO, total) if order.paid_amount else ZERO
    if order.paid_amount and order.paid_amount > total:
        anomalies.append(
            _("paid %(paid)s exceeds the total %(total)s") % {"paid": order.paid_amount, "total": total}
        )
    data = OrderInput(
        lines=lines,
        channel=channel,
        external_id=order.external_id,
        status=status,
        payment_status=payment_status_for(total, paid, ZERO),
        currency=order.currency or getattr(channel, "currency", ""),
        discount=discount,
        shipping_fee=shipping,
        tax=tax,
        total=None,
        paid_amount=paid,
        warehouse=getattr(channel, "default_warehouse", None),
        extra={"platform_status": order.platform_status},
        **{
            key: ("" if value is None else value) if key not in _TIME_FIELDS else value
            for key, value in values.items()
            if key != "shipping_fee"
        },
    )
    for name in ("buyer_name", "receiver_name"):
        setattr(data, name, str(getattr(data, name) or "")[:100])
    return MappedOrder(data=data, status=status, anomalies=anomalies)


def apply_field_rules(raw: Any, rules: tuple[FieldRule, ...] | list[FieldRule]) -> dict[str, Any]:
    """Values the field rules read from `raw` (missing paths are skipped, so the adapter's value stays)."""
    values: dict[str, Any] = {}
    for rule in rules:
        value = dig_path(raw, rule.path)
        if value is MISSING:
            continue
        value = apply_transform(value, rule.transform, field_name=rule.target)
        if rule.target in _TIME_FIELDS and value is not None and not isinstance(value, dt.datetime):
            value = parse_moment(value, field_name=rule.target)
        elif rule.target in _MONEY_FIELDS:
            try:
                value = Decimal(str(value)).quantize(CENT)
            except (InvalidOperation, ValueError):
                raise ValidationFailed(
                    _("%(field)s: '%(value)s' is not an amount") % {"field": rule.target, "value": value},
                    code="invalid_amount",
                    field=rule.target,
                )
        elif rule.target not in _TIME_FIELDS:
            value = "" if value is None else str(value)
        values[rule.target] = value
    return values


def preview(raw: dict, *, adapter: Any, channel: Any, mapping: ChannelMapping) -> dict[str, Any]:
    """What a stored raw payload becomes under `mapping`: the OMS status, fields, lines and anomalies (or the error).

    Used by the admin's mapping preview before a mapping is saved; writes nothing.
    """
    try:
        platform_order = adapter.parse_order(raw)
        mapped = map_order(platform_order, channel=channel, mapping=mapping)
    except ValidationFailed as exc:
        return {"error": exc.message, "code": exc.code}
    except Exception as exc:  # an adapter's parse error: show it, the preview must not crash the page
        return {"error": str(exc), "code": getattr(exc, "code", "parse_error")}
    data = mapped.data
    fields = {
        name: getattr(data, name)
        for name in (
            "external_id",
            "status",
            "payment_status",
            "buyer_name",
            "buyer_phone",
            "buyer_email",
            "receiver_name",
            "receiver_phone",
            "province",
            "city",
            "district",
            "street",
            "postcode",
            "buyer_note",
            "seller_note",
            "discount",
            "shipping_fee",
            "tax",
            "paid_amount",
            "placed_at",
            "paid_at",
        )
    }
    return {
        "platform_status": platform_order.platform_status,
        "status": mapped.status,
        "fields": fields,
        "lines": [replace(line) for line in data.lines],
        "anomalies": mapped.anomalies,
    }
