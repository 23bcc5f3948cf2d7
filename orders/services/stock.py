"""Stock movements: reserve on confirm, deduct on ship, release on cancel. Never oversells.

Each movement is one conditional UPDATE checked by its row count (the database re-checks the condition
under its row lock), and rows are touched in product-pk order so concurrent orders cannot deadlock.
The CheckConstraints on StockLevel are the last line of defence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import NotFound, StockShortage, ValidationFailed
from orders.choices import EventType
from orders.models import Order, OrderLine, Product, StockLevel, Warehouse
from orders.services.events import record_event


def _needs_by_product(lines: Iterable[OrderLine], attr: str) -> dict[int, int]:
    needs: dict[int, int] = defaultdict(int)
    for line in lines:
        quantity = attr(line) if callable(attr) else getattr(line, attr)
        if quantity:
            needs[line.product_id] += quantity
    return dict(sorted(needs.items()))


def choose_warehouse(order: Order, lines: list[OrderLine]) -> Warehouse | None:
    """The order's warehouse, else its channel's default, else the first active one that has every line."""
    if order.warehouse_id:
        return order.warehouse
    if order.channel_id and order.channel.default_warehouse_id:
        return order.channel.default_warehouse
    needs = _needs_by_product(lines, lambda line: line.quantity - line.quantity_reserved)
    for warehouse in Warehouse.objects.filter(is_active=True).order_by("pk"):
        levels = {
            level.product_id: level.on_hand - level.reserved
            for level in StockLevel.objects.filter(warehouse=warehouse, product_id__in=needs)
        }
        if all(levels.get(pid, 0) >= qty for pid, qty in needs.items()):
            return warehouse
    return Warehouse.objects.filter(is_active=True).order_by("pk").first()


def reserve_order_stock(order: Order, *, actor: Actor) -> None:
    """Reserve every unreserved unit of `order` in its warehouse, all or nothing; raise StockShortage if short.

    Must run inside the caller's transaction with the order row locked.
    """
    lines = list(order.lines.select_related("product").order_by("product_id", "pk"))
    warehouse = choose_warehouse(order, lines)
    if warehouse is None:
        raise StockShortage(_("no active warehouse to reserve stock in"), field="warehouse")
    needs = _needs_by_product(lines, lambda line: line.quantity - line.quantity_reserved)
    short: list[str] = []
    with transaction.atomic():
        for product_id, quantity in needs.items():
            updated = StockLevel.objects.filter(
                product_id=product_id, warehouse=warehouse, on_hand__gte=F("reserved") + quantity
            ).update(reserved=F("reserved") + quantity)
            if not updated:
                short.append(next(line.sku for line in lines if line.product_id == product_id))
        if short:
            transaction.set_rollback(True)
    if short:
        raise StockShortage(
            _("order %(number)s: not enough stock in %(warehouse)s for %(skus)s")
            % {"number": order.number, "warehouse": warehouse.name, "skus": ", ".join(short)},
            field="lines",
            skus=short,
            warehouse=warehouse.code,
        )
    for line in lines:
        if line.quantity_reserved != line.quantity:
            line.quantity_reserved = line.quantity
            line.save(update_fields=["quantity_reserved"])
    if order.warehouse_id != warehouse.pk:
        order.warehouse = warehouse
        order.save(update_fields=["warehouse", "updated_at"])
    record_event(
        order,
        type=EventType.STOCK_RESERVED,
        actor=actor,
        message=_("Reserved %(units)s units in %(warehouse)s")
        % {"units": sum(needs.values()), "warehouse": warehouse},
        warehouse=warehouse.code,
        quantities={line.sku: line.quantity for line in lines},
    )


def release_order_stock(order: Order, *, actor: Actor) -> int:
    """Give back every unit `order` still holds in reservation; returns the units released."""
    lines = list(order.lines.filter(quantity_reserved__gt=0).order_by("product_id", "pk"))
    if not lines or not order.warehouse_id:
        return 0
    released = 0
    for product_id, quantity in _needs_by_product(lines, "quantity_reserved").items():
        StockLevel.objects.filter(
            product_id=product_id, warehouse_id=order.warehouse_id, reserved__gte=quantity
        ).update(reserved=F("reserved") - quantity)
        released += quantity
    OrderLine.objects.filter(pk__in=[line.pk for line in lines]).update(quantity_reserved=0)
    record_event(
        order,
        type=EventType.STOCK_RELEASED,
        actor=actor,
        message=_("Released %(units)s reserved units") % {"units": released},
        units=released,
    )
    return released


def deduct_shipped_stock(order: Order, shipped: dict[int, int], *, actor: Actor) -> None:
    """Take shipped units out of stock: on hand and reserved both drop. `shipped` maps line pk → units."""
    lines = {line.pk: line for line in order.lines.filter(pk__in=shipped).order_by("product_id", "pk")}
    by_product: dict[int, int] = defaultdict(int)
    for line_pk, quantity in shipped.items():
        line = lines[line_pk]
        if quantity > line.quantity_reserved:
            raise StockShortage(
                _("line %(sku)s has %(reserved)s reserved units, cannot ship %(quantity)s")
                % {"sku": line.sku, "reserved": line.quantity_reserved, "quantity": quantity},
                field="lines",
            )
        by_product[line.product_id] += quantity
    for product_id, quantity in sorted(by_product.items()):
        updated = StockLevel.objects.filter(
            product_id=product_id,
            warehouse_id=order.warehouse_id,
            reserved__gte=quantity,
            on_hand__gte=quantity,
        ).update(on_hand=F("on_hand") - quantity, reserved=F("reserved") - quantity)
        if not updated:
            raise StockShortage(_("stock record missing for a shipped line"), field="lines")
    for line_pk, quantity in shipped.items():
        OrderLine.objects.filter(pk=line_pk).update(
            quantity_reserved=F("quantity_reserved") - quantity,
            quantity_shipped=F("quantity_shipped") + quantity,
        )
    record_event(
        order,
        type=EventType.STOCK_DEDUCTED,
        actor=actor,
        message=_("Deducted %(units)s shipped units") % {"units": sum(shipped.values())},
        quantities={lines[pk].sku: qty for pk, qty in shipped.items()},
    )


def adjust_stock(*, sku: str, warehouse_code: str, delta: int, reason: str, actor: Actor) -> StockLevel:
    """Receive (+) or write off (−) units of a SKU in a warehouse; refused if it would drop below reserved."""
    if not reason:
        raise ValidationFailed(
            _("a reason is required to adjust stock"), code="reason_required", field="reason"
        )
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        raise NotFound(_("unknown SKU '%(sku)s'") % {"sku": sku}, code="unknown_sku", field="sku")
    warehouse = Warehouse.objects.filter(code=warehouse_code).first()
    if warehouse is None:
        raise NotFound(
            _("unknown warehouse '%(code)s'") % {"code": warehouse_code},
            code="unknown_warehouse",
            field="warehouse",
        )
    with transaction.atomic():
        level, _created = StockLevel.objects.get_or_create(product=product, warehouse=warehouse)
        updated = StockLevel.objects.filter(pk=level.pk, on_hand__gte=F("reserved") - delta).update(
            on_hand=F("on_hand") + delta
        )
        if not updated:
            raise StockShortage(
                _("cannot remove %(units)s units of %(sku)s: they are reserved or not on hand")
                % {"units": -delta, "sku": sku},
                field="delta",
            )
        if delta > 0:
            from orders.services.special import allocate_arrived_stock  # presales waiting for this SKU

            allocate_arrived_stock(product, warehouse, actor=actor)
        level.refresh_from_db()
    return level
