"""Bulk creation for high-volume paths (channel syncs, large imports): a page of orders in a few queries.

`create_orders_bulk` applies the same checks as `create_order` to every input and writes orders, lines, platform
payments, customers, addresses and the first timeline event with bulk inserts. It runs inside the caller's
transaction; an input that fails validation is reported by index and the others are still created. The creation
hooks run once per call (`orders_created` with every new order id), not once per order.
`ensure_products` creates SKUs a platform sent that OMS does not know yet, so no order is lost.
`insert_rows` / `insert_instances` (rows as dicts) are the writers underneath (also for the spreadsheet
importer): COPY on PostgreSQL (ids from the tables' sequences), bulk_create elsewhere; `insert_rows_on_conflict`
for rows that may exist already. `among` is the lookup filter both use (one array parameter on PostgreSQL).
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import OMSError
from oms.money import ZERO, to_money
from orders import hooks
from orders.choices import EventType, PaymentMethod
from orders.models import Customer, CustomerAddress, Order, OrderEvent, OrderLine, Payment, Product
from orders.services.creation import (
    OrderInput,
    ValidatedLine,
    reserve_order_numbers,
    validate_order_input,
)
from orders.services.customers import customer_dedupe_key, normalize_email, normalize_phone
from orders.services.events import event_values, json_default, jsonable


@dataclass
class BulkOutcome:
    """Per input index: the created order, or the error that refused it."""

    orders: dict[int, Order] = field(default_factory=dict)
    errors: dict[int, OMSError] = field(default_factory=dict)


def insert_rows(
    model: type[models.Model],
    rows: Iterable[dict[str, Any]],
    *,
    returning: bool = True,
    count: int | None = None,
) -> list[int]:
    """Insert rows given as {attname: value} without building model instances; returns their pks in order.

    Omitted fields take their default (auto_now(_add) fields: now). PostgreSQL: ids from the table's sequence (one `nextval`
    query), then one COPY;
    with `returning=False` the ids are left to the column's default (one round trip fewer) and [] is returned.
    `rows` may be a generator: on PostgreSQL it is consumed while the COPY runs, so building the rows overlaps
    with the server writing those already sent (pass its `count` when ids are returned). Elsewhere bulk_create.
    """
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create(_unsaved(model, list(rows)))
        return [obj.pk for obj in objs] if returning else []
    if count is None and (returning or isinstance(rows, list)):
        rows = list(rows)
        count = len(rows)
    if count == 0:
        return []
    plan = _copy_plan(model)
    return _copy(model, plan, _value_lists(plan, rows), count or 0, returning=returning)


def insert_instances(model: type[models.Model], rows: list[dict[str, Any]]) -> list:
    """As `insert_rows`, returning saved instances of `model` built from the written values (positionally,
    the cheap way Django builds instances from a query), for callers that hand the objects on."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(_unsaved(model, rows))
    plan = _copy_plan(model)
    values = list(_value_lists(plan, rows))
    _copy(model, plan, values, len(rows))
    alias = connection.alias
    return [model.from_db(alias, None, row) for row in values]


def _value_lists(plan: _CopyPlan, rows: Iterable[dict[str, Any]]) -> Iterator[list]:
    """Each row as a list in the plan's column order, defaults (fresh ones for dicts and lists) filled in."""
    now = timezone.now()
    defaults = [
        now if name in plan.stamped else field.get_default()
        for name, field in zip(plan.names, plan.fields, strict=True)
    ]
    names = plan.names
    mutable = [
        (index, name)
        for index, (name, default) in enumerate(zip(names, defaults, strict=True))
        if isinstance(default, dict | list)
    ]
    for row in rows:
        values = list(map(row.get, names, defaults))  # the loop in C: this runs for every row of a page
        for index, name in mutable:
            if name not in row:
                values[index] = copy.copy(values[index])
        yield values


def _unsaved(model: type[models.Model], rows: list[dict[str, Any]]) -> list:
    """Unsaved instances for bulk_create (the non-COPY backends), JSON values made JSON-safe."""
    json_names = _copy_plan(model).json_names
    objs = []
    for row in rows:
        for name in json_names:
            if name in row:
                value = row[name]
                row = {**row, name: jsonable(value.value if isinstance(value, EncodedJSON) else value)}
        objs.append(model(**row))
    return objs


@dataclass(frozen=True)
class _CopyPlan:
    sql: str
    sql_without_pk: str
    fields: list
    names: list[str]
    json: list[int]
    json_names: list[str]
    stamped: list[str]


@cache
def _copy_plan(model: type[models.Model]) -> _CopyPlan:
    """The COPY statement and column layout of `model` (every concrete column, primary key first)."""
    fields = list(model._meta.concrete_fields)
    assert fields[0].primary_key, f"{model.__name__}: the primary key must be the first column"
    quote = connection.ops.quote_name
    columns = [quote(f.column) for f in fields]
    table = quote(model._meta.db_table)
    return _CopyPlan(
        sql=f"COPY {table} ({', '.join(columns)}) FROM STDIN",
        sql_without_pk=f"COPY {table} ({', '.join(columns[1:])}) FROM STDIN",
        fields=fields,
        names=[f.attname for f in fields],
        json=[i for i, f in enumerate(fields) if isinstance(f, models.JSONField)],
        json_names=[f.attname for f in fields if isinstance(f, models.JSONField)],
        stamped=[
            f.attname
            for f in fields
            if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add)
        ],
    )


def _copy(
    model: type[models.Model], plan: _CopyPlan, rows: Iterable[list], count: int, *, returning: bool = True
) -> list[int]:
    """COPY `count` value lists (primary key slot first, filled here from the sequence); returns the pks.

    Without `returning`, the primary key slot is left out and the column's default numbers the rows."""
    meta = model._meta
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if returning:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, count],
            )
            pks = [pk for (pk,) in cursor.fetchall()]
        json_at = plan.json
        number = -1
        with cursor.cursor.copy(plan.sql if returning else plan.sql_without_pk) as writer:
            for number, values in enumerate(rows):
                if returning:
                    values[0] = pks[number]
                if json_at:  # the text goes to the database, the values list keeps the objects
                    values = values.copy()
                    for index in json_at:
                        values[index] = _json_text(values[index])
                writer.write_row(values if returning else values[1:])
    if returning and number + 1 != count:
        raise ValueError(f"{model.__name__}: {number + 1} rows for {count} ids")
    return pks if returning else []


class EncodedJSON:
    """A JSON value with its text already made (e.g. a raw payload encoded once for its hash): `_copy` writes
    the text as it is; other writers store `value`."""

    __slots__ = ("text", "value")

    def __init__(self, value: Any, text: str) -> None:
        self.value = value
        self.text = text


def _json_text(value: Any) -> str:
    """The JSON text COPY writes for a JSON column (compact; jsonb keeps no layout anyway)."""
    if isinstance(value, EncodedJSON):
        return value.text
    try:
        return orjson.dumps(value, default=json_default).decode()
    except TypeError:  # what orjson refuses (an integer beyond 64 bits)
        return json.dumps(value, ensure_ascii=False, default=json_default)


def insert_rows_on_conflict(
    model: type[models.Model], rows: list[dict[str, Any]], *, key: str | None = None
) -> dict[Any, int]:
    """Insert rows ({attname: value}, defaults for the rest) that may exist already, race-safe.

    With `key` (a unique field): {key value: pk} for every row, also for keys inserted meanwhile by others
    (`ON CONFLICT (key) DO UPDATE SET key = key ... RETURNING`, the no-op update makes PostgreSQL return the
    existing row). Without: rows a unique constraint refuses are skipped (`ON CONFLICT DO NOTHING`), {}.
    PostgreSQL: one `INSERT ... SELECT FROM unnest(arrays)`; elsewhere bulk_create. Callers pass rows in a
    fixed order (by key) so concurrent writers lock alike.
    """
    if not rows:
        return {}
    if connection.vendor != "postgresql":
        objs = [model(**row) for row in rows]
        if key is None:
            model.objects.bulk_create(objs, ignore_conflicts=True)
            return {}
        return {getattr(obj, key): obj.pk for obj in _insert_returning(model, objs, key)}
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    stamped = {
        f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    }
    arrays = []
    for f in fields:
        default = now if f.attname in stamped else f.get_default()
        arrays.append([row.get(f.attname, default) for row in rows])
    columns = ", ".join(quote(f.column) for f in fields)
    casts = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT * FROM unnest({casts})"
    with connection.cursor() as cursor:
        if key is None:
            cursor.execute(sql + " ON CONFLICT DO NOTHING", arrays)
            return {}
        column = quote(model._meta.get_field(key).column)
        cursor.execute(
            f"{sql} ON CONFLICT ({column}) DO UPDATE SET {column} = EXCLUDED.{column} RETURNING {column}, "
            f"{quote(model._meta.pk.column)}",
            arrays,
        )
        return dict(cursor.fetchall())


class _AnyOf(models.Lookup):
    """``column = ANY(%s)`` with the values as one array parameter (PostgreSQL). An ``IN`` list with hundreds of
    placeholders costs the driver a parse of the statement and Django a lookup per value."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*params, list(self.rhs)]


def among(field: str, values: Iterable[Any]) -> models.Q | models.Lookup:
    """The filter ``field IN values``: one array parameter on PostgreSQL, an IN list elsewhere."""
    if connection.vendor == "postgresql":
        return _AnyOf(models.F(field), list(values))
    return models.Q(**{f"{field}__in": list(values)})


def ensure_products(specs: dict[str, tuple[str, Decimal]]) -> dict[str, Product]:
    """Return the products for `specs` (sku → (name, price)), creating the unknown ones (race-safe)."""
    if not specs:
        return {}
    known = {p.sku: p for p in Product.objects.filter(among("sku", specs))}
    missing = [
        Product(sku=sku, name=(name or sku)[:200], price=max(to_money(price or ZERO), ZERO))
        for sku, (name, price) in sorted(specs.items())
        if sku not in known
    ]
    known.update({p.sku: p for p in _insert_returning(Product, missing, "sku")})
    return known


def _insert_returning(model, rows: list, key: str) -> list:
    """Insert `rows` by their unique `key`, returning them with pks, also for keys inserted meanwhile by others.

    One INSERT ... ON CONFLICT (key) DO UPDATE SET key = key RETURNING: the no-op update makes PostgreSQL return
    the existing row's pk, so nothing has to be read back. Callers pass rows sorted by `key` (a fixed lock order).
    """
    if not rows:
        return []
    model.objects.bulk_create(rows, update_conflicts=True, unique_fields=[key], update_fields=[key])
    unsaved = [row for row in rows if row.pk is None]  # a backend that cannot return rows: read them back
    if unsaved:
        saved = model.objects.in_bulk([getattr(row, key) for row in unsaved], field_name=key)
        for row in unsaved:
            row.pk = saved[getattr(row, key)].pk
    return rows


def _customer_ids_for(keyed: Iterable[tuple[str, OrderInput]]) -> dict[str, int]:
    """Customer ids by dedupe key for (key, input) pairs; the new customers are created in one bulk insert."""
    wanted: dict[str, dict[str, Any]] = {}
    for key, data in keyed:
        if key and key not in wanted:
            wanted[key] = {
                "dedupe_key": key,
                "name": data.buyer_name[:200],
                "phone": normalize_phone(data.buyer_phone or data.receiver_phone),
                "email": normalize_email(data.buyer_email),
                "channel_id": getattr(data.channel, "pk", None),
                "channel_buyer_id": data.buyer_id or "",
            }
    if not wanted:
        return {}
    found = dict(Customer.objects.filter(among("dedupe_key", wanted)).values_list("dedupe_key", "pk"))
    missing = [row for key, row in sorted(wanted.items()) if key not in found]
    found.update(insert_rows_on_conflict(Customer, missing, key="dedupe_key"))
    return found


def _customer_key(data: OrderInput) -> str:
    return customer_dedupe_key(
        phone=data.buyer_phone or data.receiver_phone,
        email=data.buyer_email,
        channel_code=getattr(data.channel, "code", ""),
        buyer_id=data.buyer_id or "",
    )


def create_orders_bulk(
    inputs: list[OrderInput],
    *,
    actor: Actor,
    event_type: str = EventType.CREATED,
    payment_method: str = PaymentMethod.PLATFORM,
    payment_reference: str = "{external_id}",
    products: dict[str, Product] | None = None,
) -> BulkOutcome:
    """Create many orders at once with the checks of `create_order`; invalid inputs are reported, not raised.

    Paid inputs get a succeeded Payment (method `payment_method`, transaction id from `payment_reference`) so
    later refunds add up. Duplicate external ids raise IntegrityError from the database: callers that may race
    (two syncs, a webhook) run this in a savepoint and fall back to `create_order` one by one. `products` (by SKU,
    e.g. from `ensure_products`) saves reading them again; SKUs missing from it are read.
    """
    outcome = BulkOutcome()
    if not inputs:
        return outcome
    products = dict(products or {})
    unknown = {line.sku for data in inputs for line in data.lines} - products.keys()
    if unknown:
        products.update({p.sku: p for p in Product.objects.filter(among("sku", unknown))})
    valid: list[tuple[int, OrderInput, list[ValidatedLine], dict]] = []
    for index, data in enumerate(inputs):
        try:
            checked = validate_order_input(data, products)
            lines, amounts = checked.lines, {**checked.amounts, "currency": checked.currency}
        except OMSError as exc:
            outcome.errors[index] = exc
            continue
        valid.append((index, data, lines, amounts))
    if not valid:
        return outcome
    now = timezone.now()
    # No savepoint of its own: a caller that recovers from an IntegrityError holds one (channels' upsert does).
    with transaction.atomic(savepoint=False):
        keys = {index: _customer_key(data) for index, data, _l, _a in valid}
        customers = _customer_ids_for((keys[index], data) for index, data, _l, _a in valid)
        by_day: dict = defaultdict(list)
        for item in valid:
            placed_at = item[1].placed_at or now
            by_day[timezone.localdate(placed_at)].append(item)
        numbers: dict[int, str] = {}
        for day, items in by_day.items():
            for item, number in zip(items, reserve_order_numbers(day, len(items)), strict=True):
                numbers[item[0]] = number
        order_rows = []
        for index, data, _lines, amounts in valid:
            order_rows.append(
                {
                    "number": numbers[index],
                    "channel_id": getattr(data.channel, "pk", None),
                    "external_id": data.external_id or "",
                    "order_type": data.order_type,
                    "status": data.status,
                    "payment_status": data.payment_status,
                    "customer_id": customers.get(keys[index]),
                    "warehouse_id": getattr(data.warehouse, "pk", None),
                    "currency": amounts["currency"],
                    "subtotal": amounts["subtotal"],
                    "discount": amounts["discount"],
                    "shipping_fee": amounts["shipping_fee"],
                    "tax": amounts["tax"],
                    "total": amounts["total"],
                    "paid_amount": amounts["paid_amount"],
                    "buyer_name": data.buyer_name[:100],
                    "buyer_phone": normalize_phone(data.buyer_phone),
                    "buyer_email": data.buyer_email,
                    "receiver_name": data.receiver_name[:100],
                    "receiver_phone": normalize_phone(data.receiver_phone),
                    "province": data.province,
                    "city": data.city,
                    "district": data.district,
                    "street": data.street[:300],
                    "postcode": data.postcode,
                    "buyer_note": data.buyer_note,
                    "seller_note": data.seller_note,
                    "placed_at": data.placed_at or now,
                    "paid_at": data.paid_at,
                }
            )
        orders = insert_instances(Order, order_rows)
        line_rows, payments, events, addresses = [], [], [], []
        created_message = _("Order created with %(n)s lines, total %(total)s %(cur)s")
        for order, (index, data, lines, amounts) in zip(orders, valid, strict=True):
            outcome.orders[index] = order
            order_id = order.pk
            cache = (
                order._state.fields_cache
            )  # the related objects the caller gave, as Order(channel=...) keeps
            if data.channel is not None:
                cache["channel"] = data.channel
            if data.warehouse is not None:
                cache["warehouse"] = data.warehouse
            for line in lines:
                line_rows.append(
                    {
                        "order_id": order_id,
                        "product_id": line.product.pk,
                        "sku": line.sku,
                        "name": line.name,
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                        "discount": line.discount,
                        "total": line.total,
                        "external_line_id": line.external_line_id,
                    }
                )
            if amounts["paid_amount"] > 0:
                payments.append(
                    {
                        "order_id": order_id,
                        "method": payment_method,
                        "amount": amounts["paid_amount"],
                        "currency": order.currency,
                        "transaction_id": payment_reference.format(
                            external_id=order.external_id, number=order.number
                        )[:128],
                        "paid_at": data.paid_at or order.placed_at,
                    }
                )
            events.append(
                event_values(
                    order_id,
                    type=event_type,
                    actor=actor,
                    message=created_message % {"n": len(lines), "total": order.total, "cur": order.currency},
                    status=order.status,
                    total=order.total,
                    **data.extra,
                )
            )
            if order.customer_id and order.receiver_name and order.street:
                addresses.append(
                    {
                        "customer_id": order.customer_id,
                        "receiver_name": order.receiver_name,
                        "receiver_phone": order.receiver_phone,
                        "province": order.province,
                        "city": order.city,
                        "district": order.district,
                        "street": order.street,
                        "postcode": order.postcode,
                        "use_count": 1,
                        "last_used_at": now,
                    }
                )
        insert_rows(OrderLine, line_rows, returning=False)
        insert_rows(Payment, payments, returning=False)
        insert_rows(OrderEvent, events, returning=False)
        # A known address keeps its use count here (a bulk path does not bump counters).
        insert_rows_on_conflict(CustomerAddress, addresses)
        # The batch twin of create_order's 'order_created': guards now, the rest after commit, once per call.
        hooks.dispatch(
            "orders_created", order_ids=[order.pk for order in orders], actor=actor, event_type=event_type
        )
    return outcome
