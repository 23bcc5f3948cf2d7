"""Assigning orders: the shipping warehouse and the tags clerks and rules put on orders."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import TransitionNotAllowed, ValidationFailed
from orders import hooks
from orders.choices import EventType, OrderStatus, StockStatus
from orders.models import Order, Tag, Warehouse
from orders.services.events import record_event
from orders.services.lifecycle import lock_order
from orders.services.stock import release_order_stock, reserve_order_stock

_NOT_REASSIGNABLE = frozenset(
    {
        OrderStatus.PARTIALLY_SHIPPED,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.CLOSED,
    }
)


def assign_warehouse(
    order: Order | int, warehouse: Warehouse, *, actor: Actor, move_reservation: bool = False
) -> Order:
    """Make `warehouse` the one `order` ships from, writing a WAREHOUSE_ASSIGNED event.

    An order whose stock is already reserved in another warehouse is refused unless `move_reservation`:
    then the reservation is released there and taken again in `warehouse`, all or nothing
    (StockShortage leaves the order as it was).
    """
    if not warehouse.is_active:
        raise ValidationFailed(
            _("warehouse %(w)s is not active") % {"w": warehouse},
            code="inactive_warehouse",
            field="warehouse",
        )
    with transaction.atomic():
        locked = lock_order(order)
        if locked.warehouse_id == warehouse.pk:
            return locked
        if locked.status in _NOT_REASSIGNABLE:
            raise TransitionNotAllowed(
                _("order %(n)s is %(s)s; its warehouse can no longer change")
                % {"n": locked.number, "s": OrderStatus(locked.status).label.lower()},
                code="warehouse_locked",
                field="warehouse",
            )
        previous = locked.warehouse
        reserved = locked.lines.filter(quantity_reserved__gt=0).exists()
        if reserved and not move_reservation:
            raise ValidationFailed(
                _("order %(n)s has stock reserved in %(w)s; move the reservation to change its warehouse")
                % {"n": locked.number, "w": previous},
                code="stock_reserved_elsewhere",
                field="warehouse",
            )
        if reserved:
            release_order_stock(locked, actor=actor)
        locked.warehouse = warehouse
        locked.save(update_fields=["warehouse", "updated_at"])
        if reserved:
            reserve_order_stock(locked, actor=actor)
            if locked.stock_status != StockStatus.RESERVED:
                locked.stock_status = StockStatus.RESERVED
                locked.save(update_fields=["stock_status", "updated_at"])
        record_event(
            locked,
            type=EventType.WAREHOUSE_ASSIGNED,
            actor=actor,
            message=_("Warehouse: %(old)s → %(new)s") % {"old": previous or "—", "new": warehouse},
            previous=previous.code if previous else "",
            warehouse=warehouse.code,
            moved_reservation=bool(reserved),
        )
        return locked


def _change_tags(
    order: Order | int, *, actor: Actor, add: Iterable[Tag] = (), remove: Iterable[Tag] = (), exact=None
) -> bool:
    """Apply a tag change under the order's row lock; one TAGS_CHANGED event, none when nothing changed."""
    with transaction.atomic():
        locked = lock_order(order)
        current = {tag.pk: tag for tag in locked.tags.all()}
        if exact is not None:
            wanted = {tag.pk: tag for tag in exact}
        else:
            wanted = dict(current)
            wanted.update({tag.pk: tag for tag in add})
            for tag in remove:
                wanted.pop(tag.pk, None)
        added = [wanted[pk] for pk in wanted.keys() - current.keys()]
        removed = [current[pk] for pk in current.keys() - wanted.keys()]
        if not added and not removed:
            return False
        if added:
            locked.tags.add(*added)
        if removed:
            locked.tags.remove(*removed)
        added_names = sorted(tag.name for tag in added)
        removed_names = sorted(tag.name for tag in removed)
        parts = [f"+{name}" for name in added_names] + [f"−{name}" for name in removed_names]
        record_event(
            locked,
            type=EventType.TAGS_CHANGED,
            actor=actor,
            message=_("Tags: %(changes)s") % {"changes": " ".join(parts)},
            added=added_names,
            removed=removed_names,
        )
        return True


def set_tags(order: Order | int, tags: Iterable[Tag], *, actor: Actor) -> bool:
    """Give `order` exactly `tags`; returns False (and writes nothing) when they already were."""
    return _change_tags(order, actor=actor, exact=list(tags))


def add_tag(order: Order | int, tag: Tag, *, actor: Actor) -> bool:
    """Put `tag` on `order` (no event if it is already there)."""
    return _change_tags(order, actor=actor, add=[tag])


def remove_tag(order: Order | int, tag: Tag, *, actor: Actor) -> bool:
    """Take `tag` off `order` (no event if it was not there)."""
    return _change_tags(order, actor=actor, remove=[tag])


EDITABLE_DETAILS = (
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
    "seller_note",
)
"""Fields a clerk may correct by hand (contact, shipping address, seller note); never amounts or status."""

_DETAILS_LOCKED = _NOT_REASSIGNABLE
"""Once the parcel has left (or the order is over), the address it went to is history."""


def details_editable(order: Order) -> bool:
    """Whether the contact and shipping details of `order` may still be corrected."""
    return order.status not in _DETAILS_LOCKED


def update_order_details(order: Order | int, *, actor: Actor, **changes: str) -> Order:
    """Correct contact/address fields (see EDITABLE_DETAILS) with one UPDATED event listing old → new."""
    from orders.services.customers import normalize_phone

    unknown = sorted(set(changes) - set(EDITABLE_DETAILS))
    if unknown:
        raise ValidationFailed(
            _("these fields cannot be edited: %(f)s") % {"f": ", ".join(unknown)},
            code="not_editable",
            field=unknown[0],
        )
    with transaction.atomic():
        locked = lock_order(order)
        if not details_editable(locked):
            raise TransitionNotAllowed(
                _("order %(n)s is %(s)s; its details can no longer change")
                % {"n": locked.number, "s": OrderStatus(locked.status).label.lower()},
                code="details_locked",
                field="status",
            )
        diff = {}
        for name, value in changes.items():
            value = (value or "").strip()
            if name in ("buyer_phone", "receiver_phone"):
                value = normalize_phone(value)
            old = getattr(locked, name)
            if value != old:
                diff[name] = [old, value]
                setattr(locked, name, value)
        if not diff:
            return locked
        locked.save(update_fields=[*diff, "updated_at"])
        labels = ", ".join(str(Order._meta.get_field(name).verbose_name) for name in diff)
        event = record_event(
            locked,
            type=EventType.UPDATED,
            actor=actor,
            message=_("Edited: %(fields)s") % {"fields": labels},
            changes=diff,
        )
        hooks.dispatch("order_updated", order_id=locked.pk, event_id=event.pk, actor=actor)
        return locked
