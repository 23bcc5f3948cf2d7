"""django-import-export resources: products, customers, stock levels, and orders with their lines.

Products, customers and stock are imported and exported through these (row by row is fine for catalogue
sizes). Orders are *exported* here but imported through the fast path (orders/importing/apply.py:
read_table → build_import_plan → bulk apply); ``OrderResource`` can import too, row by row, which is the
"default configuration" the import benchmark compares against. Stock goes through ``adjust_stock`` so the
database's rules (never below reserved) and the service's checks apply.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources
from import_export.widgets import DecimalWidget, ForeignKeyWidget, Widget

from channels.models import Channel
from oms.actors import Actor
from oms.errors import OMSError
from orders.choices import EventType, OrderStatus
from orders.importing.values import parse_status
from orders.models import Customer, Order, OrderLine, Product, StockLevel, Warehouse
from orders.services.creation import reserve_order_numbers
from orders.services.customers import customer_dedupe_key, normalize_email, normalize_phone
from orders.services.events import record_event
from orders.services.stock import adjust_stock


class StatusWidget(Widget):
    """Order status: Taobao/Tmall labels, English words or our codes in; the code out."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        return parse_status(value) or OrderStatus.PENDING_PAYMENT

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return value or ""


class ProductResource(resources.ModelResource):
    """SKUs by code: created or updated by ``sku``."""

    class Meta:
        model = Product
        import_id_fields = ("sku",)
        fields = ("sku", "name", "barcode", "category", "price", "is_active")
        export_order = fields
        skip_unchanged = True
        report_skipped = False
        use_transactions = True


class CustomerResource(resources.ModelResource):
    """Customers, deduplicated like every other path (phone, else email, else channel buyer id)."""

    channel = fields.Field(
        attribute="channel", column_name="channel", widget=ForeignKeyWidget(Channel, "code")
    )

    class Meta:
        model = Customer
        import_id_fields = ("dedupe_key",)
        fields = ("dedupe_key", "name", "phone", "email", "channel", "channel_buyer_id")
        export_order = ("name", "phone", "email", "channel", "channel_buyer_id", "dedupe_key")
        skip_unchanged = True
        use_transactions = True

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        """A file never carries the dedupe key: add the column (filled per row below)."""
        if "dedupe_key" not in (dataset.headers or []):
            dataset.append_col([""] * len(dataset), header="dedupe_key")

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        """Normalise phone and email and compute the dedupe key the row is matched on."""
        row["phone"] = normalize_phone(row.get("phone"))
        row["email"] = normalize_email(row.get("email"))
        key = customer_dedupe_key(
            phone=row["phone"],
            email=row["email"],
            channel_code=row.get("channel") or "",
            buyer_id=str(row.get("channel_buyer_id") or ""),
        )
        if not key:
            raise ValueError(_("a customer needs a mobile phone, an email or a channel buyer id"))
        row["dedupe_key"] = key


class StockLevelResource(resources.ModelResource):
    """Stock counts per SKU and warehouse; an import sets ``on_hand`` through ``adjust_stock`` (logged, and
    refused below the reserved units)."""

    product = fields.Field(attribute="product", column_name="sku", widget=ForeignKeyWidget(Product, "sku"))
    warehouse = fields.Field(
        attribute="warehouse", column_name="warehouse", widget=ForeignKeyWidget(Warehouse, "code")
    )
    available = fields.Field(attribute="available", column_name="available", readonly=True)

    class Meta:
        model = StockLevel
        import_id_fields = ("product", "warehouse")
        fields = ("product", "warehouse", "on_hand", "reserved", "available")
        export_order = fields
        skip_unchanged = True
        use_transactions = True

    def get_import_fields(self) -> list:
        """Only SKU, warehouse and on-hand are imported; reserved units belong to orders."""
        return [f for f in super().get_import_fields() if f.attribute in ("product", "warehouse", "on_hand")]

    def save_instance(self, instance: StockLevel, is_create: bool, row: Any, **kwargs: Any) -> None:
        """Move stock by the difference through the stock service instead of overwriting the row."""
        if kwargs.get("dry_run"):
            return
        current = (
            StockLevel.objects.filter(product=instance.product, warehouse=instance.warehouse)
            .values_list("on_hand", flat=True)
            .first()
            or 0
        )
        delta = int(instance.on_hand) - current
        if delta:
            user = kwargs.get("user")
            actor = Actor.for_user(user) if user is not None else Actor.system("stock import")
            try:
                level = adjust_stock(
                    sku=instance.product.sku,
                    warehouse_code=instance.warehouse.code,
                    delta=delta,
                    reason=_("stock count import"),
                    actor=actor,
                )
            except OMSError as exc:
                raise ValueError(exc.message)
            instance.pk = level.pk


class OrderResource(resources.ModelResource):
    """Orders with their lines (the ``lines`` column: ``SKU×qty@price; …``), headers the importer knows.

    Import (row by row, one line per row from 商家编码/数量/单价) exists for the benchmark's comparison and
    small hand-made files; the admin and the command use the bulk path instead.
    """

    external_id = fields.Field(attribute="external_id", column_name="订单编号")
    channel = fields.Field(attribute="channel", column_name="渠道", widget=ForeignKeyWidget(Channel, "code"))
    status = fields.Field(attribute="status", column_name="订单状态", widget=StatusWidget())
    placed_at = fields.Field(attribute="placed_at", column_name="下单时间")
    paid_at = fields.Field(attribute="paid_at", column_name="付款时间")
    buyer_name = fields.Field(attribute="buyer_name", column_name="买家姓名")
    buyer_phone = fields.Field(attribute="buyer_phone", column_name="买家手机")
    receiver_name = fields.Field(attribute="receiver_name", column_name="收货人")
    receiver_phone = fields.Field(attribute="receiver_phone", column_name="收货人手机")
    province = fields.Field(attribute="province", column_name="省")
    city = fields.Field(attribute="city", column_name="市")
    district = fields.Field(attribute="district", column_name="区")
    street = fields.Field(attribute="street", column_name="详细地址")
    shipping_fee = fields.Field(attribute="shipping_fee", column_name="运费", widget=DecimalWidget())
    discount = fields.Field(attribute="discount", column_name="优惠", widget=DecimalWidget())
    total = fields.Field(attribute="total", column_name="订单金额", widget=DecimalWidget())
    number = fields.Field(attribute="number", column_name="内部单号", readonly=True)
    lines = fields.Field(column_name="商品明细", readonly=True)

    class Meta:
        model = Order
        import_id_fields = ("channel", "external_id")
        fields = (
            "number",
            "external_id",
            "channel",
            "status",
            "placed_at",
            "paid_at",
            "buyer_name",
            "buyer_phone",
            "receiver_name",
            "receiver_phone",
            "province",
            "city",
            "district",
            "street",
            "shipping_fee",
            "discount",
            "total",
            "lines",
        )
        export_order = fields

    def dehydrate_lines(self, order: Order) -> str:
        """The order's lines as text: ``SKU×qty@unit price`` separated by ``; ``."""
        return "; ".join(f"{ln.sku}×{ln.quantity}@{ln.unit_price}" for ln in order.lines.all())

    def before_save_instance(self, instance: Order, row: Any, **kwargs: Any) -> None:
        """A new order gets its OMS number; the subtotal follows from total, shipping and discount."""
        if timezone.is_naive(instance.placed_at):
            instance.placed_at = timezone.make_aware(instance.placed_at)
        if instance.paid_at and timezone.is_naive(instance.paid_at):
            instance.paid_at = timezone.make_aware(instance.paid_at)
        if not instance.number:
            instance.number = reserve_order_numbers(timezone.localdate(instance.placed_at))[0]
        instance.subtotal = (
            Decimal(instance.total or 0)
            - Decimal(instance.shipping_fee or 0)
            + Decimal(instance.discount or 0)
        )

    def after_save_instance(self, instance: Order, row: Any, **kwargs: Any) -> None:
        """Replace the order's line from the row (商家编码, 商品名称, 数量, 单价) and log the import."""
        if kwargs.get("dry_run"):
            return
        sku = str(row.get("商家编码") or "").strip()
        if sku:
            price = Decimal(str(row.get("单价") or 0)).quantize(Decimal("0.01"))
            quantity = int(row.get("数量") or 1)
            product, _created = Product.objects.get_or_create(
                sku=sku, defaults={"name": str(row.get("商品名称") or sku)[:200], "price": price}
            )
            OrderLine.objects.filter(order=instance).delete()
            OrderLine.objects.create(
                order=instance,
                product=product,
                sku=sku,
                name=product.name,
                quantity=quantity,
                unit_price=price,
                total=price * quantity,
            )
        record_event(instance, type=EventType.IMPORTED, actor=Actor.importer("django-import-export"))
