"""Admin of the order's life after confirmation: invoices, returns, settlement statements, carrier tracking,
and on the order page the related orders (split children, orders shipping with it) plus merge/allocate
actions. Every write calls a service (orders/services/); nothing here saves a status itself.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import ChoicesDropdownFilter

from oms.actors import Actor
from oms.errors import OMSError
from orders.admin.actions import report_outcome, run_per_order, selected_orders
from orders.admin.order import OrderAdmin
from orders.models import (
    Invoice,
    Order,
    ReturnLine,
    ReturnRequest,
    SettlementLine,
    SettlementStatement,
    TrackingEvent,
)
from orders.reconciliation import PARSERS
from orders.services import fulfilment, invoices, reconciliation, returns


class ReadOnlyInline(TabularInline):
    """An inline that only shows rows (they are written by services)."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# ---------------------------------------------------------------------------------------------- order page


class OrderPageInline(ReadOnlyInline):
    """Shown on the order page, left out when the page is posted: a read-only inline has nothing to save,
    and leaving it out keeps the order form's posted data (and the existing clients of it) unchanged."""

    def has_view_permission(self, request, obj=None) -> bool:
        return request.method != "POST" and super().has_view_permission(request, obj)


class InvoiceInline(OrderPageInline):
    model = Invoice
    fields = ("status", "kind", "title", "tax_id", "amount", "number", "requested_at", "issued_at")
    readonly_fields = fields


class ReturnInline(OrderPageInline):
    model = ReturnRequest
    fields = ("status", "reason", "refund_amount", "refunded_amount", "created_at", "received_at")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("returns")


class SplitChildrenInline(OrderPageInline):
    """Orders split off this one (e.g. the presale part waiting for stock)."""

    model = Order
    fk_name = "split_from"
    fields = ("number", "order_type", "status", "warehouse", "total")
    readonly_fields = fields
    verbose_name = gettext_lazy("split-off order")
    verbose_name_plural = gettext_lazy("split-off orders")


class MergedOrdersInline(OrderPageInline):
    """Orders shipping in the same parcel as this one."""

    model = Order
    fk_name = "merged_into"
    fields = ("number", "status", "total")
    readonly_fields = fields
    verbose_name = gettext_lazy("order shipping with this one")
    verbose_name_plural = gettext_lazy("orders shipping with this one")


@admin.action(description=gettext_lazy("Merge into one parcel"), permissions=["ship"])
def merge_selected(modeladmin, request: HttpRequest, queryset) -> None:
    """Merge the selected orders (one buyer, one address, not shipped) so they ship together."""
    orders = selected_orders(modeladmin, request, queryset)
    if orders is None:
        return
    try:
        master = fulfilment.merge_orders(orders, actor=Actor.for_user(request.user))
    except OMSError as error:
        modeladmin.message_user(request, error.message, messages.ERROR)
        return
    modeladmin.message_user(
        request, _("%(n)s orders now ship with %(master)s.") % {"n": len(orders), "master": master.number}
    )


@admin.action(
    description=gettext_lazy("Allocate stock (split what is elsewhere or missing)"), permissions=["review"]
)
def allocate_selected(modeladmin, request: HttpRequest, queryset) -> None:
    """Allocate each order's lines to warehouses; lines held elsewhere or missing are split off."""
    orders = selected_orders(modeladmin, request, queryset)
    if orders is None:
        return
    actor = Actor.for_user(request.user)
    outcome = run_per_order(
        orders, lambda order: len(fulfilment.allocate_order(order, actor=actor)) > 1 or False
    )
    report_outcome(request, outcome, _("Split %(count)d orders by stock:"))


OrderAdmin.inlines = (
    *OrderAdmin.inlines,
    SplitChildrenInline,
    MergedOrdersInline,
    InvoiceInline,
    ReturnInline,
)
OrderAdmin.actions = [*OrderAdmin.actions, merge_selected, allocate_selected]
OrderAdmin.list_filter = (*OrderAdmin.list_filter, ("invoice_status", ChoicesDropdownFilter))


# ---------------------------------------------------------------------------------------------- invoices


class InvoiceForm(forms.ModelForm):
    """Request: order, kind, title, tax id, email, amount (empty: all not yet invoiced). Issue: the number."""

    amount = forms.DecimalField(required=False, max_digits=14, decimal_places=2)

    class Meta:
        model = Invoice
        fields = ("order", "kind", "title", "tax_id", "email", "amount", "number")


@admin.register(Invoice)
class InvoiceAdmin(ModelAdmin):
    """Invoices: request one (add), issue it by typing the tax system's number (change), void (action)."""

    form = InvoiceForm
    list_display = (
        "order",
        "status",
        "kind",
        "title",
        "tax_id",
        "amount",
        "number",
        "requested_at",
        "issued_at",
    )
    list_filter = (("status", ChoicesDropdownFilter), ("kind", ChoicesDropdownFilter))
    search_fields = ("number", "order__number", "title", "tax_id")
    list_select_related = ("order",)
    raw_id_fields = ("order",)
    actions = ["void_selected"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("number",)
        readonly = ["order", "kind", "title", "tax_id", "email", "amount", "status", "void_reason"]
        if obj.status != Invoice.Status.REQUESTED:
            readonly.append("number")
        return readonly

    def save_model(self, request, obj: Invoice, form, change: bool) -> None:
        """Adding requests the invoice, typing a number issues it: both through orders.services.invoices."""
        actor = Actor.for_user(request.user)
        data = form.cleaned_data
        try:
            if not change:
                created = invoices.request_invoice(
                    data["order"],
                    title=data["title"],
                    tax_id=data.get("tax_id", ""),
                    amount=data.get("amount"),
                    kind=data["kind"],
                    email=data.get("email", ""),
                    actor=actor,
                )
                obj.pk = created.pk
            elif "number" in form.changed_data and data.get("number"):
                invoices.issue_invoice(obj.pk, number=data["number"], actor=actor)
        except OMSError as error:
            self.message_user(request, error.message, messages.ERROR)
            if not change:
                raise forms.ValidationError(error.message) from error

    @admin.action(description=gettext_lazy("Void selected invoices"), permissions=["change"])
    def void_selected(self, request: HttpRequest, queryset) -> None:
        actor = Actor.for_user(request.user)
        done = 0
        for invoice in queryset.order_by("pk")[:500]:
            try:
                invoices.void_invoice(
                    invoice, reason=_("voided by %(user)s") % {"user": actor.label}, actor=actor
                )
                done += 1
            except OMSError as error:
                self.message_user(request, f"{invoice}: {error.message}", messages.WARNING)
        self.message_user(request, _("%(n)s invoices voided.") % {"n": done})


# ---------------------------------------------------------------------------------------------- returns


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ("order_line", "quantity", "quantity_received", "disposition")
    readonly_fields = fields
    show_change_link = False


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ModelAdmin):
    """Returns: approve, receive everything back to stock, refund (each through orders.services.returns)."""

    list_display = ("__str__", "order", "status", "reason", "refund_amount", "refunded_amount", "created_at")
    list_filter = (("status", ChoicesDropdownFilter),)
    search_fields = ("order__number", "reason")
    list_select_related = ("order",)
    readonly_fields = (
        "order",
        "status",
        "reason",
        "note",
        "refund_amount",
        "refunded_amount",
        "warehouse",
        "refuse_reason",
        "created_at",
        "decided_at",
        "received_at",
        "refunded_at",
    )
    inlines = (ReturnLineInline,)
    actions = ["approve_selected", "receive_selected", "refund_selected"]

    def has_add_permission(self, request) -> bool:
        return False  # opened from the order (API or service) with its lines

    def _run(self, request, queryset, verb, done_message: str) -> None:
        actor = Actor.for_user(request.user)
        done = 0
        for item in queryset.order_by("pk")[:500]:
            try:
                verb(item, actor=actor)
                done += 1
            except OMSError as error:
                self.message_user(request, f"{item}: {error.message}", messages.WARNING)
        self.message_user(request, done_message % {"n": done})

    @admin.action(description=gettext_lazy("Approve"), permissions=["change"])
    def approve_selected(self, request, queryset) -> None:
        self._run(request, queryset, returns.approve_return, _("%(n)s returns approved."))

    @admin.action(description=gettext_lazy("Goods received (back to stock)"), permissions=["change"])
    def receive_selected(self, request, queryset) -> None:
        self._run(request, queryset, returns.receive_return, _("%(n)s returns received."))

    @admin.action(description=gettext_lazy("Refund"), permissions=["change"])
    def refund_selected(self, request, queryset) -> None:
        self._run(request, queryset, returns.refund_return, _("%(n)s returns refunded."))


# ---------------------------------------------------------------------------------------------- reconciliation


class StatementUploadForm(forms.ModelForm):
    """Upload a bill file; it is parsed here so row errors show on the form before anything is stored."""

    upload = forms.FileField(label=gettext_lazy("bill file (CSV)"))

    class Meta:
        model = SettlementStatement
        fields = ("platform",)

    def clean(self):
        data = super().clean()
        upload = data.get("upload")
        if upload and data.get("platform"):
            data["content"] = upload.read()
            try:
                PARSERS[data["platform"]](data["content"])
            except OMSError as error:
                raise forms.ValidationError(error.message) from error
        return data


class SettlementLineInline(ReadOnlyInline):
    model = SettlementLine
    fields = (
        "row_number",
        "kind",
        "transaction_id",
        "merchant_order_no",
        "amount",
        "fee",
        "match_status",
        "order",
    )
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")


@admin.register(SettlementStatement)
class SettlementStatementAdmin(ModelAdmin):
    """Imported bills with their matching counts; add = upload a file (importing it twice changes nothing)."""

    list_display = (
        "filename",
        "platform",
        "imported_at",
        "lines_total",
        "lines_matched",
        "lines_mismatched",
        "lines_unmatched",
    )
    list_filter = (("platform", ChoicesDropdownFilter),)
    inlines = (SettlementLineInline,)
    actions = ["rematch_selected"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = StatementUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("platform", "filename", "imported_by", "imported_at", "lines_total", "lines_matched")

    def get_inlines(self, request, obj):
        return self.inlines if obj else ()

    def save_model(self, request, obj: SettlementStatement, form, change: bool) -> None:
        if change:
            return
        statement, created = reconciliation.import_statement(
            form.cleaned_data["platform"],
            form.cleaned_data["content"],
            filename=form.cleaned_data["upload"].name,
            actor=Actor.for_user(request.user),
        )
        obj.pk = statement.pk
        if not created:
            self.message_user(
                request, _("This file was already imported; nothing changed."), messages.WARNING
            )

    @admin.action(description=gettext_lazy("Match again"))
    def rematch_selected(self, request, queryset) -> None:
        for statement in queryset:
            reconciliation.rematch_statement(statement)
        self.message_user(request, _("Matched again."))


@admin.register(SettlementLine)
class SettlementLineAdmin(ModelAdmin):
    """Finance's worklist: every statement line, filterable by match outcome."""

    list_display = (
        "transaction_id",
        "platform",
        "kind",
        "merchant_order_no",
        "amount",
        "expected_amount",
        "fee",
        "match_status",
        "order",
        "occurred_at",
    )
    list_filter = (("match_status", ChoicesDropdownFilter), ("platform", ChoicesDropdownFilter), "kind")
    search_fields = ("transaction_id", "merchant_order_no", "refund_no")
    list_select_related = ("order",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# ---------------------------------------------------------------------------------------------- tracking


@admin.register(TrackingEvent)
class TrackingEventAdmin(ModelAdmin):
    """Carrier checkpoints as polled (read-only)."""

    list_display = ("occurred_at", "shipment", "description", "state")
    search_fields = ("shipment__tracking_number", "shipment__order__number")
    list_select_related = ("shipment",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
