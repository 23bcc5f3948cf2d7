"""Bulk creation for high-volume paths (channel syncs, large imports): a page of orders in a few queries.

`create_orders_bulk` applies the same checks as `create_order` to every input and writes orders, lines, platform
payments, customers, addresses and the first timeline event with bulk inserts. It runs inside the caller's
transaction; an input that fails validation is reported by index and the others are still created. The creation
hooks run once per call (`orders_created` with every new order id), not once per order.
`ensure_products` creates SKUs a platform sent that OMS does not know yet, so no order is lost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import OMSError
from oms.money import ZERO, to_money
from orders import hooks
from orders.choices import EventType, PaymentMethod
from orders.models import Customer, CustomerAddress, Order, OrderEvent, OrderLine, Payment, Product
from orders.services.creation import OrderInput, reserve_order_numbers, validate_order_input
from orders.services.customers import customer_dedupe_key, normalize_email, normalize_phone
from orders.services.events import event_row


@dataclass
class BulkOutcome:
    """Per input index: the created order, or the error that refused it."""

    orders: dict[int, Order] = field(default_factory=dict)
    errors: dict[int, OMSError] = field(default_factory=dict)


def ensure_products(specs: dict[str, tuple[str, Decimal]]) -> dict[str, Product]:
    """Return the products for `specs` (sku → (name, price)), creating the unknown ones (race-safe)."""
    if not specs:
        return {}
    known = {p.sku: p for p in Product.objects.filter(sku__in=specs)}
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


def _customers_for(inputs: Iterable[OrderInput]) -> dict[str, Customer]:
    """Customers by dedupe key for every input, created in one bulk insert when new."""
    wanted: dict[str, Customer] = {}
    for data in inputs:
        key = _customer_key(data)
        if key and key not in wanted:
            wanted[key] = Customer(
                dedupe_key=key,
                name=data.buyer_name[:200],
                phone=normalize_phone(data.buyer_phone or data.receiver_phone),
                email=normalize_email(data.buyer_email),
                channel=data.channel,
                channel_buyer_id=data.buyer_id or "",
            )
    if not wanted:
        return {}
    found = {c.dedupe_key: c for c in Customer.objects.filter(dedupe_key__in=wanted)}
    missing = [c for key, c in sorted(wanted.items()) if key not in found]
    found.update({c.dedupe_key: c for c in _insert_returning(Customer, missing, "dedupe_key")})
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
        products.update({p.sku: p for p in Product.objects.filter(sku__in=unknown)})
    valid: list[tuple[int, OrderInput, list[OrderLine], dict]] = []
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
        customers = _customers_for(data for _i, data, _l, _a in valid)
        by_day: dict = defaultdict(list)
        for item in valid:
            placed_at = item[1].placed_at or now
            by_day[timezone.localdate(placed_at)].append(item)
        numbers: dict[int, str] = {}
        for day, items in by_day.items():
            for item, number in zip(items, reserve_order_numbers(day, len(items)), strict=True):
                numbers[item[0]] = number
        orders = []
        for index, data, _lines, amounts in valid:
            orders.append(
                Order(
                    number=numbers[index],
                    channel=data.channel,
                    external_id=data.external_id or "",
                    order_type=data.order_type,
                    status=data.status,
                    payment_status=data.payment_status,
                    customer=customers.get(_customer_key(data)),
                    warehouse=data.warehouse,
                    currency=amounts["currency"],
                    subtotal=amounts["subtotal"],
                    discount=amounts["discount"],
                    shipping_fee=amounts["shipping_fee"],
                    tax=amounts["tax"],
                    total=amounts["total"],
                    paid_amount=amounts["paid_amount"],
                    buyer_name=data.buyer_name[:100],
                    buyer_phone=normalize_phone(data.buyer_phone),
                    buyer_email=data.buyer_email,
                    receiver_name=data.receiver_name[:100],
                    receiver_phone=normalize_phone(data.receiver_phone),
                    province=data.province,
                    city=data.city,
                    district=data.district,
                    street=data.street[:300],
                    postcode=data.postcode,
                    buyer_note=data.buyer_note,
                    seller_note=data.seller_note,
                    placed_at=data.placed_at or now,
                    paid_at=data.paid_at,
                )
            )
        Order.objects.bulk_create(orders)
        line_rows, payments, events, addresses = [], [], [], []
        for order, (index, data, lines, amounts) in zip(orders, valid, strict=True):
            outcome.orders[index] = order
            for line in lines:
                line.order = order
                line_rows.append(line)
            if amounts["paid_amount"] > 0:
                payments.append(
                    Payment(
                        order=order,
                        method=payment_method,
                        amount=amounts["paid_amount"],
                        currency=order.currency,
                        transaction_id=payment_reference.format(
                            external_id=order.external_id, number=order.number
                        )[:128],
                        paid_at=data.paid_at or order.placed_at,
                    )
                )
            events.append(
                event_row(
                    order.pk,
                    type=event_type,
                    actor=actor,
                    message=_("Order created with %(n)s lines, total %(total)s %(cur)s")
                    % {"n": len(lines), "total": order.total, "cur": order.currency},
                    status=order.status,
                    total=order.total,
                    **data.extra,
                )
            )
            if order.customer_id and order.receiver_name and order.street:
                addresses.append(
                    CustomerAddress(
                        customer_id=order.customer_id,
                        receiver_name=order.receiver_name,
                        receiver_phone=order.receiver_phone,
                        province=order.province,
                        city=order.city,
                        district=order.district,
                        street=order.street,
                        postcode=order.postcode,
                        use_count=1,
                        last_used_at=now,
                    )
                )
        OrderLine.objects.bulk_create(line_rows)
        if payments:
            Payment.objects.bulk_create(payments)
        OrderEvent.objects.bulk_create(events)
        if addresses:
            # A known address keeps its use count here (a bulk path does not bump counters).
            CustomerAddress.objects.bulk_create(addresses, ignore_conflicts=True)
        # The batch twin of create_order's 'order_created': guards now, the rest after commit, once per call.
        hooks.dispatch(
            "orders_created", order_ids=[order.pk for order in orders], actor=actor, event_type=event_type
        )
    return outcome
