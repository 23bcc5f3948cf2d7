"""Bulk actions of the order list. Each calls a service per order and reports, per order, what
succeeded and what was refused and why (the OMSError message). No action writes a status itself.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from oms.actors import Actor
from oms.errors import OMSError
from orders import services
from orders.choices import HoldKind, OrderStatus
from orders.exporting import export_orders
from orders.forms import CancelForm, HoldForm, TagForm, WarehouseForm
from orders.models import Order

BULK_LIMIT = 500
"""Most orders one bulk action handles; larger selections are refused (filter first)."""

EXPORT_LIMIT = 50_000
"""Most orders one Excel export holds (bigger exports belong to the reports' background exports)."""

PRIMARY_ACTIONS = (
    "approve_orders",
    "finance_approve",
    "mark_shipped",
    "print_packing_slips",
    "hold_orders",
    "export_xlsx",
)
"""Actions shown as buttons above the list (all actions stay in the dropdown)."""


@dataclass
class Outcome:
    """What a bulk action did: orders it changed and orders it refused with the reason."""

    done: list[Order] = field(default_factory=list)
    skipped: list[tuple[Order, str]] = field(default_factory=list)
    refused: list[tuple[Order, str]] = field(default_factory=list)


def order_link(order: Order) -> str:
    """An HTML link to the order's page."""
    return format_html(
        '<a class="underline" href="{}">{}</a>',
        reverse("admin:orders_order_change", args=[order.pk]),
        order.number,
    )


def report_outcome(request: HttpRequest, outcome: Outcome, done_message: str) -> None:
    """Flash one message for the orders changed, one listing refused orders with their reasons."""
    if outcome.done:
        messages.success(
            request,
            format_html(
                "{} {}",
                done_message % {"count": len(outcome.done)},
                format_html_join(", ", "{}", ((order_link(o),) for o in outcome.done)),
            ),
        )
    if outcome.skipped:
        messages.info(
            request,
            format_html(
                "{}<ul class='list-disc ms-5'>{}</ul>",
                ngettext(
                    "%(count)d order needed no change:",
                    "%(count)d orders needed no change:",
                    len(outcome.skipped),
                )
                % {"count": len(outcome.skipped)},
                format_html_join("", "<li>{}: {}</li>", ((order_link(o), why) for o, why in outcome.skipped)),
            ),
        )
    if outcome.refused:
        messages.error(
            request,
            format_html(
                "{}<ul class='list-disc ms-5'>{}</ul>",
                ngettext(
                    "%(count)d order was refused:", "%(count)d orders were refused:", len(outcome.refused)
                )
                % {"count": len(outcome.refused)},
                format_html_join("", "<li>{}: {}</li>", ((order_link(o), why) for o, why in outcome.refused)),
            ),
        )
    if not (outcome.done or outcome.skipped or outcome.refused):
        messages.warning(request, _("No orders were selected."))


def run_per_order(orders, verb: Callable[[Order], object]) -> Outcome:
    """Call `verb` on each order (each in its own transaction); OMSError refusals are collected, not raised.

    `verb` may return False to say the order needed no change (reported as skipped).
    """
    outcome = Outcome()
    for order in orders:
        try:
            result = verb(order)
        except OMSError as error:
            outcome.refused.append((order, error.message))
        else:
            if result is False:
                outcome.skipped.append((order, _("already so")))
            else:
                outcome.done.append(order)
    return outcome


def selected_orders(modeladmin, request: HttpRequest, queryset) -> list[Order] | None:
    """The selection in pk order, or None (with a message) when it is larger than BULK_LIMIT."""
    orders = list(queryset.order_by("pk")[: BULK_LIMIT + 1])
    if len(orders) > BULK_LIMIT:
        modeladmin.message_user(
            request,
            _("Select at most %(limit)d orders for this action (filter the list first).")
            % {"limit": BULK_LIMIT},
            messages.ERROR,
        )
        return None
    return orders


def intermediate_form(
    modeladmin, request, queryset, form_class, *, title: str, action: str, submit: str, **kw
):
    """The usual two-step action: show `form_class` for the selection; on 'apply' return the valid form.

    Returns (form, None) when the form was submitted and is valid, else (None, response to show).
    """
    orders = selected_orders(modeladmin, request, queryset)
    if orders is None:
        return None, None
    form = form_class(request.POST if "apply" in request.POST else None, **kw)
    if "apply" in request.POST and form.is_valid():
        return form, orders
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "orders": orders,
        "form": form,
        "action": action,
        "submit": submit,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return None, TemplateResponse(request, "admin/orders/order/action_form.html", context)


def _with_ids(url_name: str, orders, **params) -> str:
    query = urlencode({"ids": ",".join(str(o.pk) for o in orders), **params})
    return f"{reverse(url_name)}?{query}"


class OrderActionsMixin:
    """The bulk actions of OrderAdmin (mixed into it)."""

    actions = [
        "approve_orders",
        "finance_approve",
        "hold_orders",
        "release_holds",
        "cancel_orders",
        "assign_warehouse",
        "add_tag",
        "remove_tag",
        "mark_shipped",
        "print_packing_slips",
        "print_shipping_labels",
        "export_xlsx",
    ]

    # permission hooks used by @admin.action(permissions=[...])
    def has_review_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("orders.review_order")

    def has_finance_review_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("orders.finance_review_order")

    def has_hold_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("orders.hold_order")

    def has_cancel_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("orders.cancel_order")

    def has_ship_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("orders.ship_order")

    @admin.action(description=gettext_lazy("Approve (confirm review)"), permissions=["review"])
    def approve_orders(self, request: HttpRequest, queryset) -> None:
        """Confirm reviewed orders (reserving stock); orders held for review are released and confirmed."""
        orders = selected_orders(self, request, queryset)
        if orders is None:
            return
        actor = Actor.for_user(request.user)

        def approve(order: Order):
            if order.status == OrderStatus.ON_HOLD and order.hold_kind == HoldKind.REVIEW:
                order = services.release_hold(order, actor=actor, note=_("approved in review"))
                if order.status != OrderStatus.PENDING_REVIEW:
                    return order
            return services.confirm_order(order, actor=actor)

        report_outcome(request, run_per_order(orders, approve), _("Approved %(count)d orders:"))

    @admin.action(description=gettext_lazy("Approve finance review"), permissions=["finance_review"])
    def finance_approve(self, request: HttpRequest, queryset) -> None:
        """Release finance holds (the service checks the finance permission again)."""
        orders = selected_orders(self, request, queryset)
        if orders is None:
            return
        actor = Actor.for_user(request.user)

        def approve(order: Order):
            if order.status != OrderStatus.ON_HOLD or order.hold_kind != HoldKind.FINANCE:
                raise OMSError(
                    _("order %(n)s is not in finance review") % {"n": order.number}, code="not_in_finance"
                )
            return services.release_hold(order, actor=actor, note=_("finance approved"))

        report_outcome(request, run_per_order(orders, approve), _("Finance approved %(count)d orders:"))

    @admin.action(description=gettext_lazy("Put on hold…"), permissions=["hold"])
    def hold_orders(self, request: HttpRequest, queryset):
        """Hold the selection with a kind and a reason (asked on an intermediate page)."""
        form, orders = intermediate_form(
            self,
            request,
            queryset,
            HoldForm,
            title=_("Put orders on hold"),
            action="hold_orders",
            submit=_("Hold"),
        )
        if form is None:
            return orders
        actor = Actor.for_user(request.user)
        kind, reason = form.cleaned_data["kind"], form.cleaned_data["reason"]
        outcome = run_per_order(
            orders, lambda o: services.hold_order(o, kind=kind, reason=reason, actor=actor)
        )
        report_outcome(request, outcome, _("Put %(count)d orders on hold:"))
        return None

    @admin.action(description=gettext_lazy("Release hold"), permissions=["hold"])
    def release_holds(self, request: HttpRequest, queryset) -> None:
        """Release held orders back to where they were (finance holds need the finance permission)."""
        orders = selected_orders(self, request, queryset)
        if orders is None:
            return
        actor = Actor.for_user(request.user)
        outcome = run_per_order(orders, lambda o: services.release_hold(o, actor=actor))
        report_outcome(request, outcome, _("Released %(count)d orders:"))

    @admin.action(description=gettext_lazy("Cancel…"), permissions=["cancel"])
    def cancel_orders(self, request: HttpRequest, queryset):
        """Cancel the selection with a reason (asked on an intermediate page)."""
        form, orders = intermediate_form(
            self,
            request,
            queryset,
            CancelForm,
            title=_("Cancel orders"),
            action="cancel_orders",
            submit=_("Cancel orders"),
        )
        if form is None:
            return orders
        actor = Actor.for_user(request.user)
        reason = form.cleaned_data["reason"]
        outcome = run_per_order(orders, lambda o: services.cancel_order(o, reason=reason, actor=actor))
        report_outcome(request, outcome, _("Cancelled %(count)d orders:"))
        return None

    @admin.action(description=gettext_lazy("Assign warehouse…"), permissions=["change"])
    def assign_warehouse(self, request: HttpRequest, queryset):
        """Assign the selection to a warehouse (optionally moving existing reservations)."""
        form, orders = intermediate_form(
            self,
            request,
            queryset,
            WarehouseForm,
            title=_("Assign warehouse"),
            action="assign_warehouse",
            submit=_("Assign"),
        )
        if form is None:
            return orders
        actor = Actor.for_user(request.user)
        warehouse, move = form.cleaned_data["warehouse"], form.cleaned_data["move_reservation"]

        def assign(order: Order):
            if order.warehouse_id == warehouse.pk:
                return False
            return services.assign_warehouse(order, warehouse, actor=actor, move_reservation=move)

        report_outcome(request, run_per_order(orders, assign), _("Assigned %(count)d orders:"))
        return None

    @admin.action(description=gettext_lazy("Add tag…"), permissions=["change"])
    def add_tag(self, request: HttpRequest, queryset):
        """Put one tag on every selected order."""
        form, orders = intermediate_form(
            self, request, queryset, TagForm, title=_("Add a tag"), action="add_tag", submit=_("Add tag")
        )
        if form is None:
            return orders
        actor, tag = Actor.for_user(request.user), form.cleaned_data["tag"]
        report_outcome(
            request,
            run_per_order(orders, lambda o: services.add_tag(o, tag, actor=actor)),
            _("Tagged %(count)d orders:"),
        )
        return None

    @admin.action(description=gettext_lazy("Remove tag…"), permissions=["change"])
    def remove_tag(self, request: HttpRequest, queryset):
        """Take one tag off every selected order."""
        form, orders = intermediate_form(
            self,
            request,
            queryset,
            TagForm,
            title=_("Remove a tag"),
            action="remove_tag",
            submit=_("Remove tag"),
        )
        if form is None:
            return orders
        actor, tag = Actor.for_user(request.user), form.cleaned_data["tag"]
        report_outcome(
            request,
            run_per_order(orders, lambda o: services.remove_tag(o, tag, actor=actor)),
            _("Removed the tag from %(count)d orders:"),
        )
        return None

    @admin.action(description=gettext_lazy("Mark shipped…"), permissions=["ship"])
    def mark_shipped(self, request: HttpRequest, queryset) -> HttpResponse | None:
        """Open the ship page for the selection (one row per order, or a tracking sheet upload)."""
        orders = selected_orders(self, request, queryset)
        if orders is None:
            return None
        return HttpResponseRedirect(_with_ids("admin:orders_order_ship", orders))

    @admin.action(description=gettext_lazy("Print packing slips"), permissions=["ship"])
    def print_packing_slips(self, request: HttpRequest, queryset) -> HttpResponse | None:
        """Open the print page with one packing slip per order."""
        orders = selected_orders(self, request, queryset)
        if orders is None:
            return None
        return HttpResponseRedirect(_with_ids("admin:orders_order_print", orders, kind="packing"))

    @admin.action(description=gettext_lazy("Print shipping labels"), permissions=["ship"])
    def print_shipping_labels(self, request: HttpRequest, queryset) -> HttpResponse | None:
        """Open the print page with one shipping label per order."""
        orders = selected_orders(self, request, queryset)
        if orders is None:
            return None
        return HttpResponseRedirect(_with_ids("admin:orders_order_print", orders, kind="label"))

    @admin.action(description=gettext_lazy("Export to Excel"), permissions=["view"])
    def export_xlsx(self, request: HttpRequest, queryset) -> HttpResponse | None:
        """Download the selection as .xlsx (the same exporter as the list's "Export…" page)."""
        if queryset.count() > EXPORT_LIMIT:
            self.message_user(
                request,
                _("Export at most %(limit)d orders at a time (filter the list first).")
                % {"limit": EXPORT_LIMIT},
                messages.ERROR,
            )
            return None
        buffer = io.BytesIO()
        export_orders(queryset.order_by("-placed_at", "-pk"), buffer, fmt="xlsx")
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="orders.xlsx"'
        return response
