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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, cached_property
from types import NoneType
from typing import Any

import orjson
from django.db import IntegrityError, connection, models, transaction
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
    reserve_order_numbers_by_day,
    validate_order_input,
)
from orders.services.customers import customer_dedupe_key, normalize_email, normalize_phone
from orders.services.events import event_values, json_default, jsonable


@dataclass
class BulkOutcome:
    """Per input index: the created order's id, or the error that refused it."""

    order_ids: dict[int, int] = field(default_factory=dict)
    errors: dict[int, OMSError] = field(default_factory=dict)

    @cached_property
    def orders(self) -> dict[int, Order]:
        """The created orders by input index (read in one query when first asked for)."""
        found = Order.objects.in_bulk(list(self.order_ids.values()))
        return {index: found[order_id] for index, order_id in self.order_ids.items()}


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


class CopyRowSplitter:
    """Formats rows of one model ({attname: value}, defaults for the rest, no primary key) as lines of COPY
    text split around the value of the `hole` column: a writer that learns that value later (an order id) puts
    it between the two parts (`copy_text_lines`). Lets a thread without the database format rows ahead; the
    column layout and defaults are worked out once, for a page of rows."""

    def __init__(self, model: type[models.Model], hole: str) -> None:
        plan = _copy_plan(model)
        (self._defaults,) = _value_lists(plan, [{}])
        self._names = plan.names
        self._json = plan.json
        self._hole = plan.names.index(hole)

    def __call__(self, row: dict[str, Any]) -> tuple[str, str]:
        """The parts of `row`'s line before and after the hole (the head ending, the tail starting, with a tab)."""
        values = list(map(row.get, self._names, self._defaults))  # defaults are only read: shared safely
        for index in self._json:
            values[index] = _json_text(values[index])
        before, after = values[1 : self._hole], values[self._hole + 1 :]
        head = copy_text_row(before)[:-1] + "\t" if before else ""
        return head, "\t" + copy_text_row(after) if after else "\n"


def copy_text_lines(model: type[models.Model], lines: Iterable[str]) -> None:
    """COPY lines of text (from `copy_text_row` / `CopyRowSplitter`, primary key left to its default) into
    `model`'s table (PostgreSQL)."""
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(_copy_plan(model).sql_without_pk) as writer,
    ):
        writer.write("".join(lines))


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
            wanted[key] = _customer_values(key, data)
    if not wanted:
        return {}
    found = dict(Customer.objects.filter(among("dedupe_key", wanted)).values_list("dedupe_key", "pk"))
    missing = [row for key, row in sorted(wanted.items()) if key not in found]
    found.update(insert_rows_on_conflict(Customer, missing, key="dedupe_key"))
    return found


def _customer_values(key: str, data: OrderInput) -> dict[str, Any]:
    """The customer an order's buyer becomes (the first order of a page with a new dedupe key names it)."""
    return {
        "dedupe_key": key,
        "name": data.buyer_name[:200],
        "phone": normalize_phone(data.buyer_phone or data.receiver_phone),
        "email": normalize_email(data.buyer_email),
        "channel_id": getattr(data.channel, "pk", None),
        "channel_buyer_id": data.buyer_id or "",
    }


def _customer_key(data: OrderInput) -> str:
    return customer_dedupe_key(
        phone=data.buyer_phone or data.receiver_phone,
        email=data.buyer_email,
        channel_code=getattr(data.channel, "code", ""),
        buyer_id=data.buyer_id or "",
    )


STAGED_ORDER_FIELDS = (
    "channel_id",
    "external_id",
    "order_type",
    "status",
    "payment_status",
    "warehouse_id",
    "currency",
    "subtotal",
    "discount",
    "shipping_fee",
    "tax",
    "total",
    "paid_amount",
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
    "placed_at",
    "paid_at",
)
"""The order fields an input sets (`_order_values`); the number, customer and the rest are filled in on writing."""
_ADDRESS_FIELDS = ("receiver_name", "receiver_phone", "province", "city", "district", "street", "postcode")
"""The order fields a customer's address book entry copies."""


@dataclass(slots=True)
class _NewOrder:
    """One validated input on its way to the database (the portable writer)."""

    index: int
    data: OrderInput
    lines: list[ValidatedLine]
    values: dict[str, Any]
    customer_key: str


@dataclass(slots=True)
class StagedOrder:
    """One checked input formatted for the set-based writer: COPY text of its staging row and of its lines."""

    index: int
    order_row: str
    line_rows: str
    line_count: int


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

    Paid inputs get a succeeded Payment (method `payment_method`, transaction id from `payment_reference`, which
    may name the `{external_id}`) so later refunds add up. Duplicate external ids raise IntegrityError from the
    database: callers that may race (two syncs, a webhook) run this in a savepoint and fall back to
    `create_order` one by one. `products` (by SKU, e.g. from `ensure_products`) saves reading them again; SKUs
    missing from it are read.

    PostgreSQL: `stage_order` + `write_staged` (set-based); elsewhere row by row in bulk. Both write the same
    rows (tested).
    """
    outcome = BulkOutcome()
    if not inputs:
        return outcome
    products = dict(products or {})
    unknown = {line.sku for data in inputs for line in data.lines} - products.keys()
    if unknown:
        products.update({p.sku: p for p in Product.objects.filter(among("sku", unknown))})
    now = timezone.now()
    if writes_set_based():
        staged, tz = [], timezone.get_current_timezone()
        for index, data in enumerate(inputs):
            try:
                staged.append(
                    stage_order(index, data, products, payment_reference=payment_reference, now=now, tz=tz)
                )
            except OMSError as exc:
                outcome.errors[index] = exc
        if staged:
            outcome.order_ids = write_staged(
                staged, actor=actor, event_type=event_type, payment_method=payment_method
            )
        return outcome
    valid: list[_NewOrder] = []
    for index, data in enumerate(inputs):
        try:
            checked = validate_order_input(data, products)
        except OMSError as exc:
            outcome.errors[index] = exc
            continue
        valid.append(
            _NewOrder(index, data, checked.lines, _order_values(data, checked, now), _customer_key(data))
        )
    if valid:
        # No savepoint of its own: a caller that recovers from an IntegrityError holds one (channels' upsert does).
        with transaction.atomic(savepoint=False):
            order_ids = _write_rows(
                valid,
                actor=actor,
                event_type=event_type,
                payment_method=payment_method,
                payment_reference=payment_reference,
                now=now,
            )
            outcome.order_ids = {new.index: order_id for new, order_id in zip(valid, order_ids, strict=True)}
            hooks.dispatch("orders_created", order_ids=order_ids, actor=actor, event_type=event_type)
    return outcome


def writes_set_based() -> bool:
    """Whether this database takes the set-based writer (`stage_order` + `write_staged`): PostgreSQL."""
    return connection.vendor == "postgresql"


def _order_values(data: OrderInput, checked: Any, now) -> dict[str, Any]:
    """An order's fields ({attname: value}, `STAGED_ORDER_FIELDS`) from a validated input."""
    amounts = checked.amounts
    return {
        "channel_id": getattr(data.channel, "pk", None),
        "external_id": data.external_id or "",
        "order_type": data.order_type,
        "status": data.status,
        "payment_status": data.payment_status,
        "warehouse_id": getattr(data.warehouse, "pk", None),
        "currency": checked.currency,
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


def _creation_event(data: OrderInput, values: dict[str, Any], line_count: int) -> tuple[str, dict[str, Any]]:
    """The message and details of an order's first timeline event."""
    message = _("Order created with %(n)s lines, total %(total)s %(cur)s") % {
        "n": line_count,
        "total": values["total"],
        "cur": values["currency"],
    }
    return message, {**data.extra, "status": values["status"], "total": values["total"]}


def _write_rows(
    valid: list[_NewOrder], *, actor: Actor, event_type: str, payment_method: str, payment_reference: str, now
) -> list[int]:
    """The portable writer: customers, then orders, lines, payments, events and addresses as bulk inserts."""
    customers = _customer_ids_for((new.customer_key, new.data) for new in valid)
    numbers = reserve_order_numbers_by_day([timezone.localdate(new.values["placed_at"]) for new in valid])
    order_rows = [
        {**new.values, "number": number, "customer_id": customers.get(new.customer_key)}
        for new, number in zip(valid, numbers, strict=True)
    ]
    order_ids = insert_rows(Order, order_rows)
    line_rows, payments, events, addresses = [], [], [], []
    for order_id, order, new in zip(order_ids, order_rows, valid, strict=True):
        for line in new.lines:
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
        if order["paid_amount"] > 0:
            payments.append(
                {
                    "order_id": order_id,
                    "method": payment_method,
                    "amount": order["paid_amount"],
                    "currency": order["currency"],
                    "transaction_id": payment_reference.format(external_id=order["external_id"])[:128],
                    "paid_at": new.data.paid_at or order["placed_at"],
                }
            )
        message, details = _creation_event(new.data, order, len(new.lines))
        events.append(event_values(order_id, type=event_type, actor=actor, message=message, **details))
        if order["customer_id"] and order["receiver_name"] and order["street"]:
            addresses.append(
                {
                    "customer_id": order["customer_id"],
                    **{name: order[name] for name in _ADDRESS_FIELDS},
                    "use_count": 1,
                    "last_used_at": now,
                }
            )
    insert_rows(OrderLine, line_rows, returning=False)
    insert_rows(Payment, payments, returning=False)
    insert_rows(OrderEvent, events, returning=False)
    # A known address keeps its use count here (a bulk path does not bump counters).
    insert_rows_on_conflict(CustomerAddress, addresses)
    return order_ids


class ProductStandIns(dict):
    """Products by SKU for `stage_order` when the writer creates the missing ones (`write_staged(...,
    create_products=True)`): every SKU is known, as an unsaved product without name or price, so a line keeps
    its own name and price and the writer resolves the product by SKU. Touches no database."""

    def get(self, sku: str, default: Any = None) -> Product:  # noqa: ARG002  (always found)
        product = super().get(sku)
        if product is None:
            product = self[sku] = Product(sku=sku, name="", price=ZERO)
        return product


def stage_order(
    index: int,
    data: OrderInput,
    products: dict[str, Product],
    *,
    payment_reference: str = "{external_id}",
    now=None,
    tz=None,
) -> StagedOrder:
    """Check one input (`validate_order_input`, raising its OMSError) and format it for `write_staged`: its
    order, customer, payment and first event as one staging row, its lines as rows of their own.

    Touches no database when `products` has every SKU (or is `ProductStandIns`), so a sync stages the next page
    in its fetching thread while the current one is written. `tz`, the zone of the order's date (numbering), is
    the current one unless a caller staging many orders looked it up once.
    """
    checked = validate_order_input(data, products)
    values = _order_values(data, checked, now or timezone.now())
    key = _customer_key(data)
    customer = _customer_values(key, data) if key else _NO_CUSTOMER
    message, details = _creation_event(data, values, len(checked.lines))
    order_row = copy_text_row(
        [
            index,
            timezone.localdate(values["placed_at"], tz),
            *map(values.__getitem__, STAGED_ORDER_FIELDS),
            key or None,
            customer["name"],
            customer["phone"],
            customer["email"],
            customer["channel_buyer_id"],
            payment_reference.format(external_id=values["external_id"])[:128],
            data.paid_at or values["placed_at"],
            message,
            _json_text(details),  # Decimals and times as jsonable writes them (json_default)
        ]
    )
    line_rows = "".join(
        copy_text_row(
            [
                index,
                position,
                line.sku,
                line.name,
                line.quantity,
                line.unit_price,
                line.discount,
                line.total,
                line.external_line_id,
            ]
        )
        for position, line in enumerate(checked.lines)
    )
    return StagedOrder(index, order_row, line_rows, len(checked.lines))


_NO_CUSTOMER = {"name": "", "phone": "", "email": "", "channel_buyer_id": ""}
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text_row(values: list[Any]) -> str:
    """One line of PostgreSQL's COPY text format: None as \\N, text escaped, other values as `str` writes them
    (ISO dates and times with their offset, plain decimals), which is what their columns read.

    Text rarely holds a tab, line break or backslash, so the line is joined first and escaped field by field
    only when the counts show one: a check of the whole line instead of four per field.
    """
    line = "\t".join(
        [_NULL if value is None else value if type(value) is str else str(value) for value in values]
    )
    nulls_only = "\\" not in line or line.count("\\") == list(map(type, values)).count(NoneType)
    if nulls_only and line.count("\t") == len(values) - 1 and "\n" not in line and "\r" not in line:
        return line + "\n"
    return (
        "\t".join([_NULL if value is None else str(value).translate(_COPY_ESCAPES) for value in values])
        + "\n"
    )


_NULL = "\\N"


def write_staged(
    staged: list[StagedOrder],
    *,
    actor: Actor,
    event_type: str = EventType.CREATED,
    payment_method: str = PaymentMethod.PLATFORM,
    create_products: bool = False,
) -> dict[int, int]:
    """Write staged orders (PostgreSQL) and run the creation hooks once; returns {input index: order id}.

    One COPY of the staging rows and one of their lines into session tables, then one INSERT … SELECT per real
    table: Python's part is sending text, the joins and row building happen in the server in a few long
    statements. Order ids come from the order table's sequence as the staging rows arrive, numbers from the
    number sequence (`format_order_number`'s form). With `create_products`, SKUs not in the catalogue become
    products first, named and priced after their first line (as `ensure_products`).

    Customers are inserted first (`ON CONFLICT DO NOTHING` waits for a concurrent writer of the same buyer and
    skips it) and looked up by dedupe key in the next statement, which sees what was committed meanwhile.
    Runs in the caller's transaction (no savepoint of its own: a caller that recovers from an IntegrityError
    holds one); the staging tables are emptied before returning.
    """
    if not staged:
        return {}
    plan = _stage_plan()
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        with connection.wrap_database_errors:
            cursor.execute(plan.create)
            with cursor.cursor.copy(plan.copy_orders) as writer:
                writer.write("".join([item.order_row for item in staged]))
            with cursor.cursor.copy(plan.copy_lines) as writer:
                writer.write("".join([item.line_rows for item in staged]))
        now = timezone.now()
        statements = plan.statements(
            actor=actor, event_type=event_type, payment_method=payment_method, now=now
        )
        if not create_products:
            statements = statements[1:]
        statements += [
            ("DELETE FROM oms_new_order_lines", []),
            ("DELETE FROM oms_new_orders RETURNING idx, id", []),
        ]
        # One round trip: the server runs the statements back to back (client-side binding allows several).
        cursor.execute(
            "; ".join(sql for sql, _ in statements), [value for _, params in statements for value in params]
        )
        for sql, _params in statements[:-1]:  # one result each, in order; the last one holds the ids
            if sql.startswith(_LINE_INSERT) and cursor.rowcount != sum(item.line_count for item in staged):
                # A line's product vanished since it was checked (deleted meanwhile): never drop a line.
                raise IntegrityError("order lines: a product was deleted while the orders were written")
            cursor.nextset()
        order_ids = dict(cursor.fetchall())
        # The batch twin of create_order's 'order_created': guards now, the rest after commit, once per call.
        hooks.dispatch(
            "orders_created",
            order_ids=[order_ids[item.index] for item in staged],
            actor=actor,
            event_type=event_type,
        )
    return order_ids


_LINE_INSERT = f'INSERT INTO "{OrderLine._meta.db_table}" '


@dataclass(frozen=True)
class _StagePlan:
    """The session tables of `write_staged` and the statements that write the real tables from them."""

    create: str
    copy_orders: str
    copy_lines: str

    def statements(
        self, *, actor: Actor, event_type: str, payment_method: str, now
    ) -> list[tuple[str, list[Any]]]:
        """(sql, params) in the order they run: products and customers first, as the orders look them up."""
        quote = connection.ops.quote_name
        staged = {name: f"s.{quote(name)}" for name in STAGED_ORDER_FIELDS}
        sequence = "lpad(s.seq::text, greatest(6, length(s.seq::text)), '0')"  # format_order_number's form
        return [
            _insert_select(
                Product,
                {
                    "sku": "l.sku",
                    "name": "left(coalesce(nullif(l.name, ''), l.sku), 200)",
                    "price": "greatest(l.unit_price, 0)",
                },
                {},
                "FROM oms_new_order_lines l "
                "WHERE NOT EXISTS (SELECT FROM orders_product p WHERE p.sku = l.sku) "  # most are known: no sort
                "ORDER BY l.sku, l.idx, l.position ON CONFLICT (sku) DO NOTHING",
                distinct_on="l.sku",
                now=now,
            ),
            _insert_select(
                Customer,
                {
                    "name": "s.customer_name",
                    "phone": "s.customer_phone",
                    "email": "s.customer_email",
                    "channel_id": "s.channel_id",
                    "channel_buyer_id": "s.customer_buyer_id",
                    "dedupe_key": "s.customer_key",
                },
                {},
                "FROM oms_new_orders s WHERE s.customer_key IS NOT NULL ORDER BY s.customer_key, s.idx "
                "ON CONFLICT (dedupe_key) DO NOTHING",
                distinct_on="s.customer_key",
                now=now,
            ),
            _insert_select(
                Order,
                {
                    "id": "s.id",
                    "number": f"'SO' || to_char(s.order_day, 'YYMMDD') || {sequence}",
                    **staged,
                    "customer_id": "(SELECT c.id FROM orders_customer c WHERE c.dedupe_key = s.customer_key)",
                },
                {},
                "FROM (SELECT s.*, nextval('orders_order_number_seq') AS seq FROM "
                "(SELECT * FROM oms_new_orders ORDER BY idx) s) s",
                now=now,
            ),
            _insert_select(
                OrderLine,
                {
                    "order_id": "s.id",
                    "product_id": "p.id",
                    "sku": "l.sku",
                    "name": "coalesce(nullif(l.name, ''), p.name)",
                    "quantity": "l.quantity",
                    "unit_price": "l.unit_price",
                    "discount": "l.discount",
                    "total": "l.total",
                    "external_line_id": "l.external_line_id",
                },
                {},
                "FROM oms_new_order_lines l JOIN oms_new_orders s ON s.idx = l.idx "
                "JOIN orders_product p ON p.sku = l.sku ORDER BY l.idx, l.position",
                now=now,
            ),
            _insert_select(
                Payment,
                {
                    "order_id": "s.id",
                    "amount": "s.paid_amount",
                    "currency": "s.currency",
                    "transaction_id": "s.payment_reference",
                    "paid_at": "s.payment_paid_at",
                },
                {"method": payment_method},
                "FROM oms_new_orders s WHERE s.paid_amount > 0 ORDER BY s.idx",
                now=now,
            ),
            _insert_select(
                OrderEvent,
                {"order_id": "s.id", "message": "s.event_message", "data": "s.event_data"},
                {
                    "type": event_type,
                    "actor_kind": actor.kind,
                    "actor_user_id": actor.user_id,
                    "actor_label": actor.label[:150],
                },
                "FROM oms_new_orders s ORDER BY s.idx",
                now=now,
            ),
            # A known address keeps its use count here (a bulk path does not bump counters).
            _insert_select(
                CustomerAddress,
                {"customer_id": "o.customer_id", **{name: staged[name] for name in _ADDRESS_FIELDS}},
                {"use_count": 1, "last_used_at": now},
                "FROM oms_new_orders s JOIN orders_order o ON o.id = s.id "
                "WHERE o.customer_id IS NOT NULL AND s.receiver_name <> '' AND s.street <> '' "
                "ORDER BY o.customer_id, s.idx ON CONFLICT DO NOTHING",
                now=now,
            ),
        ]


@cache
def _stage_plan() -> _StagePlan:
    """The session tables `write_staged` copies into: created when a connection first needs them (and again
    after a rolled-back savepoint took them), emptied at every commit and by the writer itself."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('orders_order', 'id')")
        (order_sequence,) = cursor.fetchone()

    def column(name: str, model: type[models.Model], field: str) -> str:
        """A staging column typed as the model field it is written to (so it refuses what that one would)."""
        return f"{quote(name)} {model._meta.get_field(field).db_type(connection)}"

    order_columns = [
        "idx integer",
        "order_day date",
        *(column(name, Order, name) for name in STAGED_ORDER_FIELDS),
        column("customer_key", Customer, "dedupe_key"),
        column("customer_name", Customer, "name"),
        column("customer_phone", Customer, "phone"),
        column("customer_email", Customer, "email"),
        column("customer_buyer_id", Customer, "channel_buyer_id"),
        column("payment_reference", Payment, "transaction_id"),
        column("payment_paid_at", Payment, "paid_at"),
        column("event_message", OrderEvent, "message"),
        column("event_data", OrderEvent, "data"),
    ]
    line_columns = [
        "idx integer",
        "position integer",
        *(
            column(name, OrderLine, name)
            for name in ("sku", "name", "quantity", "unit_price", "discount", "total", "external_line_id")
        ),
    ]
    names = [definition.split()[0] for definition in order_columns]
    return _StagePlan(
        create=(  # a block, not CREATE … IF NOT EXISTS: that one sends a notice every time the table exists
            "DO $$ BEGIN IF to_regclass('pg_temp.oms_new_orders') IS NULL THEN "
            f"CREATE TEMP TABLE oms_new_orders (id bigint DEFAULT nextval('{order_sequence}'), "
            f"{', '.join(order_columns)}) ON COMMIT DELETE ROWS; "
            f"CREATE TEMP TABLE oms_new_order_lines ({', '.join(line_columns)}) ON COMMIT DELETE ROWS; "
            "END IF; END $$"
        ),
        copy_orders=f"COPY oms_new_orders ({', '.join(names)}) FROM STDIN",
        copy_lines=f"COPY oms_new_order_lines ({', '.join(d.split()[0] for d in line_columns)}) FROM STDIN",
    )


def _insert_select(
    model: type[models.Model],
    selected: dict[str, str],
    constants: dict[str, Any],
    tail: str,
    *,
    now,
    distinct_on: str = "",
) -> tuple[str, list[Any]]:
    """`INSERT INTO model's table … SELECT` with `selected` columns as SQL expressions, `constants` as
    parameters, automatic timestamps at `now`, and every other column (but an unselected primary key) at its
    field default."""
    quote = connection.ops.quote_name
    stamped = _copy_plan(model).stamped
    columns, expressions, params = [], [], []
    for f in model._meta.concrete_fields:
        name = f.attname
        if name in selected:
            expressions.append(selected[name])
        elif f.primary_key:
            continue
        else:
            if name in constants:
                params.append(constants[name])
            else:
                params.append(now if name in stamped else f.get_default())
            expressions.append(f"%s::{f.db_type(connection)}")
        columns.append(quote(f.column))
    distinct = f"DISTINCT ON ({distinct_on}) " if distinct_on else ""
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {distinct}{', '.join(expressions)} {tail}"
    )
    return sql, params
