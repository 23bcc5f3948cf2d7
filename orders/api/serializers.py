"""REST serializers for the order domain. They validate shape only; services decide and write."""

from __future__ import annotations

from rest_framework import serializers

from orders.choices import ExceptionReason, HoldKind, OrderType, PaymentMethod
from orders.models import (
    Customer,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Product,
    Shipment,
    ShipmentLine,
    StockLevel,
    Warehouse,
)


class OrderLineSerializer(serializers.ModelSerializer):
    """A line as it appears on an order."""

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "sku",
            "name",
            "quantity",
            "unit_price",
            "discount",
            "total",
            "quantity_reserved",
            "quantity_shipped",
        ]


class PaymentSerializer(serializers.ModelSerializer):
    """A payment or refund on an order."""

    class Meta:
        model = Payment
        fields = ["id", "kind", "method", "amount", "currency", "transaction_id", "status", "paid_at"]


class ShipmentLineSerializer(serializers.ModelSerializer):
    """Units of one order line in a shipment."""

    sku = serializers.CharField(source="order_line.sku", read_only=True)

    class Meta:
        model = ShipmentLine
        fields = ["order_line", "sku", "quantity"]


class ShipmentSerializer(serializers.ModelSerializer):
    """A parcel with carrier and tracking number."""

    order = serializers.CharField(source="order.number", read_only=True)
    lines = ShipmentLineSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "id",
            "order",
            "carrier",
            "tracking_number",
            "status",
            "shipped_at",
            "delivered_at",
            "lines",
        ]


class OrderEventSerializer(serializers.ModelSerializer):
    """One timeline entry."""

    class Meta:
        model = OrderEvent
        fields = ["id", "type", "actor_kind", "actor_label", "message", "data", "created_at"]


class OrderSerializer(serializers.ModelSerializer):
    """An order as listed: flat fields, no nested rows."""

    channel = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    warehouse = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    hold_kind = serializers.ChoiceField(choices=HoldKind.choices, allow_blank=True, read_only=True)
    exception_reason = serializers.ChoiceField(
        choices=ExceptionReason.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "channel",
            "external_id",
            "order_type",
            "status",
            "payment_status",
            "fulfillment_status",
            "stock_status",
            "warehouse",
            "currency",
            "subtotal",
            "discount",
            "shipping_fee",
            "tax",
            "total",
            "paid_amount",
            "refunded_amount",
            "buyer_name",
            "buyer_phone",
            "receiver_name",
            "receiver_phone",
            "province",
            "city",
            "district",
            "street",
            "postcode",
            "buyer_note",
            "seller_note",
            "placed_at",
            "paid_at",
            "shipped_at",
            "completed_at",
            "hold_kind",
            "hold_reason",
            "exception_reason",
            "exception_detail",
            "tags",
        ]
        read_only_fields = fields


class OrderDetailSerializer(OrderSerializer):
    """An order with its lines, payments, shipments and timeline."""

    lines = OrderLineSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)
    shipments = ShipmentSerializer(many=True, read_only=True)
    events = OrderEventSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "lines", "payments", "shipments", "events"]
        read_only_fields = fields


class LineInputSerializer(serializers.Serializer):
    """A requested line of a new order."""

    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, min_value=0)
    discount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, min_value=0, default=0
    )


class OrderCreateSerializer(serializers.Serializer):
    """A manual order: lines plus buyer, address and amounts (checked to add up by the service)."""

    channel = serializers.CharField(required=False, allow_blank=True, help_text="channel code")
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    order_type = serializers.ChoiceField(choices=OrderType.choices, default=OrderType.NORMAL)
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3)
    lines = LineInputSerializer(many=True, allow_empty=False)
    discount = serializers.DecimalField(max_digits=14, decimal_places=2, default=0, min_value=0)
    shipping_fee = serializers.DecimalField(max_digits=14, decimal_places=2, default=0, min_value=0)
    tax = serializers.DecimalField(max_digits=14, decimal_places=2, default=0, min_value=0)
    total = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, min_value=0)
    buyer_name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    buyer_phone = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    buyer_email = serializers.EmailField(required=False, allow_blank=True, default="")
    receiver_name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    receiver_phone = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    province = serializers.CharField(required=False, allow_blank=True, max_length=50, default="")
    city = serializers.CharField(required=False, allow_blank=True, max_length=50, default="")
    district = serializers.CharField(required=False, allow_blank=True, max_length=50, default="")
    street = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    postcode = serializers.CharField(required=False, allow_blank=True, max_length=12, default="")
    buyer_note = serializers.CharField(required=False, allow_blank=True, default="")
    seller_note = serializers.CharField(required=False, allow_blank=True, default="")


class HoldSerializer(serializers.Serializer):
    """Why an order is held."""

    kind = serializers.ChoiceField(choices=HoldKind.choices, default=HoldKind.REVIEW)
    reason = serializers.CharField(max_length=200)


class ReasonSerializer(serializers.Serializer):
    """A reason for a cancellation."""

    reason = serializers.CharField(max_length=200)


class NoteSerializer(serializers.Serializer):
    """A free-text note for the timeline (optional on release)."""

    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class ShipLineSerializer(serializers.Serializer):
    """Units of one order line to ship."""

    line = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1)


class ShipSerializer(serializers.Serializer):
    """Carrier and tracking number; optionally a partial shipment by line."""

    carrier = serializers.CharField(max_length=50)
    tracking_number = serializers.CharField(max_length=64)
    lines = ShipLineSerializer(many=True, required=False)


class ShipmentCreateSerializer(ShipSerializer):
    """A new shipment for an order, by order number."""

    order = serializers.CharField(max_length=32)


class ShipmentUpdateSerializer(serializers.Serializer):
    """New logistics details for a shipment."""

    carrier = serializers.CharField(max_length=50, required=False)
    tracking_number = serializers.CharField(max_length=64, required=False)
    status = serializers.ChoiceField(choices=Shipment.Status.choices, required=False)


class PaymentInputSerializer(serializers.Serializer):
    """A payment received for an order."""

    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3, default="")
    transaction_id = serializers.CharField(required=False, allow_blank=True, max_length=128, default="")


class ProductSerializer(serializers.ModelSerializer):
    """A SKU."""

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "barcode", "category", "price", "is_active"]
        extra_kwargs = {"price": {"min_value": 0}, "sku": {"validators": []}}

    def validate_sku(self, value: str) -> str:
        """SKU codes are unique and contain no slash (they appear in URLs)."""
        if "/" in value or not value.strip():
            raise serializers.ValidationError("a SKU code cannot be blank or contain '/'")
        duplicates = Product.objects.filter(sku=value)
        if self.instance is not None:
            duplicates = duplicates.exclude(pk=self.instance.pk)
        if duplicates.exists():
            raise serializers.ValidationError(f"SKU '{value}' already exists", code="unique")
        return value


class StockLevelSerializer(serializers.ModelSerializer):
    """Stock of a SKU in a warehouse."""

    sku = serializers.CharField(source="product.sku", read_only=True)
    warehouse = serializers.CharField(source="warehouse.code", read_only=True)
    available = serializers.IntegerField(read_only=True)

    class Meta:
        model = StockLevel
        fields = ["id", "sku", "warehouse", "on_hand", "reserved", "available", "updated_at"]
        read_only_fields = fields


class StockAdjustSerializer(serializers.Serializer):
    """Receive (+) or write off (−) units, with a reason."""

    sku = serializers.CharField(max_length=64)
    warehouse = serializers.CharField(max_length=50)
    delta = serializers.IntegerField()
    reason = serializers.CharField(max_length=200)


class CustomerSerializer(serializers.ModelSerializer):
    """A deduplicated buyer."""

    email = serializers.CharField(read_only=True, help_text="may be empty")

    class Meta:
        model = Customer
        fields = ["id", "name", "phone", "email", "channel_buyer_id", "created_at"]
        read_only_fields = fields


class WarehouseSerializer(serializers.ModelSerializer):
    """A warehouse."""

    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "province", "city", "is_active"]


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)
