"""Fulfilment: allocating lines to warehouses, splitting an order (e.g. ship what is in stock, keep the
rest as a presale) and merging orders of one buyer to one address into one parcel.

A split child order points to its parent (Order.split_from); merged orders point to the order they ship
with (Order.merged_into), so the originals stay traceable. Splitting moves money honestly: line amounts,
a prorated share of the order discount and of the net paid amount go with the moved units (payment rows
are split, keeping method, transaction id and time), so every order's totals still add up.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import OMSError, StockShortage, TransitionNotAllowed, ValidationFailed
from oms.money import CENT, ZERO
from orders.choices import (
    EventType,
    FulfillmentStatus,
    OrderStatus,
    OrderType,
    PaymentKind,
    PaymentStatus,
    StockStatus,
)
from orders.models import Order, OrderLine, Payment, Shipment, StockLevel, Warehouse
from orders.services.events import record_event
from orders.services.lifecycle import _change_status, confirm_order, lock_order
from orders.services.special import rederive_payment_status

S = OrderStatus
SPLITTABLE = frozenset({S.PENDING_PAYMENT, S.PENDING_REVIEW, S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED})
MERGEABLE = frozenset({S.PENDING_REVIEW, S.AWAITING_SHIPMENT})
ADDRESS_FIELDS = ("receiver_name", "receiver_phone", "province", "city", "district", "street")


# ---------------------------------------------------------------------------------------------- split


def _child_number(parent: Order) -> str:
    n = parent.split_children.count() + 1
    while Order.objects.filter(number=f"{parent.number}-{n}").exists():
        n += 1
    return f"{parent.number}-{n}"


def _release_moved_reservation(parent: Order, moved: dict[int, int], lines: dict[int, OrderLine]) -> None:
    """Give back the reservation of units leaving `parent` (what remains keeps its reservation)."""
    released: dict[int, int] = defaultdict(int)
    for pk, qty in moved.items():
        line = lines[pk]
        keep = min(line.quantity_reserved, line.quantity - qty - line.quantity_shipped)
        if line.quantity_reserved > keep:
            released[line.product_id] += line.quantity_reserved - keep
            line.quantity_reserved = keep
    for product_id, quantity in sorted(released.items()):
        StockLevel.objects.filter(
            product_id=product_id, warehouse_id=parent.warehouse_id, reserved__gte=quantity
        ).update(reserved=F("reserved") - quantity)


def _move_payments(parent: Order, child: Order, share) -> None:
    """Move `share` of the parent's payments to the child, latest first, splitting a row when needed."""
    remaining = share
    payments = parent.payments.filter(kind=PaymentKind.PAYMENT, status=Payment.Status.SUCCEEDED).order_by(
        "-paid_at", "-pk"
    )
    for payment in payments:
        if remaining <= 0:
            break
        if payment.amount <= remaining:
            remaining -= payment.amount
            Payment.objects.filter(pk=payment.pk).update(order=child)
            continue
        Payment.objects.filter(pk=payment.pk).update(amount=F("amount") - remaining)
        Payment.objects.create(
            order=child,
            kind=payment.kind,
            method=payment.method,
            amount=remaining,
            currency=payment.currency,
            transaction_id=payment.transaction_id,
            status=payment.status,
            paid_at=payment.paid_at,
        )
        remaining = ZERO


def split_order(
    order: Order | int,
    *,
    lines: dict[int, int],
    actor: Actor,
    reason: str = "",
    presale: bool = False,
    warehouse: Warehouse | None = None,
) -> Order:
    """Move unshipped units (`lines`: line pk → units) of an order into a new child order.

    `presale`: the child waits for stock as a presale. `warehouse`: the child ships from there. A parent
    that was partly shipped and keeps only shipped units becomes shipped. A child of an order already
    confirmed is confirmed at once (a presale then waits for stock; a normal child reserves or is flagged).
    """
    if not lines or any(not isinstance(q, int) or q <= 0 for q in lines.values()):
        raise ValidationFailed(_("choose the units to split off"), code="invalid_quantity", field="lines")
    with transaction.atomic():
        parent = lock_order(order)
        if parent.status not in SPLITTABLE:
            raise TransitionNotAllowed(
                _("order %(n)s is %(s)s and cannot be split")
                % {"n": parent.number, "s": parent.get_status_display().lower()},
                code="split_not_allowed",
                field="status",
            )
        by_pk = {line.pk: line for line in parent.lines.select_for_update().order_by("pk")}
        for pk, qty in lines.items():
            line = by_pk.get(pk)
            if line is None:
                raise ValidationFailed(
                    _("line %(pk)s is not on order %(n)s") % {"pk": pk, "n": parent.number},
                    code="unknown_line",
                    field="lines",
                )
            if qty > line.quantity - line.quantity_shipped:
                raise ValidationFailed(
                    _("line %(sku)s: cannot split off %(q)s units (%(r)s not shipped)")
                    % {"sku": line.sku, "q": qty, "r": line.quantity - line.quantity_shipped},
                    code="invalid_quantity",
                    field="lines",
                )
        if sum(line.quantity for line in by_pk.values()) <= sum(lines.values()):
            raise ValidationFailed(
                _("a split must leave at least one unit on order %(n)s") % {"n": parent.number},
                code="split_everything",
                field="lines",
            )
        confirmed = parent.status in (S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED)
        old_total, net_paid = parent.total, parent.paid_amount - parent.refunded_amount
        _release_moved_reservation(parent, lines, by_pk)

        child = Order(
            number=_child_number(parent),
            channel=parent.channel,
            order_type=OrderType.PRESALE if presale else parent.order_type,
            status=S.PENDING_REVIEW if confirmed else parent.status,
            customer=parent.customer,
            warehouse=warehouse or parent.warehouse,
            currency=parent.currency,
            split_from=parent,
            placed_at=parent.placed_at,
            paid_at=parent.paid_at,
            **{
                name: getattr(parent, name)
                for name in (
                    *ADDRESS_FIELDS,
                    "buyer_name",
                    "buyer_phone",
                    "buyer_email",
                    "postcode",
                    "buyer_note",
                    "seller_note",
                )
            },
        )
        child.save(force_insert=True)
        child_lines, child_subtotal = [], ZERO
        for pk, qty in sorted(lines.items()):
            line = by_pk[pk]
            discount_share = (line.discount * qty / line.quantity).quantize(CENT)
            total = line.unit_price * qty - discount_share
            child_lines.append(
                OrderLine(
                    order=child,
                    product_id=line.product_id,
                    sku=line.sku,
                    name=line.name,
                    quantity=qty,
                    unit_price=line.unit_price,
                    discount=discount_share,
                    total=total,
                    external_line_id=line.external_line_id,
                )
            )
            child_subtotal += total
            line.quantity -= qty
            line.discount -= discount_share
            line.total -= total
            if line.quantity:
                line.save(update_fields=["quantity", "discount", "total", "quantity_reserved"])
        OrderLine.objects.bulk_create(child_lines)
        # A line moved whole (never shipped: only unshipped units move) leaves the parent.
        OrderLine.objects.filter(pk__in=[line.pk for line in by_pk.values() if line.quantity == 0]).delete()

        child_discount = (
            min((parent.discount * child_subtotal / parent.subtotal).quantize(CENT), child_subtotal)
            if parent.subtotal
            else ZERO
        )
        child.subtotal, child.discount = child_subtotal, child_discount
        child.total = child_subtotal - child_discount
        child.save(update_fields=["subtotal", "discount", "total"])
        parent.subtotal -= child_subtotal
        parent.discount -= child_discount
        parent.total = parent.subtotal - parent.discount + parent.shipping_fee + parent.tax
        parent.save(update_fields=["subtotal", "discount", "total", "updated_at"])

        share = (
            (net_paid * child.total / old_total).quantize(CENT) if old_total > 0 and net_paid > 0 else ZERO
        )
        share = min(share, child.total, net_paid)
        if share > 0:
            _move_payments(parent, child, share)
        rederive_payment_status(parent)
        rederive_payment_status(child)
        if child.payment_status != PaymentStatus.UNPAID and child.status == S.PENDING_PAYMENT:
            child.status = S.PENDING_REVIEW  # the share of a paid order is paid: review as its parent would
            child.save(update_fields=["status"])

        moved = {by_pk[pk].sku: qty for pk, qty in lines.items()}
        record_event(
            child,
            type=EventType.CREATED,
            actor=actor,
            message=_("Split from %(parent)s: %(units)s units, total %(total)s")
            % {"parent": parent.number, "units": sum(lines.values()), "total": child.total},
            split_from=parent.number,
            moved=moved,
            paid_share=share,
            reason=reason,
        )
        record_event(
            parent,
            type=EventType.ORDER_SPLIT,
            actor=actor,
            message=_("Split %(units)s units into %(child)s%(presale)s%(reason)s")
            % {
                "units": sum(lines.values()),
                "child": child.number,
                "presale": _(" (presale)") if presale else "",
                "reason": f": {reason}" if reason else "",
            },
            child=child.number,
            moved=moved,
            paid_share=share,
        )
        _settle_parent(parent, actor=actor)
        if confirmed:
            # A short normal child stays in review with a 'stock short' exception, as any confirm.
            with contextlib.suppress(StockShortage):
                confirm_order(child, actor=actor)
        child.refresh_from_db()
        return child


def _settle_parent(parent: Order, *, actor: Actor) -> None:
    """After a split, a partly shipped parent whose remaining units are all shipped becomes shipped."""
    quantities = list(parent.lines.values_list("quantity", "quantity_shipped"))
    from orders.state import fulfillment_status_for

    fulfilment = fulfillment_status_for(quantities)
    if parent.status == S.PARTIALLY_SHIPPED and fulfilment == FulfillmentStatus.FULFILLED:
        last = parent.shipments.order_by("-shipped_at").values_list("shipped_at", flat=True).first()
        _change_status(
            parent,
            S.SHIPPED,
            actor=actor,
            message=_("Shipped: the remaining units were split off"),
            fields={
                "fulfillment_status": fulfilment,
                "stock_status": StockStatus.DEDUCTED,
                "shipped_at": last,
            },
        )


# ---------------------------------------------------------------------------------------------- allocation


@dataclass(frozen=True)
class LineAllocation:
    """Where units of one line come from: a warehouse (None: nowhere has them, they wait as a presale)."""

    line_pk: int
    sku: str
    quantity: int
    warehouse_id: int | None


def default_warehouse(order: Order) -> Warehouse | None:
    """The order's warehouse (set by a clerk or a rule), else its channel's default, else the first active."""
    if order.warehouse_id:
        return order.warehouse
    if order.channel_id and order.channel.default_warehouse_id:
        return order.channel.default_warehouse
    return Warehouse.objects.filter(is_active=True).order_by("pk").first()


def plan_allocation(order: Order) -> list[LineAllocation]:
    """Allocate each line's units: the default warehouse first, then other active warehouses (by pk) for
    what it lacks; units nobody has are allocated to None. Reads stock, writes nothing."""
    home = default_warehouse(order)
    lines = list(order.lines.order_by("pk"))
    product_ids = {line.product_id for line in lines}
    available: dict[tuple[int, int], int] = {
        (level.warehouse_id, level.product_id): level.on_hand - level.reserved
        for level in StockLevel.objects.filter(product_id__in=product_ids, warehouse__is_active=True)
    }
    others = list(
        Warehouse.objects.filter(is_active=True)
        .exclude(pk=getattr(home, "pk", None))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    candidates = ([home.pk] if home else []) + others
    plan: list[LineAllocation] = []
    for line in lines:
        need = line.quantity - line.quantity_shipped - line.quantity_reserved
        if need <= 0:
            continue
        # A warehouse that has the whole line wins (home first); a line is spread over several only when
        # no single warehouse has it all.
        whole = next((w for w in candidates if available.get((w, line.product_id), 0) >= need), None)
        sources = [whole] if whole is not None else candidates
        for warehouse_id in sources:
            free = available.get((warehouse_id, line.product_id), 0)
            take = min(free, need)
            if take > 0:
                plan.append(LineAllocation(line.pk, line.sku, take, warehouse_id))
                available[(warehouse_id, line.product_id)] = free - take
                need -= take
            if not need:
                break
        if need:
            plan.append(LineAllocation(line.pk, line.sku, need, None))
    return plan


def allocate_order(order: Order | int, *, actor: Actor) -> list[Order]:
    """Apply plan_allocation: the order ships from its default warehouse; units other warehouses hold
    are split into child orders shipping from there; units nobody has are split into a presale child.
    Returns the order and its new children. Only for orders without a reservation yet."""
    from orders.services.assignment import assign_warehouse

    with transaction.atomic():
        locked = lock_order(order)
        if locked.lines.filter(Q(quantity_reserved__gt=0) | Q(quantity_shipped__gt=0)).exists():
            raise TransitionNotAllowed(
                _("order %(n)s already holds stock; allocate before confirming") % {"n": locked.number},
                code="already_allocated",
                field="warehouse",
            )
        home = default_warehouse(locked)
        plan = plan_allocation(locked)
        groups: dict[int | None, dict[int, int]] = defaultdict(dict)
        for item in plan:
            groups[item.warehouse_id][item.line_pk] = (
                groups[item.warehouse_id].get(item.line_pk, 0) + item.quantity
            )
        home_id = home.pk if home else None
        if home_id not in groups:
            # Nothing ships from the default warehouse: the largest group stays on the order.
            home_id = max(
                (w for w in groups if w is not None), key=lambda w: sum(groups[w].values()), default=home_id
            )
        if home_id is not None and locked.warehouse_id != home_id:
            assign_warehouse(locked, Warehouse.objects.get(pk=home_id), actor=actor)
        children = []
        for warehouse_id, moved in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            if warehouse_id == home_id:
                continue
            children.append(
                split_order(
                    locked,
                    lines=moved,
                    actor=actor,
                    reason=_("allocated to another warehouse") if warehouse_id else _("out of stock"),
                    presale=warehouse_id is None,
                    warehouse=Warehouse.objects.get(pk=warehouse_id) if warehouse_id else None,
                )
            )
        locked.refresh_from_db()
        return [locked, *children]


# ---------------------------------------------------------------------------------------------- merge


def _merge_key(order: Order) -> tuple:
    buyer = order.customer_id or order.buyer_phone or order.receiver_phone
    return (buyer, order.warehouse_id, order.currency, *(getattr(order, f) for f in ADDRESS_FIELDS))


def _check_mergeable(order: Order) -> None:
    if order.status not in MERGEABLE or order.fulfillment_status != FulfillmentStatus.UNFULFILLED:
        raise TransitionNotAllowed(
            _("order %(n)s is %(s)s; only orders not yet shipped can be merged")
            % {"n": order.number, "s": order.get_status_display().lower()},
            code="merge_not_allowed",
            field="status",
        )


def merge_candidates(order: Order) -> list[Order]:
    """Other unshipped orders of the same buyer to the same address and warehouse, not merged elsewhere."""
    buyer = Q(customer_id=order.customer_id) if order.customer_id else Q(buyer_phone=order.buyer_phone)
    found = (
        Order.objects.filter(buyer, status__in=MERGEABLE, fulfillment_status=FulfillmentStatus.UNFULFILLED)
        .filter(**{f: getattr(order, f) for f in ADDRESS_FIELDS})
        .filter(warehouse_id=order.warehouse_id, currency=order.currency, merged_into__isnull=True)
        .exclude(pk=order.pk)
        .order_by("placed_at", "pk")
    )
    return list(found)


def merge_orders(orders: Iterable[Order | int], *, actor: Actor) -> Order:
    """Ship several orders of one buyer to one address in one parcel: they point to the oldest (the master).

    Each keeps its lines, payments and number; ship_merged_orders ships them together under one tracking
    number. Refused unless all are unshipped, of one buyer, to the same address, from the same warehouse.
    """
    pks = sorted({o.pk if isinstance(o, Order) else o for o in orders})
    if len(pks) < 2:
        raise ValidationFailed(_("choose at least two orders to merge"), code="required", field="orders")
    with transaction.atomic():
        locked = [lock_order(pk) for pk in pks]  # pk order: no deadlock with another merge
        for order in locked:
            _check_mergeable(order)
        keys = {_merge_key(order) for order in locked}
        if len(keys) > 1 or not locked[0].customer_id and not locked[0].buyer_phone:
            raise ValidationFailed(
                _("orders %(n)s are not of one buyer to one address from one warehouse")
                % {"n": ", ".join(o.number for o in locked)},
                code="merge_mismatch",
                field="orders",
            )
        masters = {o.merged_into_id for o in locked if o.merged_into_id} | {
            o.pk for o in locked if o.merged_orders.exists()
        }
        if len(masters) > 1:
            raise ValidationFailed(
                _("some of these orders already ship with different orders; unmerge them first"),
                code="merge_mismatch",
                field="orders",
            )
        master = (
            next(o for o in locked if o.pk in masters)
            if masters and any(o.pk in masters for o in locked)
            else min(locked, key=lambda o: (o.placed_at, o.pk))
        )
        for order in locked:
            if order.pk == master.pk or order.merged_into_id == master.pk:
                continue
            order.merged_into = master
            order.save(update_fields=["merged_into", "updated_at"])
            record_event(
                order,
                type=EventType.ORDERS_MERGED,
                actor=actor,
                message=_("Ships with %(master)s in one parcel") % {"master": master.number},
                master=master.number,
            )
        record_event(
            master,
            type=EventType.ORDERS_MERGED,
            actor=actor,
            message=_("Ships together with %(others)s")
            % {"others": ", ".join(o.number for o in locked if o.pk != master.pk)},
            merged=[o.number for o in locked if o.pk != master.pk],
        )
        return master


def merge_with_candidates(order: Order | int, *, actor: Actor) -> Order | None:
    """Merge an order with every candidate of merge_candidates (the rule action); None when there is none."""
    order = order if isinstance(order, Order) else Order.objects.get(pk=order)
    if order.merged_into_id:
        return None
    candidates = merge_candidates(order)
    if not candidates:
        return None
    return merge_orders([order, *candidates], actor=actor)


def unmerge_order(order: Order | int, *, actor: Actor) -> Order:
    """Take an order out of its parcel group before shipping (it ships on its own again)."""
    with transaction.atomic():
        locked = lock_order(order)
        if not locked.merged_into_id:
            raise OMSError(_("order %(n)s is not merged") % {"n": locked.number}, code="not_merged")
        _check_mergeable(locked)
        master = locked.merged_into
        locked.merged_into = None
        locked.save(update_fields=["merged_into", "updated_at"])
        record_event(
            locked,
            type=EventType.ORDERS_MERGED,
            actor=actor,
            message=_("No longer ships with %(master)s") % {"master": master.number},
            unmerged_from=master.number,
        )
        return locked


def ship_merged_orders(
    master: Order | int, *, carrier: str, tracking_number: str, actor: Actor
) -> list[Shipment]:
    """Ship a master order and every order merged into it in one parcel (one tracking number), all or none."""
    from orders.services.shipping import ship_order

    master_pk = master.pk if isinstance(master, Order) else master
    with transaction.atomic():
        pks = sorted(
            {master_pk, *Order.objects.filter(merged_into_id=master_pk).values_list("pk", flat=True)}
        )
        for pk in pks:
            lock_order(pk)
        return [ship_order(pk, carrier=carrier, tracking_number=tracking_number, actor=actor) for pk in pks]
