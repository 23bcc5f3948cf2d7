"""Creating orders: manual entry, API, imports and channel syncs all come through `create_order`."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import NotFound, ValidationFailed
from oms.money import ZERO, to_money
from orders import hooks
from orders.choices import EventType, OrderStatus, OrderType, PaymentStatus
from orders.models import Order, OrderLine, OrderNumberSequence, Product
from orders.services.customers import find_or_create_customer, normalize_phone, remember_address
from orders.services.events import record_event


@dataclass(slots=True)
class LineInput:
    """One requested order line. `unit_price` defaults to the product's list price."""

    sku: str
    quantity: int
    unit_price: Decimal | str | None = None
    discount: Decimal | str = ZERO
    name: str = ""
    external_line_id: str = ""


@dataclass(slots=True)
class OrderInput:
    """Everything needed to create an order; amounts are checked to add up."""

    lines: list[LineInput]
    channel: object | None = None
    external_id: str = ""
    order_type: str = OrderType.NORMAL
    status: str = OrderStatus.PENDING_PAYMENT
    payment_status: str = PaymentStatus.UNPAID
    currency: str = ""
    discount: Decimal | str = ZERO
    shipping_fee: Decimal | str = ZERO
    tax: Decimal | str = ZERO
    total: Decimal | str | None = None
    paid_amount: Decimal | str = ZERO
    buyer_name: str = ""
    buyer_phone: str = ""
    buyer_email: str = ""
    buyer_id: str = ""
    receiver_name: str = ""
    receiver_phone: str = ""
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    postcode: str = ""
    buyer_note: str = ""
    seller_note: str = ""
    placed_at: dt.datetime | None = None
    paid_at: dt.datetime | None = None
    warehouse: object | None = None
    extra: dict = field(default_factory=dict)


def format_order_number(day: dt.date, sequence: int) -> str:
    """The internal order number for the n-th order of a day: SO-YYMMDD-NNNNNN."""
    return f"SO{day:%y%m%d}{sequence:06d}"


def reserve_order_numbers(day: dt.date, count: int = 1) -> list[str]:
    """Allocate `count` unique order numbers for `day`, safe under concurrency.

    PostgreSQL: a sequence (no lock is held until the creating transaction ends, so concurrent creations
    don't queue behind each other). Elsewhere: a per-day counter row, updated in one short statement.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval('orders_order_number_seq') FROM generate_series(1, %s)", [count])
            return [format_order_number(day, n) for (n,) in cursor.fetchall()]
    with transaction.atomic():
        OrderNumberSequence.objects.get_or_create(day=day)
        OrderNumberSequence.objects.filter(day=day).update(last=F("last") + count)
        last = OrderNumberSequence.objects.get(day=day).last
    return [format_order_number(day, n) for n in range(last - count + 1, last + 1)]


def reserve_order_numbers_by_day(days: Sequence[dt.date]) -> list[str]:
    """One order number for each entry of ``days``, in order: a bulk import spanning a year of order dates
    allocates them in one statement on PostgreSQL, not one per day."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval('orders_order_number_seq') FROM generate_series(1, %s)", [len(days)]
            )
            return [format_order_number(day, n) for day, (n,) in zip(days, cursor.fetchall(), strict=True)]
    numbers = {day: iter(reserve_order_numbers(day, count)) for day, count in Counter(days).items()}
    return [next(numbers[day]) for day in days]


def restart_order_numbers() -> None:
    """Start numbering from 1 again when no order exists yet (fresh or emptied database: demo data, tests).

    Only the PostgreSQL sequence needs this: it is not rolled back with the transactions that used it.
    """
    if connection.vendor == "postgresql" and not Order.objects.exists():
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval('orders_order_number_seq', 1, false)")


@dataclass(slots=True)
class ValidatedLine:
    """One checked line: its product and cent amounts, ready to be written (plain data, not a model)."""

    product: Product
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    total: Decimal
    external_line_id: str

    def as_model(self) -> OrderLine:
        """An unsaved OrderLine with these values (create_order; the bulk path writes rows directly)."""
        return OrderLine(
            product=self.product,
            sku=self.sku,
            name=self.name,
            quantity=self.quantity,
            unit_price=self.unit_price,
            discount=self.discount,
            total=self.total,
            external_line_id=self.external_line_id,
        )


@dataclass(slots=True)
class ValidatedOrder:
    """An OrderInput that passed every check: its lines and amounts that add up."""

    currency: str
    lines: list[ValidatedLine]
    amounts: dict[str, Decimal]
    """subtotal, discount, shipping_fee, tax, paid_amount and total."""


_INITIAL_STATUSES = frozenset(OrderStatus.values) - {OrderStatus.ON_HOLD}
_ORDER_TYPES = frozenset(OrderType.values)
_ORDER_AMOUNTS = ("discount", "shipping_fee", "tax", "paid_amount")


def validate_order_input(data: OrderInput, products: dict[str, Product] | None = None) -> ValidatedOrder:
    """Check an order before it is written, naming the field at fault; `products` by SKU may be preloaded.

    The one set of rules for create_order and the bulk path of syncs.
    """
    currency = data.currency or getattr(data.channel, "currency", "") or settings.OMS_CURRENCY
    channel_currency = getattr(data.channel, "currency", "") or currency
    if currency != channel_currency:
        raise ValidationFailed(
            _("currency %(got)s does not match the channel's currency %(expected)s")
            % {"got": currency, "expected": channel_currency},
            code="currency_mismatch",
            field="currency",
        )
    if data.status not in _INITIAL_STATUSES:
        raise ValidationFailed(
            _("invalid initial status '%(s)s'") % {"s": data.status}, code="invalid_choice", field="status"
        )
    if data.order_type not in _ORDER_TYPES:
        raise ValidationFailed(
            _("unknown order type '%(t)s'") % {"t": data.order_type},
            code="invalid_choice",
            field="order_type",
        )
    if not data.lines:
        raise ValidationFailed(_("an order needs at least one line"), code="required", field="lines")
    if products is None:
        products = {p.sku: p for p in Product.objects.filter(sku__in={line.sku for line in data.lines})}
    lines: list[ValidatedLine] = []
    subtotal = ZERO
    for index, line in enumerate(data.lines, start=1):
        product = products.get(line.sku)
        if product is None:
            raise NotFound(
                _("line %(n)s: unknown SKU '%(sku)s'") % {"n": index, "sku": line.sku},
                code="unknown_sku",
                field=f"lines[{index}].sku",
            )
        quantity = line.quantity
        whole = type(quantity) is int or (isinstance(quantity, int) and not isinstance(quantity, bool))
        if not whole or quantity <= 0:
            raise ValidationFailed(
                _("line %(n)s: quantity must be a positive whole number, got %(q)s")
                % {"n": index, "q": line.quantity},
                code="invalid_quantity",
                field=f"lines[{index}].quantity",
            )
        unit_price = to_money(
            product.price if line.unit_price is None else line.unit_price, field=f"lines[{index}].unit_price"
        )
        discount = to_money(line.discount, field=f"lines[{index}].discount")
        if unit_price < 0 or discount < 0:
            raise ValidationFailed(
                _("line %(n)s: prices and discounts cannot be negative") % {"n": index},
                code="negative_amount",
                field=f"lines[{index}].unit_price" if unit_price < 0 else f"lines[{index}].discount",
            )
        total = unit_price * quantity - discount
        if total < 0:
            raise ValidationFailed(
                _("line %(n)s: discount %(d)s exceeds the line amount") % {"n": index, "d": discount},
                code="amounts_mismatch",
                field=f"lines[{index}].discount",
            )
        subtotal += total
        lines.append(
            ValidatedLine(
                product,
                product.sku,
                (line.name or product.name)[:200],
                quantity,
                unit_price,
                discount,
                total,
                line.external_line_id,
            )
        )
    amounts = {"subtotal": subtotal}
    for name in _ORDER_AMOUNTS:
        amounts[name] = to_money(getattr(data, name), field=name)
        if amounts[name] < 0:
            raise ValidationFailed(
                _("%(field)s cannot be negative") % {"field": name}, code="negative_amount", field=name
            )
    computed = amounts["subtotal"] - amounts["discount"] + amounts["shipping_fee"] + amounts["tax"]
    if computed < 0:
        raise ValidationFailed(
            _("the discount exceeds the order amount"), code="amounts_mismatch", field="discount"
        )
    if data.total is not None and to_money(data.total, field="total") != computed:
        raise ValidationFailed(
            _(
                "total %(given)s does not add up: subtotal %(sub)s − discount %(disc)s + shipping %(ship)s + tax %(tax)s = %(sum)s"
            )
            % {
                "given": to_money(data.total),
                "sub": amounts["subtotal"],
                "disc": amounts["discount"],
                "ship": amounts["shipping_fee"],
                "tax": amounts["tax"],
                "sum": computed,
            },
            code="amounts_mismatch",
            field="total",
        )
    amounts["total"] = computed
    return ValidatedOrder(currency=currency, lines=lines, amounts=amounts)


def create_order(data: OrderInput, *, actor: Actor, event_type: str = EventType.CREATED) -> Order:
    """Validate and create an order with its lines, customer and first timeline event, all or nothing.

    `data.status` lets syncs and imports create orders in the status they already reached elsewhere;
    no stock moves on creation (confirm_order reserves).
    """
    checked = validate_order_input(data)
    currency, amounts = checked.currency, checked.amounts
    computed = amounts["total"]
    placed_at = data.placed_at or timezone.now()
    status, payment_status = data.status, data.payment_status
    if computed == 0 and payment_status == PaymentStatus.UNPAID:
        # Nothing to pay (gift, fully discounted): paid by definition, on to review.
        payment_status = PaymentStatus.PAID
        if status == OrderStatus.PENDING_PAYMENT:
            status = OrderStatus.PENDING_REVIEW
    with transaction.atomic():
        customer = find_or_create_customer(
            name=data.buyer_name,
            phone=data.buyer_phone or data.receiver_phone,
            email=data.buyer_email,
            channel=data.channel,
            buyer_id=data.buyer_id,
        )
        number = reserve_order_numbers(timezone.localdate(placed_at))[0]
        order = Order(
            number=number,
            channel=data.channel,
            external_id=data.external_id or "",
            order_type=data.order_type,
            status=status,
            payment_status=payment_status,
            customer=customer,
            warehouse=data.warehouse,
            currency=currency,
            subtotal=amounts["subtotal"],
            discount=amounts["discount"],
            shipping_fee=amounts["shipping_fee"],
            tax=amounts["tax"],
            total=computed,
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
            placed_at=placed_at,
            paid_at=data.paid_at,
        )
        try:
            with transaction.atomic():
                order.save(force_insert=True)
        except IntegrityError:
            if (
                data.external_id
                and Order.objects.filter(channel=data.channel, external_id=data.external_id).exists()
            ):
                raise ValidationFailed(
                    _("order %(ext)s already exists in this channel") % {"ext": data.external_id},
                    code="duplicate_external_id",
                    field="external_id",
                )
            raise
        lines = [line.as_model() for line in checked.lines]
        for line in lines:
            line.order = order
        OrderLine.objects.bulk_create(lines)
        if customer and order.receiver_name and order.street:
            remember_address(
                customer,
                receiver_name=order.receiver_name,
                receiver_phone=order.receiver_phone,
                province=order.province,
                city=order.city,
                district=order.district,
                street=order.street,
                postcode=order.postcode,
            )
        record_event(
            order,
            type=event_type,
            actor=actor,
            message=_("Order created with %(n)s lines, total %(total)s %(cur)s")
            % {"n": len(checked.lines), "total": computed, "cur": currency},
            status=order.status,
            total=computed,
            **data.extra,
        )
        hooks.dispatch("order_created", order_id=order.pk, actor=actor, event_type=event_type)
    return order
