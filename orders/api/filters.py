"""django-filter FilterSets for the API: every filter clerks use in the admin."""

import datetime as dt

import django_filters as filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from orders.choices import ExceptionReason, FulfillmentStatus, HoldKind, OrderStatus, OrderType, PaymentStatus
from orders.models import Order, Product, Shipment, StockLevel


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, normalised to UTC (the database refuses exotic offsets; out-of-range times are invalid)."""

    def to_python(self, value):
        """Parse, then convert to UTC, refusing times that cannot be represented."""
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("time out of range", code="invalid")


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    """IsoDateTimeFilter with UTC-normalised values."""

    field_class = UtcIsoDateTimeField


class OrderFilterSet(filters.FilterSet):
    """Filters of the order list."""

    status = filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    payment_status = filters.MultipleChoiceFilter(choices=PaymentStatus.choices)
    fulfillment_status = filters.MultipleChoiceFilter(choices=FulfillmentStatus.choices)
    order_type = filters.ChoiceFilter(choices=OrderType.choices)
    exception_reason = filters.ChoiceFilter(choices=ExceptionReason.choices)
    has_exception = filters.BooleanFilter(method="filter_has_exception")
    hold_kind = filters.ChoiceFilter(choices=HoldKind.choices)
    channel = filters.CharFilter(field_name="channel__code")
    warehouse = filters.CharFilter(field_name="warehouse__code")
    tag = filters.CharFilter(field_name="tags__name")
    number = filters.CharFilter()
    external_id = filters.CharFilter()
    phone = filters.CharFilter(method="filter_phone")
    tracking_number = filters.CharFilter(field_name="shipments__tracking_number")
    has_tracking = filters.BooleanFilter(method="filter_has_tracking")
    placed_after = IsoDateTimeFilter(field_name="placed_at", lookup_expr="gte")
    placed_before = IsoDateTimeFilter(field_name="placed_at", lookup_expr="lt")
    paid_after = IsoDateTimeFilter(field_name="paid_at", lookup_expr="gte")
    paid_before = IsoDateTimeFilter(field_name="paid_at", lookup_expr="lt")
    shipped_after = IsoDateTimeFilter(field_name="shipped_at", lookup_expr="gte")
    shipped_before = IsoDateTimeFilter(field_name="shipped_at", lookup_expr="lt")
    updated_after = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_has_exception(self, queryset, name, value):
        """Orders with (or without) an exception."""
        return queryset.exclude(exception_reason="") if value else queryset.filter(exception_reason="")

    def filter_phone(self, queryset, name, value):
        """Buyer or receiver phone; four digits match the phone's last four."""
        value = value.strip()
        if len(value) == 4 and value.isdigit():
            return queryset.filter(Q(buyer_phone__endswith=value) | Q(receiver_phone__endswith=value))
        return queryset.filter(Q(buyer_phone=value) | Q(receiver_phone=value))

    def filter_has_tracking(self, queryset, name, value):
        """Orders with (or without) a shipment."""
        return queryset.filter(shipments__isnull=not value).distinct()


class ProductFilterSet(filters.FilterSet):
    """Filters of the product list."""

    sku = filters.CharFilter()
    category = filters.CharFilter()
    barcode = filters.CharFilter()

    class Meta:
        model = Product
        fields = ["is_active"]


class StockLevelFilterSet(filters.FilterSet):
    """Filters of stock levels."""

    sku = filters.CharFilter(field_name="product__sku")
    warehouse = filters.CharFilter(field_name="warehouse__code")

    class Meta:
        model = StockLevel
        fields: list[str] = []


class ShipmentFilterSet(filters.FilterSet):
    """Filters of shipments."""

    order = filters.CharFilter(field_name="order__number")
    tracking_number = filters.CharFilter()
    carrier = filters.CharFilter()
    status = filters.ChoiceFilter(choices=Shipment.Status.choices)

    class Meta:
        model = Shipment
        fields: list[str] = []
