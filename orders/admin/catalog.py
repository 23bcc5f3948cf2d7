"""Small admin pages for the reference data around orders: products, warehouses, stock, customers, tags."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from orders.models import Customer, CustomerAddress, Product, StockLevel, Tag, Warehouse


@admin.register(Product)
class ProductAdmin(ModelAdmin):
    """SKUs; the price is editable only with the change permission (warehouse staff have none)."""

    list_display = ("sku", "name", "category", "price", "is_active")
    list_filter = ("is_active", "category")
    search_fields = ("sku", "barcode", "name")
    list_per_page = 50


@admin.register(Warehouse)
class WarehouseAdmin(ModelAdmin):
    """Places stock is kept."""

    list_display = ("code", "name", "province", "city", "is_active")
    search_fields = ("code", "name")


@admin.register(StockLevel)
class StockLevelAdmin(ModelAdmin):
    """Stock per SKU and warehouse. Reserved units are written only by the stock services."""

    list_display = ("product", "warehouse", "on_hand", "reserved", "available_display", "updated_at")
    list_select_related = ("product", "warehouse")
    list_filter = ("warehouse",)
    search_fields = ("product__sku",)
    readonly_fields = ("reserved", "updated_at")
    autocomplete_fields = ("product",)

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(available_units=F("on_hand") - F("reserved"))

    @display(description=_("available"), ordering="available_units")
    def available_display(self, level: StockLevel) -> int:
        return level.available_units


class CustomerAddressInline(TabularInline):
    """Addresses the customer has used, most used first."""

    model = CustomerAddress
    extra = 0
    fields = ("receiver_name", "receiver_phone", "province", "city", "district", "street", "use_count")
    readonly_fields = ("use_count",)


@admin.register(Customer)
class CustomerAdmin(ModelAdmin):
    """Buyers, deduplicated by phone/email/channel id."""

    list_display = ("name", "phone", "email", "channel", "created_at")
    list_select_related = ("channel",)
    search_fields = ("=phone", "name", "=email")
    readonly_fields = ("dedupe_key", "created_at")
    inlines = (CustomerAddressInline,)


@admin.register(Tag)
class TagAdmin(ModelAdmin):
    """Labels put on orders."""

    list_display = ("name", "color")
    search_fields = ("name",)
