"""The order domain: customers, products and stock, orders with lines, payments, shipments and a timeline.

Models guard their own invariants (constraints, derived properties); every write that is a business action
goes through orders/services/, never through a model's save() or a signal.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from oms.actors import ActorKind
from orders.choices import (
    EventType,
    ExceptionReason,
    FulfillmentStatus,
    HoldKind,
    OrderStatus,
    OrderType,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
    StockStatus,
)

MONEY = {"max_digits": 14, "decimal_places": 2}


class Customer(models.Model):
    """A buyer, deduplicated across channels by normalized mobile phone, else email, else channel buyer id."""

    name = models.CharField(_("name"), max_length=200, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=32, blank=True, db_index=True)
    email = models.EmailField(_("email"), blank=True)
    channel = models.ForeignKey(
        "channels.Channel", verbose_name=_("first channel"), on_delete=models.SET_NULL, null=True, blank=True
    )
    channel_buyer_id = models.CharField(_("channel buyer id"), max_length=128, blank=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.name or self.phone or self.email or self.channel_buyer_id


class CustomerAddress(models.Model):
    """A shipping address a customer has used, ranked by use for autofill on manual orders."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    receiver_name = models.CharField(_("receiver"), max_length=100)
    receiver_phone = models.CharField(_("receiver phone"), max_length=32, blank=True)
    province = models.CharField(_("province"), max_length=50)
    city = models.CharField(_("city"), max_length=50, blank=True)
    district = models.CharField(_("district"), max_length=50, blank=True)
    street = models.CharField(_("street address"), max_length=300)
    postcode = models.CharField(_("postcode"), max_length=12, blank=True)
    use_count = models.PositiveIntegerField(_("times used"), default=0)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer address")
        verbose_name_plural = _("customer addresses")
        ordering = ["-use_count", "-last_used_at"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "customer",
                    "receiver_name",
                    "receiver_phone",
                    "province",
                    "city",
                    "district",
                    "street",
                ],
                name="customer_address_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.receiver_name} {self.province}{self.city}{self.district}{self.street}"


class Product(models.Model):
    """A sellable SKU with its unique code, barcode and list price."""

    sku = models.CharField(_("SKU code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    barcode = models.CharField(_("barcode"), max_length=64, blank=True, db_index=True)
    category = models.CharField(_("category"), max_length=100, blank=True, db_index=True)
    price = models.DecimalField(_("price"), **MONEY)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Warehouse(models.Model):
    """A place stock is kept and orders ship from."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class StockLevel(models.Model):
    """Stock of one SKU in one warehouse. The database refuses negatives and reserved > on hand."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="stock_level_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku}@{self.warehouse.code}"

    @property
    def available(self) -> int:
        """Units that can still be reserved."""
        return self.on_hand - self.reserved


class Tag(models.Model):
    """A free label clerks and rules put on orders (e.g. VIP, gift, fragile)."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(_("colour"), max_length=20, default="gray")

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrderNumberSequence(models.Model):
    """Per-day counter behind internal order numbers (SO + YYMMDD + six-digit sequence)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("order number sequence")
        verbose_name_plural = _("order number sequences")

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class Order(models.Model):
    """One customer order from any channel, with its lifecycle, payment and fulfilment status kept apart."""

    number = models.CharField(_("order number"), max_length=32, unique=True)
    channel = models.ForeignKey(
        "channels.Channel", verbose_name=_("channel"), on_delete=models.PROTECT, null=True, blank=True
    )
    external_id = models.CharField(_("external order id"), max_length=64, blank=True)
    order_type = models.CharField(
        _("order type"), max_length=20, choices=OrderType.choices, default=OrderType.NORMAL
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=OrderStatus.choices,
        default=OrderStatus.PENDING_PAYMENT,
        editable=False,
    )
    held_from_status = models.CharField(
        _("status before hold"), max_length=20, choices=OrderStatus.choices, blank=True, editable=False
    )
    payment_status = models.CharField(
        _("payment status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    fulfillment_status = models.CharField(
        _("fulfilment status"),
        max_length=20,
        choices=FulfillmentStatus.choices,
        default=FulfillmentStatus.UNFULFILLED,
    )
    stock_status = models.CharField(
        _("stock status"), max_length=20, choices=StockStatus.choices, default=StockStatus.NONE
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
    )
    warehouse = models.ForeignKey(
        Warehouse,
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="orders")

    currency = models.CharField(_("currency"), max_length=3, default=settings.OMS_CURRENCY)
    subtotal = models.DecimalField(_("subtotal"), default=Decimal("0"), **MONEY)
    discount = models.DecimalField(_("discount"), default=Decimal("0"), **MONEY)
    shipping_fee = models.DecimalField(_("shipping"), default=Decimal("0"), **MONEY)
    tax = models.DecimalField(_("tax"), default=Decimal("0"), **MONEY)
    total = models.DecimalField(_("total"), default=Decimal("0"), **MONEY)
    paid_amount = models.DecimalField(_("paid"), default=Decimal("0"), **MONEY)
    refunded_amount = models.DecimalField(_("refunded"), default=Decimal("0"), **MONEY)

    buyer_name = models.CharField(_("buyer"), max_length=100, blank=True)
    buyer_phone = models.CharField(_("buyer phone"), max_length=32, blank=True)
    buyer_email = models.EmailField(_("buyer email"), blank=True)
    receiver_name = models.CharField(_("receiver"), max_length=100, blank=True)
    receiver_phone = models.CharField(_("receiver phone"), max_length=32, blank=True)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    district = models.CharField(_("district"), max_length=50, blank=True)
    street = models.CharField(_("street address"), max_length=300, blank=True)
    postcode = models.CharField(_("postcode"), max_length=12, blank=True)

    buyer_note = models.TextField(_("buyer note"), blank=True)
    seller_note = models.TextField(_("seller note"), blank=True)

    placed_at = models.DateTimeField(_("placed at"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancel reason"), max_length=200, blank=True)

    hold_kind = models.CharField(_("hold kind"), max_length=20, choices=HoldKind.choices, blank=True)
    hold_reason = models.CharField(_("hold reason"), max_length=200, blank=True)
    held_at = models.DateTimeField(_("held at"), null=True, blank=True)

    exception_reason = models.CharField(
        _("exception"), max_length=30, choices=ExceptionReason.choices, blank=True, db_index=True
    )
    exception_detail = models.CharField(_("exception detail"), max_length=300, blank=True)
    exception_at = models.DateTimeField(_("exception since"), null=True, blank=True)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="order_channel_external_id_unique",
            ),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
            models.CheckConstraint(
                condition=Q(payment_status__in=PaymentStatus.values), name="order_payment_valid"
            ),
            models.CheckConstraint(
                condition=Q(fulfillment_status__in=FulfillmentStatus.values), name="order_fulfillment_valid"
            ),
            models.CheckConstraint(condition=Q(order_type__in=OrderType.values), name="order_type_valid"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0)
                & Q(discount__gte=0)
                & Q(shipping_fee__gte=0)
                & Q(tax__gte=0)
                & Q(total__gte=0)
                & Q(paid_amount__gte=0)
                & Q(refunded_amount__gte=0),
                name="order_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.ON_HOLD) | ~Q(hold_kind=""), name="order_hold_has_kind"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-placed_at"], name="order_status_placed"),
            models.Index(fields=["channel", "-placed_at"], name="order_channel_placed"),
            models.Index(fields=["-placed_at", "-id"], name="order_placed"),
            models.Index(fields=["buyer_phone"], name="order_buyer_phone"),
            models.Index(fields=["receiver_phone"], name="order_receiver_phone"),
            models.Index(fields=["external_id"], name="order_external_id"),
            models.Index(fields=["receiver_name"], name="order_receiver_name"),
            models.Index(fields=["payment_status", "-placed_at"], name="order_payment_placed"),
            models.Index(fields=["fulfillment_status", "-placed_at"], name="order_fulfil_placed"),
            models.Index(fields=["customer", "-placed_at"], name="order_customer_placed"),
            models.Index(fields=["-paid_at"], name="order_paid"),
            models.Index(fields=["-shipped_at"], name="order_shipped"),
        ]
        permissions = [
            ("review_order", _("Can confirm and approve orders for review")),
            ("finance_review_order", _("Can approve finance review")),
            ("hold_order", _("Can hold and release orders")),
            ("ship_order", _("Can ship orders and print labels")),
            ("cancel_order", _("Can cancel orders")),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_held(self) -> bool:
        """True while the order is on hold."""
        return self.status == OrderStatus.ON_HOLD

    @property
    def address_is_complete(self) -> bool:
        """Whether the shipping snapshot has what a courier needs."""
        return all([self.receiver_name, self.receiver_phone, self.province, self.city, self.street])

    @property
    def full_address(self) -> str:
        """The shipping address as one line."""
        return f"{self.province}{self.city}{self.district}{self.street}"

    @property
    def outstanding_amount(self) -> Decimal:
        """What the buyer still owes."""
        return (
            max(self.total - self.paid_amount + self.refunded_amount, Decimal("0"))
            if self.total
            else Decimal("0")
        )


class OrderLine(models.Model):
    """One SKU on an order, with name and price snapshotted at order time."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    sku = models.CharField(_("SKU code"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    discount = models.DecimalField(_("discount"), default=Decimal("0"), **MONEY)
    total = models.DecimalField(_("line total"), **MONEY)
    quantity_reserved = models.PositiveIntegerField(_("reserved"), default=0)
    quantity_shipped = models.PositiveIntegerField(_("shipped"), default=0)
    external_line_id = models.CharField(_("external line id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_reserved__lte=F("quantity")), name="order_line_reserved_le_qty"
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity")), name="order_line_shipped_le_qty"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(total__gte=0), name="order_line_amounts_ok"
            ),
        ]
        indexes = [models.Index(fields=["product", "order"], name="order_line_product")]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"


class OrderEventQuerySet(models.QuerySet):
    """Events are append-only: bulk updates and deletes are refused too (they still go with their order)."""

    def update(self, **kwargs):
        """Refused: an event is never rewritten."""
        raise ValueError("Order events are append-only.")

    def delete(self):
        """Refused: events go only with their order."""
        raise ValueError("Order events are append-only.")


class OrderEvent(models.Model):
    """One entry of an order's append-only timeline: what happened, who caused it, and the details."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(_("type"), max_length=30, choices=EventType.choices)
    actor_kind = models.CharField(_("actor kind"), max_length=20, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    message = models.TextField(_("message"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    objects = OrderEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["order", "-created_at"], name="order_event_order_time")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.type}"

    def save(self, *args, **kwargs) -> None:
        """Events are append-only: an existing event is never rewritten."""
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Order events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        """Events are append-only: they go only with their order."""
        raise ValueError("Order events are append-only.")


class Payment(models.Model):
    """Money received for an order (or refunded); the order's payment status follows from these."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    kind = models.CharField(
        _("kind"), max_length=10, choices=PaymentKind.choices, default=PaymentKind.PAYMENT
    )
    method = models.CharField(_("method"), max_length=20, choices=PaymentMethod.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default=settings.OMS_CURRENCY)
    transaction_id = models.CharField(_("transaction id"), max_length=128, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SUCCEEDED)
    paid_at = models.DateTimeField(_("time"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["paid_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"


class Shipment(models.Model):
    """A parcel leaving a warehouse with some of an order's lines, carrier and tracking number."""

    class Status(models.TextChoices):
        SHIPPED = "shipped", _("Shipped")
        IN_TRANSIT = "in_transit", _("In transit")
        DELIVERED = "delivered", _("Delivered")
        RETURNED = "returned", _("Returned")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    carrier = models.CharField(_("carrier"), max_length=50)
    tracking_number = models.CharField(_("tracking number"), max_length=64, db_index=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.SHIPPED)
    shipped_at = models.DateTimeField(_("shipped at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["shipped_at"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"


class ShipmentLine(models.Model):
    """How many units of one order line a shipment carries."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="shipment_lines")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("shipment line")
        verbose_name_plural = _("shipment lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipment_line_quantity_positive")
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"
