"""Phase 2 of the demo: one plan becomes an order row, lines, payments, shipments, tags and events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext

from channels.choices import Platform
from oms.actors import Actor
from oms.money import CENT, ZERO
from orders.choices import (
    EventType,
    ExceptionReason,
    FulfillmentStatus,
    HoldKind,
    OrderType,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
    StockStatus,
)
from orders.demo.planning import CustomerSeed, Plan, chinese_name
from orders.demo.reference import (
    CANCEL_REASONS,
    CARRIERS,
    EXCEPTION_DETAILS,
    HOLD_REASONS,
    PAY_METHODS,
    REGIONS,
    S,
)
from orders.models import (
    Order,
    OrderLine,
    Payment,
    Shipment,
    Tag,
)

if TYPE_CHECKING:
    from orders.demo.generator import DemoGenerator


@dataclass
class Built:
    """An order with its unsaved child rows; shipments carry (line index, quantity) parts."""

    order: Order
    lines: list[OrderLine]
    payments: list[Payment]
    shipments: list[tuple[Shipment, list[tuple[int, int]]]]
    events: list[tuple]
    tags: list[Tag]


class OrderBuilder:
    """Turn one plan into an order row, its lines, payments, shipments, tags and timeline events."""

    def __init__(self, gen: DemoGenerator, plan: Plan, number: str, customer: CustomerSeed, customer_id: int):
        self.gen, self.plan, self.rng = gen, plan, gen.rng
        self.number, self.customer, self.customer_id = number, customer, customer_id
        self.channel = gen.channels[plan.channel]
        self.events: list[tuple] = []

    def event(self, at: dt.datetime, type_: str, actor: Actor, message: str, **data) -> None:
        """Queue a timeline event at `at`."""
        self.events.append((at, type_, actor, message, data))

    def status_event(
        self, at: dt.datetime, source: str, target: str, actor: Actor, message: str = "", **data
    ) -> None:
        """Queue a status_changed event like the lifecycle services write."""
        text = message or _("%(source)s → %(target)s") % {
            "source": _label(S, source),
            "target": _label(S, target),
        }
        self.event(at, EventType.STATUS_CHANGED, actor, text, source=source, target=target, **data)

    def build(self) -> Built:
        rng, plan, gen = self.rng, self.plan, self.gen
        province, city, district, street, postcode = self.customer.addresses[plan.address]
        warehouse = gen.warehouses[REGIONS[province][0]]
        receiver, receiver_phone = self.customer.name, self.customer.phone
        if rng.random() < 0.08:  # a gift sent to someone else
            receiver = chinese_name(rng)
            receiver_phone = "13" + str(rng.randrange(10**9)).zfill(9)
        if plan.exception == ExceptionReason.ADDRESS_INCOMPLETE:
            district, street = "", ""
        lines = self._lines()
        subtotal = sum((line.total for line in lines), ZERO)
        discount = ZERO
        if subtotal >= 200 and rng.random() < 0.35:
            discount = Decimal(int(subtotal // 200) * 20).quantize(CENT)
        shipping = (
            ZERO if subtotal >= 59 or rng.random() < 0.6 else Decimal(rng.choice([6, 8, 10])).quantize(CENT)
        )
        tax = ZERO
        if self.channel.platform == Platform.SHOPIFY:
            tax = ((subtotal - discount) * Decimal("0.091")).quantize(CENT)
        total = subtotal - discount + shipping + tax
        order = Order(
            number=self.number,
            channel_id=self.channel.pk,
            order_type=plan.order_type,
            status=plan.status,
            customer_id=self.customer_id,
            currency=self.channel.currency,
            subtotal=subtotal,
            discount=discount,
            shipping_fee=shipping,
            tax=tax,
            total=total,
            buyer_name=self.customer.name,
            buyer_phone=self.customer.phone,
            buyer_email=self.customer.email,
            receiver_name=receiver,
            receiver_phone=receiver_phone,
            province=province,
            city=city,
            district=district,
            street=street,
            postcode=postcode,
            placed_at=plan.placed_at,
            created_at=plan.placed_at,
            external_id=self._external_id(),
            warehouse=warehouse,
        )
        if rng.random() < 0.15:
            order.buyer_note = rng.choice(
                ["请尽快发货，谢谢", "送人的，不要放发票", "周末送货", "麻烦包装结实一点", "发顺丰"]
            )
        self.order, self.lines = order, lines
        self.payments: list[Payment] = []
        self.shipments: list[tuple[Shipment, list[tuple[int, int]]]] = []
        self._timeline()
        order.updated_at = max(e[0] for e in self.events)
        return Built(order, lines, self.payments, self.shipments, self.events, self._tags())

    def _lines(self) -> list[OrderLine]:
        rng, gen = self.rng, self.gen
        count = rng.choices([1, 2, 3, 4], [60, 25, 10, 5])[0]
        if self.plan.status == S.PARTIALLY_SHIPPED:
            count = max(count, 2)
        products = {p.pk: p for p in rng.choices(gen.products, cum_weights=gen.product_cum, k=count)}
        if self.plan.status == S.PARTIALLY_SHIPPED and len(products) < 2:
            extra = next(p for p in gen.products if p.pk not in products)
            products[extra.pk] = extra
        lines = []
        for product in products.values():
            quantity = rng.choices([1, 2, 3, 5], [70, 20, 7, 3])[0]
            line_discount = ZERO
            if rng.random() < 0.1:
                line_discount = (product.price * quantity * Decimal("0.1")).quantize(CENT)
            lines.append(
                OrderLine(
                    product_id=product.pk,
                    sku=product.sku,
                    name=product.name,
                    quantity=quantity,
                    unit_price=product.price,
                    discount=line_discount,
                    total=product.price * quantity - line_discount,
                )
            )
        return lines

    def _external_id(self) -> str:
        digits = self.number[2:]
        platform = self.channel.platform
        if platform in (Platform.TAOBAO, Platform.TMALL):
            return f"{self.rng.randrange(10**6):06d}{digits}"
        if platform == Platform.PINDUODUO:
            return f"{digits[:6]}-{self.rng.randrange(10**6):06d}{digits[6:]}"
        if platform == Platform.SHOPIFY:
            return f"#{digits}"
        return f"{self.rng.randrange(10**4):04d}{digits}"

    def _tags(self) -> list[Tag]:
        tags, rng, order = [], self.rng, self.order
        if order.total >= 1000:
            tags.append(self.gen.tags["大额订单"])
        if order.order_type == OrderType.PRESALE:
            tags.append(self.gen.tags["预售"])
        if self.channel.platform == Platform.DOUYIN and rng.random() < 0.5:
            tags.append(self.gen.tags["直播间"])
        for name, chance in (("VIP", 0.04), ("老客户", 0.06), ("加急", 0.02), ("赠品", 0.05), ("易碎", 0.02)):
            if rng.random() < chance:
                tags.append(self.gen.tags[name])
        if tags:
            at = self.plan.placed_at + dt.timedelta(seconds=2)
            self.event(
                at,
                EventType.TAGS_CHANGED,
                Actor.rule("自动打标"),
                ", ".join(t.name for t in tags),
                added=[t.name for t in tags],
            )
        return tags

    # -- the timeline: order fields, payments, shipments and events, stage by stage ---------------------

    def _timeline(self) -> None:
        plan, order, rng = self.plan, self.order, self.rng
        stages, channel_actor = plan.stages, Actor.channel(self.channel.code)
        clerk = rng.choice(self.gen.clerks)
        order.payment_status, order.fulfillment_status = PaymentStatus.UNPAID, FulfillmentStatus.UNFULFILLED
        order.stock_status = StockStatus.NONE
        self.event(
            plan.placed_at,
            EventType.CREATED,
            channel_actor,
            _("Order created with %(n)s lines, total %(total)s %(cur)s")
            % {"n": len(self.lines), "total": order.total, "cur": order.currency},
            status=S.PENDING_PAYMENT,
            total=order.total,
        )
        status = S.PENDING_PAYMENT
        if "paid" in stages:
            deposit = plan.order_type == OrderType.PRESALE and plan.status in (
                S.PENDING_REVIEW,
                S.AWAITING_SHIPMENT,
                S.ON_HOLD,
            )
            amount = (
                (order.total * Decimal("0.2")).quantize(CENT) if deposit and order.total > 1 else order.total
            )
            self._pay(stages["paid"], amount, channel_actor)
            if deposit and order.total > 1:
                order.payment_status = PaymentStatus.PARTIALLY_PAID
            elif plan.order_type == OrderType.PRESALE:
                self._pay(stages["paid"] + dt.timedelta(seconds=1), order.total - amount, channel_actor)
            self.status_event(
                stages["paid"], status, S.PENDING_REVIEW, channel_actor, _("Paid; waiting for review")
            )
            status = S.PENDING_REVIEW
        if plan.exception:
            self._flag(status)
        if "confirmed" in stages:
            at = stages["confirmed"]
            actor = clerk if rng.random() < 0.3 else Actor.rule("自动审核")
            waiting = plan.order_type == OrderType.PRESALE and plan.status in (S.AWAITING_SHIPMENT, S.ON_HOLD)
            if waiting and rng.random() < 0.5:
                order.stock_status = StockStatus.WAITING
                self.event(at, EventType.STOCK_SHORT, actor, _("presale stock has not arrived yet"))
                self.status_event(
                    at, status, S.AWAITING_SHIPMENT, actor, _("Confirmed; presale waits for stock")
                )
            else:
                self._reserve(at, actor)
                self.status_event(at, status, S.AWAITING_SHIPMENT, actor, _("Confirmed"))
            status = S.AWAITING_SHIPMENT
        if "shipped" in stages:
            status = self._ship(status, clerk)
        if "delivered" in stages:
            order.delivered_at = stages["delivered"]
            order.fulfillment_status = FulfillmentStatus.DELIVERED
            for shipment, _parts in self.shipments:
                shipment.status, shipment.delivered_at = Shipment.Status.DELIVERED, order.delivered_at
            self.status_event(order.delivered_at, status, S.DELIVERED, channel_actor)
            status = S.DELIVERED
        if "completed" in stages:
            order.completed_at = stages["completed"]
            self.status_event(order.completed_at, status, S.COMPLETED, channel_actor)
            status = S.COMPLETED
            refund_at = order.completed_at + dt.timedelta(hours=30)
            if plan.status == S.COMPLETED and rng.random() < 0.03 and refund_at < self.gen.as_of:
                refund = (order.paid_amount * Decimal("0.2")).quantize(CENT)
                self._pay(refund_at, refund, clerk, kind=PaymentKind.REFUND)
        if "held" in stages:
            self._hold(stages["held"], status, clerk)
        elif "cancelled" in stages:
            self._cancel(stages["cancelled"], status, clerk, channel_actor)
        elif "timeout" in stages:
            self.status_event(
                stages["timeout"],
                status,
                S.CLOSED,
                Actor.system("timeout"),
                _("Payment timed out"),
                reason="payment_timeout",
            )
        elif "returned" in stages:
            at = stages["returned"]
            self._pay(at, order.paid_amount, clerk, kind=PaymentKind.REFUND)
            order.fulfillment_status = FulfillmentStatus.RETURNED
            for shipment, _parts in self.shipments:
                shipment.status = Shipment.Status.RETURNED
            self.status_event(
                at + dt.timedelta(seconds=1),
                status,
                S.CLOSED,
                clerk,
                _("Returned and refunded"),
                reason="returned",
            )

    def _pay(self, at: dt.datetime, amount: Decimal, actor: Actor, kind: str = PaymentKind.PAYMENT) -> None:
        order = self.order
        if amount <= 0:
            return
        method = self.rng.choice(PAY_METHODS[self.channel.platform])
        transaction_id = f"{at:%Y%m%d}{self.rng.randrange(10**16):016d}"
        self.payments.append(
            Payment(
                kind=kind,
                method=method,
                amount=amount,
                currency=order.currency,
                transaction_id=transaction_id,
                paid_at=at,
                created_at=at,
            )
        )
        if kind == PaymentKind.PAYMENT:
            order.paid_amount += amount
            order.paid_at = order.paid_at or at
        else:
            order.refunded_amount += amount
        order.payment_status = payment_status(order.total, order.paid_amount, order.refunded_amount)
        self.event(
            at,
            EventType.PAYMENT_RECORDED,
            actor,
            _("%(kind)s of %(amount)s %(cur)s via %(method)s")
            % {
                "kind": _label(PaymentKind, kind),
                "amount": amount,
                "cur": order.currency,
                "method": _label(PaymentMethod, method),
            },
            amount=amount,
            kind=kind,
            method=method,
            transaction_id=transaction_id,
        )

    def _flag(self, status: str) -> None:
        plan, order = self.plan, self.order
        at = plan.stages.get("paid", plan.placed_at) + dt.timedelta(seconds=30)
        if plan.exception == ExceptionReason.PAYMENT_OVERDUE:
            at = plan.placed_at + dt.timedelta(minutes=30)
        at = min(at, self.gen.as_of - dt.timedelta(seconds=1))
        order.exception_reason, order.exception_at = plan.exception, at
        order.exception_detail = EXCEPTION_DETAILS[plan.exception]
        actor = (
            Actor.rule("异常检测")
            if plan.exception != ExceptionReason.SYNC_CONFLICT
            else Actor.channel(self.channel.code)
        )
        self.event(at, EventType.EXCEPTION_FLAGGED, actor, order.exception_detail, reason=plan.exception)

    def _reserve(self, at: dt.datetime, actor: Actor) -> None:
        for line in self.lines:
            line.quantity_reserved = line.quantity
        self.order.stock_status = StockStatus.RESERVED
        warehouse = self.order.warehouse
        self.event(
            at,
            EventType.STOCK_RESERVED,
            actor,
            _("Reserved %(units)s units in %(warehouse)s")
            % {"units": sum(line.quantity for line in self.lines), "warehouse": warehouse},
            warehouse=warehouse.code,
            quantities={line.sku: line.quantity for line in self.lines},
        )

    def _ship(self, status: str, clerk: Actor) -> str:
        plan, order = self.plan, self.order
        if order.stock_status == StockStatus.WAITING:  # stock arrived: reserve before shipping
            self._reserve(plan.stages["shipped"] - dt.timedelta(minutes=5), Actor.system("stock_arrival"))
        partial = plan.status == S.PARTIALLY_SHIPPED or (plan.path == "split" and len(self.lines) > 1)
        first = (
            [(i, line.quantity) for i, line in enumerate(self.lines)][: len(self.lines) - 1]
            if partial
            else [(i, line.quantity) for i, line in enumerate(self.lines)]
        )
        self._shipment(plan.stages["shipped"], first, clerk)
        if partial:
            order.fulfillment_status = FulfillmentStatus.PARTIALLY_FULFILLED
            self.status_event(plan.stages["shipped"], status, S.PARTIALLY_SHIPPED, clerk)
            status = S.PARTIALLY_SHIPPED
            if plan.status == S.PARTIALLY_SHIPPED:
                return status
            self._shipment(plan.stages["shipped2"], [(len(self.lines) - 1, self.lines[-1].quantity)], clerk)
        order.fulfillment_status = FulfillmentStatus.FULFILLED
        order.stock_status = StockStatus.DEDUCTED
        order.shipped_at = self.shipments[-1][0].shipped_at
        self.status_event(order.shipped_at, status, S.SHIPPED, clerk)
        return S.SHIPPED

    def _shipment(self, at: dt.datetime, parts: list[tuple[int, int]], clerk: Actor) -> None:
        name, prefix, digits, _share = self.rng.choices(CARRIERS, [c[3] for c in CARRIERS])[0]
        if self.channel.platform == Platform.JD:
            name, prefix, digits = "京东物流", "JDVA", 11
        tracking = prefix + str(self.rng.randrange(10**digits)).zfill(digits)
        self.shipments.append(
            (
                Shipment(
                    warehouse_id=self.order.warehouse_id,
                    carrier=name,
                    tracking_number=tracking,
                    status=Shipment.Status.IN_TRANSIT,
                    shipped_at=at,
                ),
                parts,
            )
        )
        for index, qty in parts:
            line = self.lines[index]
            line.quantity_shipped += qty
            line.quantity_reserved -= qty
        self.event(
            at,
            EventType.STOCK_DEDUCTED,
            clerk,
            _("Deducted %(units)s shipped units") % {"units": sum(q for _i, q in parts)},
            quantities={self.lines[i].sku: q for i, q in parts},
        )
        self.event(
            at,
            EventType.SHIPMENT_CREATED,
            clerk,
            _("Shipped with %(carrier)s %(tracking)s") % {"carrier": name, "tracking": tracking},
            carrier=name,
            tracking_number=tracking,
        )

    def _hold(self, at: dt.datetime, status: str, clerk: Actor) -> None:
        plan, order = self.plan, self.order
        reason = self.rng.choice(HOLD_REASONS[plan.hold_kind])
        actor = Actor.rule("大额订单审核") if plan.hold_kind == HoldKind.FINANCE else clerk
        order.held_from_status, order.hold_kind, order.hold_reason, order.held_at = (
            status,
            plan.hold_kind,
            reason,
            at,
        )
        self.status_event(
            at,
            status,
            S.ON_HOLD,
            actor,
            _("On hold (%(kind)s): %(reason)s")
            % {"kind": _label(HoldKind, plan.hold_kind), "reason": reason},
            kind=plan.hold_kind,
            reason=reason,
        )
        self.event(at, EventType.HOLD_SET, actor, reason, kind=plan.hold_kind)

    def _cancel(self, at: dt.datetime, status: str, clerk: Actor, channel_actor: Actor) -> None:
        order = self.order
        reason = self.rng.choice(CANCEL_REASONS[status])
        actor = channel_actor if reason.startswith("买家") else clerk
        if order.paid_amount:
            self._pay(at - dt.timedelta(seconds=5), order.paid_amount, actor, kind=PaymentKind.REFUND)
        if order.stock_status == StockStatus.RESERVED:
            units = sum(line.quantity_reserved for line in self.lines)
            for line in self.lines:
                line.quantity_reserved = 0
            order.stock_status = StockStatus.RELEASED
            self.event(
                at,
                EventType.STOCK_RELEASED,
                actor,
                _("Released %(units)s reserved units") % {"units": units},
                units=units,
            )
        elif order.stock_status == StockStatus.WAITING:
            order.stock_status = StockStatus.RELEASED
        order.cancelled_at, order.cancel_reason = at, reason
        self.status_event(
            at, status, S.CANCELLED, actor, _("Cancelled: %(reason)s") % {"reason": reason}, reason=reason
        )


@cache
def _(message: str) -> str:
    """gettext memoized for one run (hundreds of thousands of events share a dozen messages)."""
    return gettext(message)


@cache
def _label(choices: type[models.TextChoices], value: str) -> str:
    """The translated label of a choice, memoized for one run."""
    return str(choices(value).label)


def payment_status(total: Decimal, paid: Decimal, refunded: Decimal) -> str:
    from orders.state import payment_status_for

    return payment_status_for(total, paid, refunded)


def clear_translation_cache() -> None:
    """Forget memoized translations (a run may follow a language switch)."""
    _.cache_clear()
    _label.cache_clear()
