"""factory_boy factories for the order domain, and `order_in_status`, which reaches a status honestly.

Rows that have no lifecycle (warehouses, products, stock, channels, customers, users) come from plain
factories. Orders for behaviour tests come from `make_order` / `order_in_status`, which go through the
services exactly as the admin would, so no test fakes a status the state machine never produced.
`OrderFactory` writes a raw row and is only for model-level tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from factory.django import DjangoModelFactory

from channels.choices import Platform
from channels.models import Channel
from oms.actors import Actor
from orders import services
from orders.choices import HoldKind, OrderStatus, PaymentKind, PaymentMethod
from orders.models import Customer, Order, OrderLine, Product, StockLevel, Warehouse

S = OrderStatus
TEST_ACTOR = Actor.system("tests")


class WarehouseFactory(DjangoModelFactory):
    """An active warehouse with a unique code."""

    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"wh-{n}")
    name = factory.Sequence(lambda n: f"Warehouse {n}")
    province = "浙江省"
    city = "杭州市"


class ProductFactory(DjangoModelFactory):
    """A sellable SKU at 10.00."""

    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("10.00")


class StockLevelFactory(DjangoModelFactory):
    """Stock of a product in a warehouse (100 on hand, nothing reserved)."""

    class Meta:
        model = StockLevel

    product = factory.SubFactory(ProductFactory)
    warehouse = factory.SubFactory(WarehouseFactory)
    on_hand = 100
    reserved = 0


class ChannelFactory(DjangoModelFactory):
    """A Tmall shop selling in the default currency."""

    class Meta:
        model = Channel
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"shop-{n}")
    name = factory.Sequence(lambda n: f"Shop {n}")
    platform = Platform.TMALL
    currency = "CNY"


class CustomerFactory(DjangoModelFactory):
    """A customer identified by a unique mobile phone."""

    class Meta:
        model = Customer

    name = factory.Faker("name", locale="zh_CN")
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    dedupe_key = factory.LazyAttribute(lambda o: f"phone:{o.phone}")


class UserFactory(DjangoModelFactory):
    """A staff user; `groups=[...]` (names or Group objects) and `perms=["app.codename", ...]` add rights."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"clerk{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    is_staff = True
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def groups(self, create: bool, extracted: Iterable[Group | str] | None, **kwargs: Any) -> None:
        """Put the user in the given groups (created by name when needed)."""
        if not create or not extracted:
            return
        for group in extracted:
            if isinstance(group, str):
                group, _created = Group.objects.get_or_create(name=group)
            self.groups.add(group)

    @factory.post_generation
    def perms(self, create: bool, extracted: Iterable[str] | None, **kwargs: Any) -> None:
        """Grant permissions given as 'app_label.codename'."""
        if not create or not extracted:
            return
        for dotted in extracted:
            app_label, codename = dotted.split(".", 1)
            self.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def group_with_perms(name: str, perms: Iterable[str]) -> Group:
    """A group holding the given 'app_label.codename' permissions (e.g. a 'Finance' group)."""
    group, _created = Group.objects.get_or_create(name=name)
    for dotted in perms:
        app_label, codename = dotted.split(".", 1)
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group


class OrderFactory(DjangoModelFactory):
    """A raw order row (pending payment). For model tests only: behaviour tests use `order_in_status`.

    `lines=[(product, quantity), ...]` or `lines=2` (two new products) adds lines and sets the totals.
    """

    class Meta:
        model = Order
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"SO-T{n:08d}")
    placed_at = factory.LazyFunction(timezone.now)
    receiver_name = "张三"
    receiver_phone = "13900000000"
    province = "浙江省"
    city = "杭州市"
    district = "西湖区"
    street = "文三路 1 号"

    @factory.post_generation
    def lines(
        self, create: bool, extracted: int | Sequence[tuple[Product, int]] | None, **kwargs: Any
    ) -> None:
        """Add order lines and make subtotal/total add up."""
        if not create or not extracted:
            return
        pairs = (
            [(ProductFactory(), 1) for _n in range(extracted)] if isinstance(extracted, int) else extracted
        )
        for product, quantity in pairs:
            OrderLineFactory(order=self, product=product, quantity=quantity)
        subtotal = sum((line.total for line in self.lines.all()), Decimal("0.00"))
        Order.objects.filter(pk=self.pk).update(subtotal=subtotal, total=subtotal)
        self.subtotal = self.total = subtotal


class OrderLineFactory(DjangoModelFactory):
    """A line snapshotting its product's SKU, name and price."""

    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda o: o.product.sku)
    name = factory.LazyAttribute(lambda o: o.product.name)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda o: o.product.price)
    total = factory.LazyAttribute(lambda o: o.unit_price * o.quantity)


ADDRESS = {
    "buyer_name": "张三",
    "receiver_name": "张三",
    "receiver_phone": "13900000000",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "street": "文三路 1 号",
}
"""A complete shipping address, so orders pass the ready-to-ship guard."""


def stocked_product(
    *, warehouse: Warehouse | None = None, on_hand: int = 100, **product_fields: Any
) -> Product:
    """A new product with `on_hand` units in `warehouse` (a new warehouse if none)."""
    product = ProductFactory(**product_fields)
    StockLevelFactory(product=product, warehouse=warehouse or WarehouseFactory(), on_hand=on_hand)
    return product


def make_order(
    lines: Sequence[tuple[Product, int]] | None = None, *, actor: Actor = TEST_ACTOR, **fields: Any
) -> Order:
    """Create an order through `create_order` (pending payment, complete address).

    `lines` are (product, quantity) pairs; by default one new product with 100 units in stock, 2 ordered.
    The warehouse defaults to the one holding the first line's stock.
    """
    if lines is None:
        lines = [(stocked_product(), 2)]
    if "warehouse" not in fields and not getattr(fields.get("channel"), "default_warehouse_id", None):
        level = StockLevel.objects.filter(product=lines[0][0]).order_by("pk").first()
        fields["warehouse"] = level.warehouse if level else None
    data = services.OrderInput(
        lines=[services.LineInput(sku=product.sku, quantity=quantity) for product, quantity in lines],
        **{**ADDRESS, **fields},
    )
    return services.create_order(data, actor=actor)


def pay_in_full(order: Order, *, actor: Actor = TEST_ACTOR) -> Order:
    """Record a payment of whatever is outstanding."""
    order.refresh_from_db()
    if order.outstanding_amount > 0:
        services.record_payment(
            order, amount=order.outstanding_amount, method=PaymentMethod.ALIPAY, actor=actor
        )
    order.refresh_from_db()
    return order


def refund_in_full(order: Order, *, actor: Actor = TEST_ACTOR) -> Order:
    """Refund everything that was paid and not yet refunded."""
    order.refresh_from_db()
    amount = order.paid_amount - order.refunded_amount
    if amount > 0:
        services.record_payment(
            order, amount=amount, method=PaymentMethod.ALIPAY, kind=PaymentKind.REFUND, actor=actor
        )
    order.refresh_from_db()
    return order


_PATH: dict[str, str] = {
    S.PENDING_REVIEW: S.PENDING_PAYMENT,
    S.AWAITING_SHIPMENT: S.PENDING_REVIEW,
    S.PARTIALLY_SHIPPED: S.AWAITING_SHIPMENT,
    S.SHIPPED: S.AWAITING_SHIPMENT,
    S.DELIVERED: S.SHIPPED,
    S.COMPLETED: S.DELIVERED,
}
"""The status each step of the happy path starts from."""


def order_in_status(
    status: str,
    *,
    from_status: str | None = None,
    hold_kind: str = HoldKind.REVIEW,
    actor: Actor = TEST_ACTOR,
    lines: Sequence[tuple[Product, int]] | None = None,
    **fields: Any,
) -> Order:
    """An order driven through the services to `status`.

    Happy path: create → record_payment → confirm → ship (partially: one unit of the first line) →
    deliver → complete. ON_HOLD, CANCELLED and CLOSED start from `from_status` (defaults: pending review,
    pending review, pending payment); closing a paid order refunds it first. Extra keyword arguments go
    to OrderInput (channel, order_type, external_id, ...).
    """
    if status in (S.ON_HOLD, S.CANCELLED, S.CLOSED):
        default = S.PENDING_PAYMENT if status == S.CLOSED else S.PENDING_REVIEW
        order = order_in_status(from_status or default, actor=actor, lines=lines, **fields)
        if status == S.ON_HOLD:
            services.hold_order(order, kind=hold_kind, reason="held for tests", actor=actor)
        elif status == S.CANCELLED:
            services.cancel_order(order, reason="cancelled for tests", actor=actor)
        else:
            refund_in_full(order, actor=actor)
            services.close_order(order, reason="closed for tests", actor=actor)
    elif status == S.PENDING_PAYMENT:
        order = make_order(lines, actor=actor, **fields)
    else:
        order = order_in_status(_PATH[status], actor=actor, lines=lines, **fields)
        if status == S.PENDING_REVIEW:
            pay_in_full(order, actor=actor)
        elif status == S.AWAITING_SHIPMENT:
            services.confirm_order(order, actor=actor)
        elif status == S.PARTIALLY_SHIPPED:
            first = order.lines.order_by("pk").first()
            assert first.quantity > 1, "a partial shipment needs a line of at least 2 units"
            services.ship_order(
                order, carrier="SF", tracking_number="SF-PART", quantities={first.pk: 1}, actor=actor
            )
        elif status == S.SHIPPED:
            services.ship_order(order, carrier="SF", tracking_number="SF-ALL", actor=actor)
        elif status == S.DELIVERED:
            services.mark_delivered(order, actor=actor)
        elif status == S.COMPLETED:
            services.complete_order(order, actor=actor)
    order.refresh_from_db()
    assert order.status == status, f"expected {status}, reached {order.status}"
    return order


def ensure_roles() -> None:
    """Make sure the role groups of migration orders/0002 exist (a transactional test's flush removes them)."""
    from orders.roles import ROLES, sync_roles

    if (
        Group.objects.filter(name__in=list(ROLES)).count() < len(ROLES)
        or not Group.objects.filter(name="clerk", permissions__codename="review_order").exists()
    ):
        sync_roles()
