"""Shipping: a shipment carries some or all reserved units; fulfilment status follows from shipped units."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import TransitionNotAllowed, ValidationFailed
from orders import hooks, state
from orders.choices import EventType, OrderStatus, StockStatus
from orders.models import Order, Shipment, ShipmentLine
from orders.services.events import record_event
from orders.services.lifecycle import _change_status, lock_order
from orders.services.stock import deduct_shipped_stock, reserve_order_stock


def ship_order(
    order: Order | int,
    *,
    carrier: str,
    tracking_number: str,
    actor: Actor,
    quantities: dict[int, int] | None = None,
    shipped_at: dt.datetime | None = None,
) -> Shipment:
    """Ship an order (all remaining units, or `quantities` per line pk): create the shipment, deduct stock,
    derive fulfilment status and move the order to shipped or partially shipped. Held orders never ship.
    """
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    if not carrier:
        raise ValidationFailed(_("a carrier is required"), code="required", field="carrier")
    if not tracking_number:
        raise ValidationFailed(_("a tracking number is required"), code="required", field="tracking_number")
    with transaction.atomic():
        locked = lock_order(order)
        if locked.status not in (OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTIALLY_SHIPPED):
            refusal = state.check_transition(locked, OrderStatus.SHIPPED)
            raise TransitionNotAllowed(
                refusal.message if refusal else _("order %(n)s cannot ship now") % {"n": locked.number},
                code=refusal.code if refusal else "transition_not_allowed",
                field="status",
            )
        lines = list(locked.lines.order_by("pk"))
        remaining = {line.pk: line.quantity - line.quantity_shipped for line in lines}
        wanted = quantities or {pk: qty for pk, qty in remaining.items() if qty}
        for line_pk, qty in wanted.items():
            if line_pk not in remaining:
                raise ValidationFailed(
                    _("line %(pk)s is not on this order") % {"pk": line_pk},
                    code="unknown_line",
                    field="lines",
                )
            if not isinstance(qty, int) or qty <= 0 or qty > remaining[line_pk]:
                raise ValidationFailed(
                    _("line %(pk)s: cannot ship %(q)s units (%(r)s remaining)")
                    % {"pk": line_pk, "q": qty, "r": remaining[line_pk]},
                    code="invalid_quantity",
                    field="lines",
                )
        if not wanted:
            raise ValidationFailed(_("nothing left to ship"), code="nothing_to_ship", field="lines")
        after = [(line.quantity, line.quantity_shipped + wanted.get(line.pk, 0)) for line in lines]
        target = OrderStatus.SHIPPED if all(s >= q for q, s in after) else OrderStatus.PARTIALLY_SHIPPED
        refusal = state.check_transition(locked, target) if locked.status != target else None
        if refusal is not None:
            raise TransitionNotAllowed(refusal.message, code=refusal.code, field="status")
        if locked.stock_status == StockStatus.NONE:
            # Orders that arrived already confirmed (channel sync, import) reserve when they first ship.
            reserve_order_stock(locked, actor=actor)
            locked.stock_status = StockStatus.RESERVED
            locked.save(update_fields=["stock_status", "updated_at"])
        deduct_shipped_stock(locked, wanted, actor=actor)
        shipment = Shipment.objects.create(
            order=locked,
            warehouse_id=locked.warehouse_id,
            carrier=carrier,
            tracking_number=tracking_number,
            shipped_at=shipped_at or timezone.now(),
        )
        ShipmentLine.objects.bulk_create(
            [ShipmentLine(shipment=shipment, order_line_id=pk, quantity=qty) for pk, qty in wanted.items()]
        )
        record_event(
            locked,
            type=EventType.SHIPMENT_CREATED,
            actor=actor,
            message=_("Shipped with %(carrier)s %(tracking)s")
            % {"carrier": carrier, "tracking": tracking_number},
            carrier=carrier,
            tracking_number=tracking_number,
            shipment=shipment.pk,
        )
        fields = {
            "fulfillment_status": state.fulfillment_status_for(after),
            "stock_status": StockStatus.DEDUCTED if target == OrderStatus.SHIPPED else StockStatus.RESERVED,
            "shipped_at": shipment.shipped_at if target == OrderStatus.SHIPPED else locked.shipped_at,
        }
        if locked.status == target:
            for name, value in fields.items():
                setattr(locked, name, value)
            locked.save(update_fields=[*fields, "updated_at"])
        else:
            _change_status(locked, target, actor=actor, fields=fields)
        hooks.dispatch_on_commit("shipped", order_id=locked.pk, shipment_id=shipment.pk, actor=actor)
        return shipment


def update_shipment(
    shipment: Shipment | int,
    *,
    actor: Actor,
    carrier: str | None = None,
    tracking_number: str | None = None,
    status: str | None = None,
) -> Shipment:
    """Change a shipment's logistics details or status; every change is on the order's timeline.

    When the last open shipment of a shipped order is delivered, the order moves to delivered.
    """
    from orders.services.lifecycle import mark_delivered

    with transaction.atomic():
        pk = shipment.pk if isinstance(shipment, Shipment) else shipment
        locked = Shipment.objects.select_for_update().select_related("order").get(pk=pk)
        changes: dict[str, tuple[str, str]] = {}
        for name, value in (("carrier", carrier), ("tracking_number", tracking_number), ("status", status)):
            if value is None:
                continue
            value = value.strip()
            if not value:
                raise ValidationFailed(
                    _("%(field)s cannot be empty") % {"field": name}, code="required", field=name
                )
            if name == "status" and value not in Shipment.Status.values:
                raise ValidationFailed(
                    _("unknown shipment status '%(s)s'") % {"s": value}, code="invalid_choice", field=name
                )
            if getattr(locked, name) != value:
                changes[name] = (getattr(locked, name), value)
                setattr(locked, name, value)
        if not changes:
            return locked
        if changes.get("status", ("", ""))[1] == Shipment.Status.DELIVERED and locked.delivered_at is None:
            locked.delivered_at = timezone.now()
        locked.save()
        record_event(
            locked.order,
            type=EventType.TRACKING_UPDATED,
            actor=actor,
            message="; ".join(f"{name}: {old or '—'} → {new}" for name, (old, new) in changes.items()),
            shipment=locked.pk,
            changes={name: {"from": old, "to": new} for name, (old, new) in changes.items()},
        )
        order = locked.order
        open_shipments = order.shipments.exclude(status=Shipment.Status.DELIVERED).exists()
        if "status" in changes and order.status == OrderStatus.SHIPPED and not open_shipments:
            mark_delivered(order, actor=actor, at=locked.delivered_at)
        return locked
