"""The order admin: the list clerks work from, and the order page."""

from __future__ import annotations

import re

from django.contrib.admin.views.main import ChangeList
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.functions import Right
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
    MultipleRelatedDropdownFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display

from oms.actors import Actor
from orders import admin_views
from orders.admin.actions import PRIMARY_ACTIONS, OrderActionsMixin
from orders.admin.badges import choice_badge, row_checkbox
from orders.admin.imports import ExportXlsxMixin
from orders.admin.paginator import CappedPaginator
from orders.choices import FulfillmentStatus, OrderStatus, PaymentStatus
from orders.filters import HasExceptionFilter, HasTrackingFilter, LocalDateRangeFilter
from orders.models import Order, OrderLine, Payment, Shipment
from orders.services.assignment import EDITABLE_DETAILS, details_editable, update_order_details

HAS_EXCEPTION = ExpressionWrapper(~Q(exception_reason=""), output_field=BooleanField())
"""True for orders needing attention. The same expression backs the pinned-list index (migration 0002)."""

PHONE_TAIL = Right("buyer_phone", 4)
"""Last four digits of the buyer's phone; an expression index (migration 0002) makes the lookup exact."""

PIN = "-has_exception"

STATUS_COLORS = {
    OrderStatus.PENDING_PAYMENT: "warning",
    OrderStatus.PENDING_REVIEW: "info",
    OrderStatus.AWAITING_SHIPMENT: "primary",
    OrderStatus.PARTIALLY_SHIPPED: "primary",
    OrderStatus.SHIPPED: "success",
    OrderStatus.DELIVERED: "success",
    OrderStatus.COMPLETED: "success",
    OrderStatus.ON_HOLD: "danger",
    OrderStatus.CANCELLED: "default",
    OrderStatus.CLOSED: "default",
}
PAYMENT_COLORS = {
    PaymentStatus.UNPAID: "warning",
    PaymentStatus.PARTIALLY_PAID: "info",
    PaymentStatus.PAID: "success",
    PaymentStatus.PARTIALLY_REFUNDED: "warning",
    PaymentStatus.REFUNDED: "default",
}
FULFILLMENT_COLORS = {
    FulfillmentStatus.UNFULFILLED: "default",
    FulfillmentStatus.PARTIALLY_FULFILLED: "info",
    FulfillmentStatus.FULFILLED: "primary",
    FulfillmentStatus.DELIVERED: "success",
    FulfillmentStatus.RETURNED: "danger",
}

ORDER_NUMBER = re.compile(r"^SO\d{12}$", re.IGNORECASE)
ORDER_NUMBER_PREFIX = re.compile(r"^SO\d{0,11}$", re.IGNORECASE)


class PinnedExceptionsChangeList(ChangeList):
    """A changelist whose first ordering key is always `has_exception`, whatever sort the clerk picked."""

    def get_ordering(self, request: HttpRequest, queryset: QuerySet) -> list:
        ordering = super().get_ordering(request, queryset)
        if not getattr(self.model_admin, "pin_exceptions", True):
            return ordering
        return [PIN, *[key for key in ordering if key not in (PIN, "has_exception")]]


class OrderLineInline(TabularInline):
    """The order's lines, read-only: prices were snapshotted at order time."""

    model = OrderLine
    extra = 0
    can_delete = False
    fields = (
        "sku",
        "name",
        "quantity",
        "unit_price",
        "discount",
        "total",
        "quantity_reserved",
        "quantity_shipped",
    )
    readonly_fields = fields
    verbose_name_plural = _("lines")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PaymentInline(TabularInline):
    """Payments and refunds, read-only (recorded by payment sync or the finance team's services)."""

    model = Payment
    extra = 0
    can_delete = False
    fields = ("kind", "method", "amount", "currency", "status", "transaction_id", "paid_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ShipmentInline(TabularInline):
    """Shipments with carrier and tracking number, read-only (written by ship_order)."""

    model = Shipment
    extra = 0
    can_delete = False
    fields = ("carrier", "tracking_number", "warehouse", "status", "shipped_at", "delivered_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class OrderAdmin(ExportXlsxMixin, OrderActionsMixin, ModelAdmin):
    """Orders: exceptions pinned on top, badges, index-friendly search, bulk actions through the services.

    Benchmarks can compare with Django's defaults by subclassing with `paginator = Paginator`,
    `show_full_result_count = True` and `pin_exceptions = False`.
    """

    pin_exceptions = True
    paginator = CappedPaginator
    show_full_result_count = False
    list_per_page = 50
    list_max_show_all = 500
    list_select_related = ("channel",)
    list_display = (
        "number_display",
        "status_badge",
        "payment_badge",
        "fulfillment_badge",
        "channel",
        "placed_at",
        "buyer_display",
        "receiver_display",
        "total_display",
        "tags_display",
        "hold_display",
    )
    list_display_links = ("number_display",)
    list_filter = (
        HasExceptionFilter,
        ("status", ChoicesDropdownFilter),
        ("payment_status", ChoicesDropdownFilter),
        ("fulfillment_status", ChoicesDropdownFilter),
        ("channel", RelatedDropdownFilter),
        ("order_type", ChoicesDropdownFilter),
        ("exception_reason", ChoicesDropdownFilter),
        ("hold_kind", ChoicesDropdownFilter),
        ("stock_status", ChoicesDropdownFilter),
        ("warehouse", RelatedDropdownFilter),
        ("placed_at", LocalDateRangeFilter),
        ("paid_at", LocalDateRangeFilter),
        ("shipped_at", LocalDateRangeFilter),
        HasTrackingFilter,
        ("tags", MultipleRelatedDropdownFilter),
    )
    list_filter_submit = True
    list_fullwidth = True
    list_sections = ()  # unfold reads it three times per row; a missing attribute costs a dir() each time
    search_fields = ("number",)  # shows the box; get_search_results does the real work
    search_help_text = _(
        "Order number (or its start), external order id, tracking number, phone (or its last 4 digits), "
        "receiver name"
    )
    list_before_template = "admin/orders/order/list_before.html"
    change_form_outer_before_template = "admin/orders/order/change_form_before.html"
    change_form_outer_after_template = "admin/orders/order/change_form_after.html"
    actions_list = ["manual_entry_link", "upload_tracking_link", "import_orders_link", "export_list_action"]
    export_selection_actions = False  # the selection exports through OrderActionsMixin.export_xlsx
    inlines = (OrderLineInline, PaymentInline, ShipmentInline)
    readonly_fields = (
        "number",
        "channel",
        "external_id",
        "order_type",
        "status",
        "held_from_status",
        "payment_status",
        "fulfillment_status",
        "stock_status",
        "customer",
        "warehouse",
        "tags_display",
        "currency",
        "subtotal",
        "discount",
        "shipping_fee",
        "tax",
        "total",
        "paid_amount",
        "refunded_amount",
        "buyer_note",
        "placed_at",
        "paid_at",
        "shipped_at",
        "delivered_at",
        "completed_at",
        "cancelled_at",
        "cancel_reason",
        "hold_kind",
        "hold_reason",
        "held_at",
        "exception_reason",
        "exception_detail",
        "exception_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            _("Order"),
            {
                "fields": (
                    ("number", "channel", "external_id", "order_type"),
                    ("status", "payment_status", "fulfillment_status", "stock_status"),
                    ("warehouse", "customer", "tags_display"),
                    ("hold_kind", "hold_reason", "held_at", "held_from_status"),
                    ("exception_reason", "exception_detail", "exception_at"),
                    ("cancel_reason",),
                )
            },
        ),
        (
            _("Buyer and shipping address"),
            {
                "fields": (
                    ("buyer_name", "buyer_phone", "buyer_email"),
                    ("receiver_name", "receiver_phone"),
                    ("province", "city", "district"),
                    ("street", "postcode"),
                )
            },
        ),
        (_("Notes"), {"fields": ("buyer_note", "seller_note")}),
        (
            _("Amounts"),
            {
                "fields": (
                    ("currency", "subtotal", "discount", "shipping_fee", "tax"),
                    ("total", "paid_amount", "refunded_amount"),
                )
            },
        ),
        (
            _("Dates"),
            {
                "classes": ("collapse",),
                "fields": (
                    ("placed_at", "paid_at", "shipped_at"),
                    ("delivered_at", "completed_at", "cancelled_at"),
                    ("created_at", "updated_at"),
                ),
            },
        ),
    )

    class Media:
        css = {"all": ("oms/css/admin.css",)}

    # ------------------------------------------------------------------ list
    def get_changelist(self, request: HttpRequest, **kwargs):
        return PinnedExceptionsChangeList

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Orders annotated with `has_exception` (the pinned first ordering key), tags prefetched."""
        return super().get_queryset(request).annotate(has_exception=HAS_EXCEPTION).prefetch_related("tags")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """Exact or prefix lookups on indexed columns, chosen by what the term looks like."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if ORDER_NUMBER.match(term):
            return queryset.filter(number=term.upper()), False
        if ORDER_NUMBER_PREFIX.match(term) and len(term) > 2:
            return queryset.filter(number__startswith=term.upper()), False
        # Ids first, not a subquery: inside the OR a subquery makes PostgreSQL scan the whole table.
        tracked = list(Shipment.objects.filter(tracking_number=term).values_list("order_id", flat=True)[:100])
        digits = re.sub(r"[\s\-+]", "", term)
        if digits.isdigit() and len(digits) == 4:
            return queryset.alias(phone_tail=PHONE_TAIL).filter(phone_tail=digits), False
        condition = Q(external_id=term) | Q(pk__in=tracked) | Q(number=term.upper())
        if digits.isdigit():
            from orders.services.customers import normalize_phone

            phone = normalize_phone(digits)
            condition |= Q(buyer_phone=phone) | Q(receiver_phone=phone)
        else:
            condition |= Q(receiver_name__startswith=term)
        return queryset.filter(condition), False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        """Add the primary action buttons (those this user may run) to the list page."""
        available = self.get_actions(request)
        buttons = [(name, available[name][2]) for name in PRIMARY_ACTIONS if name in available]
        return super().changelist_view(request, {**(extra_context or {}), "oms_action_buttons": buttons})

    @display(description=_("order number"), ordering="number")
    def number_display(self, order: Order):
        """The number; on exception orders a red marker with the reason (the row turns red)."""
        if order.exception_reason:
            return format_html(
                '<span class="oms-exception" title="{}">{}<br>'
                '<span class="oms-exception-reason">⚠ {}</span></span>',
                order.exception_detail,
                order.number,
                order.get_exception_reason_display(),
            )
        return order.number

    @display(description=ModelAdmin.action_checkbox.short_description)
    def action_checkbox(self, order: Order):
        """The row's checkbox, without a template render per row."""
        return row_checkbox(order.pk)

    @display(description=_("status"), ordering="status")
    def status_badge(self, order: Order):
        return choice_badge(order.status, OrderStatus, STATUS_COLORS)

    @display(description=_("payment"), ordering="payment_status")
    def payment_badge(self, order: Order):
        return choice_badge(order.payment_status, PaymentStatus, PAYMENT_COLORS)

    @display(description=_("fulfilment"), ordering="fulfillment_status")
    def fulfillment_badge(self, order: Order):
        return choice_badge(order.fulfillment_status, FulfillmentStatus, FULFILLMENT_COLORS)

    @display(description=_("buyer"), ordering="buyer_name")
    def buyer_display(self, order: Order):
        return format_html(
            "{}<br><span class='text-xs text-base-500'>{}</span>", order.buyer_name, order.buyer_phone
        )

    @display(description=_("receiver"), ordering="receiver_name")
    def receiver_display(self, order: Order):
        return format_html(
            "{}<br><span class='text-xs text-base-500'>{}{}</span>",
            order.receiver_name,
            order.province,
            order.city,
        )

    @display(description=_("total"), ordering="total", formatting="price")
    def total_display(self, order: Order):
        return f"{order.total} {order.currency}"

    @display(description=_("tags"))
    def tags_display(self, order: Order):
        tags = list(order.tags.all())
        if not tags:
            return "—"
        return format_html_join(
            " ", '<span class="oms-tag oms-tag-{}">{}</span>', ((t.color, t.name) for t in tags)
        )

    @display(description=_("hold"), ordering="hold_kind")
    def hold_display(self, order: Order):
        if not order.hold_kind:
            return "—"
        return format_html(
            '<span class="oms-hold">{}</span><br><span class="text-xs">{}</span>',
            order.get_hold_kind_display(),
            order.hold_reason,
        )

    # ------------------------------------------------------------------ unfold list buttons (no selection)
    @action(
        description=_("New phone / offline order"),
        icon="add_call",
        url_path="manual-entry-link",
        permissions=["add"],
    )
    def manual_entry_link(self, request: HttpRequest):
        return HttpResponseRedirect(reverse("admin:orders_order_manual"))

    @action(
        description=_("Ship by tracking sheet"),
        icon="upload_file",
        url_path="upload-tracking-link",
        permissions=["ship"],
    )
    def upload_tracking_link(self, request: HttpRequest):
        return HttpResponseRedirect(reverse("admin:orders_order_ship") + "?upload=1")

    @action(
        description=_("Import orders from a spreadsheet"),
        icon="upload",
        url_path="import-orders-link",
        permissions=["import"],
    )
    def import_orders_link(self, request: HttpRequest):
        return HttpResponseRedirect(reverse("admin:orders_importjob_add"))

    def has_import_permission(self, request: HttpRequest) -> bool:
        """Importing orders is a manager's job (permission to add import jobs)."""
        return request.user.has_perm("orders.add_importjob")

    # ------------------------------------------------------------------ order page
    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not details_editable(obj):
            readonly += [name for name in EDITABLE_DETAILS if name not in readonly]
        return readonly

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        """Orders are cancelled or closed, never deleted from the admin."""
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """New orders are entered on the manual entry page (through create_order)."""
        return HttpResponseRedirect(reverse("admin:orders_order_manual"))

    def save_model(self, request: HttpRequest, obj: Order, form, change: bool) -> None:
        """Corrections go through update_order_details (one UPDATED event), never a bare save()."""
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_DETAILS}
        if changes:
            update_order_details(obj.pk, actor=Actor.for_user(request.user), **changes)

    def save_related(self, request, form, formsets, change) -> None:
        """Inlines are read-only and tags are not on the form, so this saves nothing by itself."""
        super().save_related(request, form, formsets, change)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra = admin_views.order_page_context(self, request, object_id)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def get_urls(self):
        site = self.admin_site
        wrap = site.admin_view
        custom = [
            path("manual/", wrap(admin_views.manual_entry_view(self)), name="orders_order_manual"),
            path(
                "manual/customer/",
                wrap(admin_views.customer_lookup(self)),
                name="orders_order_customer_lookup",
            ),
            path("manual/sku/", wrap(admin_views.sku_lookup(self)), name="orders_order_sku_lookup"),
            path("ship/", wrap(admin_views.ship_view(self)), name="orders_order_ship"),
            path("print/", wrap(admin_views.print_view(self)), name="orders_order_print"),
            path("<path:object_id>/note/", wrap(admin_views.note_view(self)), name="orders_order_note"),
            path(
                "<path:object_id>/transition/",
                wrap(admin_views.transition_view(self)),
                name="orders_order_transition",
            ),
            path(
                "<path:object_id>/resolve/", wrap(admin_views.resolve_view(self)), name="orders_order_resolve"
            ),
        ]
        return custom + super().get_urls()
