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
    InspectionStatus,
    InvoiceStatus,
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
    phone = models.CharField(_("mobile phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    channel = models.ForeignKey(
        "channels.Channel", verbose_name=_("first channel"), on_delete=models.SET_NULL, null=True, blank=True
    )
    channel_buyer_id = models.CharField(_("channel buyer id"), max_length=128, blank=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        # Declared here rather than with unique=True / db_index=True, which on PostgreSQL add a second,
        # pattern-ops index per column for LIKE queries nothing runs: every new buyer would write two more.
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="customer_dedupe_key_unique")]
        indexes = [models.Index(fields=["phone"], name="customer_phone")]

    def __str__(self) -> str:
        return self.name or self.phone or self.email or self.channel_buyer_id


class CustomerAddress(models.Model):
    """A shipping address a customer has used, ranked by use for autofill on manual orders."""

    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="addresses",
        db_index=False,  # customer_address_unique leads with it
    )
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
        "channels.Channel",
        verbose_name=_("channel"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,  # order_channel_placed leads with it
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
        db_index=False,  # order_customer_placed leads with it
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
        _("exception"), max_length=30, choices=ExceptionReason.choices, blank=True
    )
    exception_detail = models.CharField(_("exception detail"), max_length=300, blank=True)
    exception_at = models.DateTimeField(_("exception since"), null=True, blank=True)

    # Fulfilment relations and derived money states (orders/services/fulfilment.py, invoices.py, special.py).
    split_from = models.ForeignKey(
        "self",
        verbose_name=_("split from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="split_children",
        editable=False,
        db_index=False,  # partial index order_split_from: almost every order has none
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("ships with"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_orders",
        editable=False,
        db_index=False,  # partial index order_merged_into
    )
    invoice_status = models.CharField(
        _("invoice status"),
        max_length=20,
        choices=InvoiceStatus.choices,
        default=InvoiceStatus.NONE,
        editable=False,
    )
    trade_in_inspection = models.CharField(
        _("trade-in inspection"),
        max_length=20,
        choices=InspectionStatus.choices,
        blank=True,
        editable=False,
    )

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
            models.Index(fields=["status", "channel"], name="order_status_channel"),
            models.Index(fields=["channel", "-placed_at"], name="order_channel_placed"),
            models.Index(fields=["-placed_at", "-id"], name="order_placed"),
            models.Index(fields=["buyer_phone"], name="order_buyer_phone"),
            models.Index(fields=["receiver_phone"], name="order_receiver_phone"),
            models.Index(fields=["external_id"], name="order_external_id"),
            models.Index(fields=["payment_status", "-placed_at"], name="order_payment_placed"),
            models.Index(fields=["fulfillment_status", "-placed_at"], name="order_fulfil_placed"),
            models.Index(fields=["customer", "-placed_at"], name="order_customer_placed"),
            models.Index(fields=["-paid_at"], name="order_paid"),
            models.Index(fields=["-shipped_at"], name="order_shipped"),
            # Columns that are empty on almost every order: partial indexes hold only the others, so the
            # bulk paths (sync, import) don't pay for an index entry per order.
            models.Index(
                fields=["exception_reason"], name="order_exception_reason", condition=~Q(exception_reason="")
            ),
            models.Index(
                fields=["invoice_status"],
                name="order_invoice_status",
                condition=~Q(invoice_status=InvoiceStatus.NONE),
            ),
            models.Index(
                fields=["split_from"], name="order_split_from", condition=Q(split_from__isnull=False)
            ),
            models.Index(
                fields=["merged_into"], name="order_merged_into", condition=Q(merged_into__isnull=False)
            ),
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
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # order_line_product (product, order) leads with it
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

    # order_event_order_time (order, -created_at) leads with the order; events by users are indexed partially.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(_("type"), max_length=30, choices=EventType.choices)
    actor_kind = models.CharField(_("actor kind"), max_length=20, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
    )
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    message = models.TextField(_("message"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    # Found by time through order_event_type_time (migration 0006) or order_event_order_time: no index of its own.
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    objects = OrderEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["order", "-created_at"], name="order_event_order_time"),
            # Channel and system events (most of them) have no user: only users' events need finding by user.
            models.Index(
                fields=["actor_user"], name="order_event_actor_user", condition=Q(actor_user__isnull=False)
            ),
        ]

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
    transaction_id = models.CharField(_("transaction id"), max_length=128, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SUCCEEDED)
    paid_at = models.DateTimeField(_("time"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["paid_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]
        # Looked up by exact id only: a plain index, without the pattern-ops twin db_index=True adds.
        indexes = [models.Index(fields=["transaction_id"], name="payment_transaction")]

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


# --- spreadsheet import and export (orders/importing/, orders/exporting.py) ---


class ImportProfile(models.Model):
    """A manager's saved spreadsheet layout: column → field, date order, defaults, sheet and encoding.

    Converted to the pure ``ImportProfileSpec`` (``to_spec``) so the parsing layer never touches the ORM.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    column_mapping = models.JSONField(
        _("column mapping"),
        default=dict,
        blank=True,
        help_text=_('Column header → field, e.g. {"单号": "external_order_id", "备注2": "ignore"}.'),
    )
    day_first = models.BooleanField(
        _("day first"), default=False, help_text=_("Read 03/04/2024 as 3 April (else March 4).")
    )
    default_channel = models.ForeignKey(
        "channels.Channel",
        verbose_name=_("default channel"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Used for rows without a channel column."),
    )
    default_status = models.CharField(
        _("default status"),
        max_length=20,
        blank=True,
        choices=[(value, label) for value, label in OrderStatus.choices if value != OrderStatus.ON_HOLD],
        help_text=_("Status of new orders when the file has no status column."),
    )
    sheet_name = models.CharField(_("sheet"), max_length=100, blank=True)
    encoding = models.CharField(
        _("encoding"),
        max_length=20,
        blank=True,
        help_text=_("CSV encoding (e.g. utf-8, gb18030); empty: detected."),
    )
    timezone = models.CharField(
        _("time zone"),
        max_length=50,
        blank=True,
        help_text=_("Of the dates in the file; empty: Asia/Shanghai."),
    )
    create_unknown_skus = models.BooleanField(
        _("create unknown SKUs"),
        default=True,
        help_text=_("Create a product for a SKU the catalogue does not know (else the row is an error)."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("import profile")
        verbose_name_plural = _("import profiles")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse mappings to unknown fields and unknown time zones."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from django.core.exceptions import ValidationError

        from orders.importing.headers import FIELDS
        from orders.importing.profile import IGNORE

        if not isinstance(self.column_mapping, dict):
            raise ValidationError({"column_mapping": _("Enter an object of column header → field.")})
        unknown = sorted({str(v) for v in self.column_mapping.values() if v not in FIELDS and v != IGNORE})
        if unknown:
            raise ValidationError(
                {
                    "column_mapping": _("Unknown fields: %(fields)s. Known: %(known)s, or %(ignore)s.")
                    % {"fields": ", ".join(unknown), "known": ", ".join(FIELDS), "ignore": IGNORE}
                }
            )
        if self.timezone:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValidationError({"timezone": _("Unknown time zone '%(tz)s'.") % {"tz": self.timezone}})

    def to_spec(self):
        """The profile as the parsing layer's ``ImportProfileSpec``."""
        from orders.importing.profile import ImportProfileSpec

        return ImportProfileSpec(
            column_mapping=dict(self.column_mapping or {}),
            day_first=self.day_first,
            default_channel=self.default_channel.code if self.default_channel_id else None,
            default_status=self.default_status or None,
            sheet_name=self.sheet_name or None,
            encoding=self.encoding or None,
            timezone=self.timezone or None,
        )


class ImportJob(models.Model):
    """One uploaded order file: its preview, then its import (inline or in a task) with progress and result."""

    class Status(models.TextChoices):
        ANALYSING = "analysing", _("Analysing")
        PREVIEWED = "previewed", _("Ready to import")
        REFUSED = "refused", _("Refused")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        SUCCEEDED = "succeeded", _("Imported")
        FAILED = "failed", _("Failed")

    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=255)
    profile = models.ForeignKey(
        ImportProfile, verbose_name=_("profile"), on_delete=models.SET_NULL, null=True, blank=True
    )
    channel = models.ForeignKey(
        "channels.Channel",
        verbose_name=_("default channel"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ANALYSING)
    valid_only = models.BooleanField(_("import only the valid rows"), default=False)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    error_workbook = models.FileField(_("error workbook"), upload_to="imports/errors/%Y/%m/", blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "analysing",
                        "previewed",
                        "refused",
                        "queued",
                        "running",
                        "succeeded",
                        "failed",
                    ]
                ),
                name="import_job_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        """True once the import succeeded, failed or was refused."""
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.REFUSED)

    @property
    def percent(self) -> int:
        """Progress of the running step, 0–100."""
        if self.is_finished:
            return 100
        return min(100, int(100 * self.rows_done / self.rows_total)) if self.rows_total else 0

    @property
    def rows_per_second(self) -> float | None:
        """Rows processed per second since the step started."""
        from django.utils import timezone

        if not self.started_at or not self.rows_done:
            return None
        end = self.finished_at or timezone.now()
        seconds = (end - self.started_at).total_seconds()
        return self.rows_done / seconds if seconds > 0 else None

    @property
    def seconds_left(self) -> float | None:
        """Estimated seconds until the running step ends."""
        rate = self.rows_per_second
        if self.is_finished or not rate:
            return None
        return max(0.0, (self.rows_total - self.rows_done) / rate)


class ExportJob(models.Model):
    """A large export written by a task (XlsxWriter constant-memory .xlsx or csv) with its download."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Exporting")
        SUCCEEDED = "succeeded", _("Ready")
        FAILED = "failed", _("Failed")

    model_label = models.CharField(_("list"), max_length=100)
    query = models.CharField(_("filters"), max_length=2000, blank=True)
    ids = models.JSONField(_("selected ids"), null=True, blank=True)
    file_format = models.CharField(_("format"), max_length=4, default="xlsx")
    per_line = models.BooleanField(_("one row per line"), default=False)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    file = models.FileField(_("file"), upload_to="exports/%Y/%m/", blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.model_label} {self.created_at:%Y-%m-%d %H:%M}" if self.created_at else self.model_label


# --- after confirmation: returns, invoices, settlement statements, carrier tracking, special order terms ---
# (services: orders/services/returns.py, invoices.py, reconciliation.py, tracking.py, special.py)


class ReturnRequest(models.Model):
    """A buyer's request to send goods back (and/or be refunded), with its decision, receipt and refund."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")
        RECEIVED = "received", _("Goods received")
        REFUNDED = "refunded", _("Refunded")

    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="returns"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED, editable=False
    )
    reason = models.CharField(_("reason"), max_length=300)
    note = models.TextField(_("note"), blank=True)
    refund_amount = models.DecimalField(
        _("refund amount"),
        null=True,
        blank=True,
        help_text=_("Empty: the value of the returned units."),
        **MONEY,
    )
    refunded_amount = models.DecimalField(_("refunded"), default=Decimal("0"), editable=False, **MONEY)
    warehouse = models.ForeignKey(
        Warehouse,
        verbose_name=_("return to warehouse"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    refuse_reason = models.CharField(_("refusal reason"), max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, editable=False)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True, editable=False)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["requested", "approved", "refused", "received", "refunded"]),
                name="return_status_valid",
            ),
            models.CheckConstraint(condition=Q(refunded_amount__gte=0), name="return_refunded_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.order.number} R{self.pk}"


class ReturnLine(models.Model):
    """Units of one order line asked back, how many arrived, and whether they were restocked or written off."""

    class Disposition(models.TextChoices):
        RESTOCK = "restock", _("Back to stock")
        WRITE_OFF = "write_off", _("Written off")

    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        OrderLine, verbose_name=_("line"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    quantity_received = models.PositiveIntegerField(_("received"), default=0)
    disposition = models.CharField(_("disposition"), max_length=20, choices=Disposition.choices, blank=True)

    class Meta:
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")), name="return_line_received_le_qty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_line.sku} × {self.quantity}"


class Invoice(models.Model):
    """A fapiao requested for an order, then issued with its number, or voided; the order's status follows."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ISSUED = "issued", _("Issued")
        VOIDED = "voided", _("Voided")

    class Kind(models.TextChoices):
        NORMAL = "normal", _("General VAT invoice")
        SPECIAL = "special", _("Special VAT invoice")

    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="invoices"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED, editable=False
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.NORMAL)
    title = models.CharField(_("title"), max_length=200)
    tax_id = models.CharField(_("tax id"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    number = models.CharField(_("invoice number"), max_length=40, blank=True)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason = models.CharField(_("void reason"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number"], condition=~Q(number=""), name="invoice_number_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["requested", "issued", "voided"]), name="invoice_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="issued") | ~Q(number=""), name="invoice_issued_has_number"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"{self.order.number} ({self.get_status_display()})"


class SettlementStatement(models.Model):
    """One imported bill file of a payment platform (Alipay 业务明细, WeChat Pay 交易账单)."""

    class Platform(models.TextChoices):
        ALIPAY = "alipay", _("Alipay")
        WECHAT_PAY = "wechat_pay", _("WeChat Pay")

    platform = models.CharField(_("platform"), max_length=20, choices=Platform.choices)
    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("file hash"), max_length=64, editable=False)
    lines_total = models.PositiveIntegerField(_("lines"), default=0)
    lines_matched = models.PositiveIntegerField(_("matched"), default=0)
    lines_unmatched = models.PositiveIntegerField(_("unmatched"), default=0)
    lines_mismatched = models.PositiveIntegerField(_("amount mismatches"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)

    class Meta:
        verbose_name = _("settlement statement")
        verbose_name_plural = _("settlement statements")
        ordering = ["-imported_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["platform", "sha256"], name="statement_file_unique")]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.filename}"


class SettlementLine(models.Model):
    """One money movement of a statement and what it matched in OMS (finance works the non-matched ones)."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment")
        REFUND = "refund", _("Refund")

    class Match(models.TextChoices):
        MATCHED = "matched", _("Matched")
        UNMATCHED = "unmatched", _("Unmatched")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amount mismatch")

    statement = models.ForeignKey(SettlementStatement, on_delete=models.CASCADE, related_name="lines")
    platform = models.CharField(_("platform"), max_length=20, choices=SettlementStatement.Platform.choices)
    line_key = models.CharField(_("line key"), max_length=200, editable=False)
    row_number = models.PositiveIntegerField(_("row"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    transaction_id = models.CharField(_("transaction id"), max_length=128, db_index=True)
    merchant_order_no = models.CharField(
        _("merchant order number"), max_length=128, blank=True, db_index=True
    )
    refund_no = models.CharField(_("refund number"), max_length=128, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    fee = models.DecimalField(_("fee"), default=Decimal("0"), **MONEY)
    occurred_at = models.DateTimeField(_("time"), null=True, blank=True)
    match_status = models.CharField(
        _("match"), max_length=20, choices=Match.choices, default=Match.UNMATCHED, db_index=True
    )
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expected_amount = models.DecimalField(_("amount in OMS"), null=True, blank=True, **MONEY)
    raw = models.JSONField(_("row"), default=dict, blank=True)

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["statement", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "line_key"], name="statement_line_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="statement_line_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.kind} {self.amount}"

    @property
    def difference(self) -> Decimal | None:
        """Statement amount minus the amount OMS recorded (None when unmatched)."""
        return None if self.expected_amount is None else self.amount - self.expected_amount


class ShipmentTracking(models.Model):
    """Polling state of one shipment's carrier tracking (last poll, last carrier state, last error)."""

    shipment = models.OneToOneField(Shipment, on_delete=models.CASCADE, related_name="tracking")
    carrier_state = models.CharField(_("carrier state"), max_length=20, blank=True)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True, db_index=True)
    polls = models.PositiveIntegerField(_("polls"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("shipment tracking")
        verbose_name_plural = _("shipment tracking")

    def __str__(self) -> str:
        return f"{self.shipment} {self.carrier_state}"


class TrackingEvent(models.Model):
    """One checkpoint reported by the carrier (deduplicated per shipment by time and text)."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking_events")
    occurred_at = models.DateTimeField(_("time"))
    description = models.CharField(_("description"), max_length=500)
    state = models.CharField(_("carrier state"), max_length=20, blank=True)
    dedupe_key = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "dedupe_key"], name="tracking_event_unique")
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.description}"


class PaymentDue(models.Model):
    """One instalment of an order's payment schedule (presale deposit and balance, instalments).

    Whether it is paid is derived from the order's net paid amount (dues are settled in sequence).
    """

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("Deposit")
        BALANCE = "balance", _("Balance")
        INSTALLMENT = "installment", _("Instalment")

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="dues")
    sequence = models.PositiveSmallIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    due_at = models.DateTimeField(_("due"))
    overdue_flagged_at = models.DateTimeField(_("flagged overdue"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("payment due")
        verbose_name_plural = _("payment schedule")
        ordering = ["order", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sequence"], name="payment_due_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_due_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} ({self.due_at:%Y-%m-%d})"


class PresaleTerms(models.Model):
    """When a presale ships: the earliest shipping date and the balance due date (amounts: PaymentDue)."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="presale_terms")
    ship_from = models.DateField(_("ships from"), null=True, blank=True)
    balance_due_at = models.DateTimeField(_("balance due"), null=True, blank=True)

    class Meta:
        verbose_name = _("presale terms")
        verbose_name_plural = _("presale terms")

    def __str__(self) -> str:
        return f"{self.order.number} presale"


class TradeIn(models.Model):
    """The buyer's old item taken in part-exchange: its description, assessed value credited, inspection.

    The inspection status itself lives on Order.trade_in_inspection so the shipping guard stays pure.
    """

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="trade_in")
    description = models.CharField(_("old item"), max_length=300)
    assessed_value = models.DecimalField(_("assessed value"), **MONEY)
    credited_amount = models.DecimalField(_("credited"), default=Decimal("0"), editable=False, **MONEY)
    inspection_note = models.CharField(_("inspection note"), max_length=300, blank=True)
    inspected_at = models.DateTimeField(_("inspected at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("trade-in")
        verbose_name_plural = _("trade-ins")
        constraints = [
            models.CheckConstraint(
                condition=Q(assessed_value__gte=0) & Q(credited_amount__gte=0), name="trade_in_amounts_ok"
            )
        ]

    def __str__(self) -> str:
        return f"{self.order.number}: {self.description}"
