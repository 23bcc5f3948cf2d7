"""Extra admin pages of the order admin: the order page's panels and buttons, the ship page, the print
page, manual order entry and its small JSON endpoints. Every write calls a service in orders.services.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from oms.actors import Actor
from oms.errors import OMSError
from orders import services, state
from orders.admin.actions import report_outcome, run_per_order
from orders.admin.barcode import code128_svg
from orders.choices import HoldKind, OrderStatus
from orders.forms import (
    CARRIERS,
    ManualLineFormSet,
    ManualOrderForm,
    QuickNoteForm,
    ResolveExceptionForm,
    ShipBatchForm,
    TrackingUploadForm,
    TransitionForm,
)
from orders.models import Customer, Order, Product, StockLevel
from orders.resolutions import suggest_resolutions

S = OrderStatus
MAX_IDS = 500
TIMELINE_LIMIT = 200


# ---------------------------------------------------------------------------------------------- helpers
def _ids(request: HttpRequest) -> list[int]:
    """The order ids passed as ?ids=1,2,3 (or in the POST), at most MAX_IDS."""
    raw = request.POST.get("ids") or request.GET.get("ids") or ""
    ids = []
    for part in raw.split(","):
        part = part.strip()
        if part.isdigit():
            ids.append(int(part))
    return list(dict.fromkeys(ids))[:MAX_IDS]


def _orders_by_ids(ids: list[int]) -> list[Order]:
    """The orders with these ids, in the order given."""
    found = {o.pk: o for o in Order.objects.filter(pk__in=ids).select_related("channel", "warehouse")}
    return [found[pk] for pk in ids if pk in found]


def _require(request: HttpRequest, *perms: str) -> None:
    """403 unless the user holds every permission."""
    if not all(request.user.has_perm(perm) for perm in perms):
        raise PermissionDenied


def can_note(user) -> bool:
    """Clerks, warehouse staff and finance may add notes to orders they can see."""
    return user.has_perm("orders.view_order") and any(
        user.has_perm(p) for p in ("orders.change_order", "orders.ship_order", "orders.finance_review_order")
    )


def _change_url(order_pk: int) -> str:
    return reverse("admin:orders_order_change", args=[order_pk])


# ---------------------------------------------------------------------------------------------- order page
@dataclass(frozen=True)
class TransitionButton:
    """A button on the order page for a move that is legal now and allowed for this user."""

    target: str
    label: str
    permission: str
    needs_reason: bool = False
    needs_kind: bool = False
    variant: str = "primary"
    link: str = ""


def _button_for(order: Order, target: str) -> TransitionButton | None:
    """How the move to `target` is offered on the page (None: not offered as a button)."""
    if order.status == S.ON_HOLD and target != S.CANCELLED:
        if order.hold_kind == HoldKind.FINANCE:
            return TransitionButton(target, _("Approve finance review"), "orders.finance_review_order")
        return TransitionButton(target, _("Release hold"), "orders.hold_order")
    if target == S.AWAITING_SHIPMENT:
        return TransitionButton(target, _("Approve"), "orders.review_order")
    if target == S.PENDING_REVIEW:
        return TransitionButton(target, _("Send to review"), "orders.review_order")
    if target == S.ON_HOLD:
        return TransitionButton(target, _("Put on hold"), "orders.hold_order", True, True, "default")
    if target == S.CANCELLED:
        return TransitionButton(target, _("Cancel order"), "orders.cancel_order", True, variant="danger")
    if target == S.SHIPPED:
        link = reverse("admin:orders_order_ship") + f"?ids={order.pk}"
        return TransitionButton(target, _("Ship…"), "orders.ship_order", link=link)
    if target == S.PARTIALLY_SHIPPED:
        return None  # partial shipments are made from the ship page via the SHIPPED button
    if target == S.DELIVERED:
        return TransitionButton(target, _("Mark delivered"), "orders.change_order")
    if target == S.COMPLETED:
        return TransitionButton(target, _("Complete"), "orders.change_order")
    if target == S.CLOSED:
        return TransitionButton(target, _("Close"), "orders.change_order", True, variant="danger")
    return None


def transition_buttons(order: Order, user) -> list[TransitionButton]:
    """Buttons for exactly the moves legal now (state.legal_targets) that `user` may make."""
    buttons = []
    for target in sorted(state.legal_targets(order), key=list(S.values).index):
        button = _button_for(order, target)
        if button is not None and user.has_perm(button.permission):
            buttons.append(button)
    return buttons


def perform_transition(order: Order, target: str, *, actor: Actor, reason: str = "", kind: str = "") -> Order:
    """Call the service verb that makes the move to `target` (raising OMSError when it is refused)."""
    if order.status == S.ON_HOLD and target != S.CANCELLED:
        return services.release_hold(order, actor=actor)
    verbs: dict[str, Callable[[], Order]] = {
        S.AWAITING_SHIPMENT: lambda: services.confirm_order(order, actor=actor),
        S.PENDING_REVIEW: lambda: services.transition_order(order, S.PENDING_REVIEW, actor=actor),
        S.ON_HOLD: lambda: services.hold_order(
            order, kind=kind or HoldKind.OTHER, reason=reason, actor=actor
        ),
        S.CANCELLED: lambda: services.cancel_order(order, reason=reason, actor=actor),
        S.DELIVERED: lambda: services.mark_delivered(order, actor=actor),
        S.COMPLETED: lambda: services.complete_order(order, actor=actor),
        S.CLOSED: lambda: services.close_order(order, reason=reason, actor=actor),
    }
    if target not in verbs:
        raise OMSError(_("this move is made on its own page"), code="not_a_button")
    return verbs[target]()


def order_page_context(model_admin, request: HttpRequest, object_id: str) -> dict:
    """Timeline, quick note, legal buttons, exception help and the channel payload for the order page."""
    order = model_admin.get_object(request, object_id)
    if order is None:
        return {}
    events = list(order.events.select_related("actor_user").order_by("-created_at", "-id")[:TIMELINE_LIMIT])
    context = {
        "oms_order": order,
        "oms_events": events,
        "oms_can_note": can_note(request.user),
        "oms_note_form": QuickNoteForm(),
        "oms_buttons": transition_buttons(order, request.user),
        "oms_hold_kinds": HoldKind.choices,
    }
    if order.exception_reason:
        context["oms_suggestions"] = suggest_resolutions(order)
        context["oms_can_resolve"] = request.user.has_perm("orders.change_order")
        initial = {"resolution": request.GET.get("resolution", "")}
        context["oms_resolve_form"] = ResolveExceptionForm(initial=initial)
    channel_order = getattr(order, "channel_order", None)
    if channel_order is not None:
        payload = getattr(channel_order, "payload", None) or getattr(channel_order, "raw", None)
        context["oms_channel_payload"] = json.dumps(payload, ensure_ascii=False, indent=2, default=str)
    return context


def _get_order_or_404(model_admin, request: HttpRequest, object_id: str) -> Order:
    order = model_admin.get_object(request, object_id)
    if order is None or not model_admin.has_view_permission(request, order):
        raise Http404
    return order


def note_view(model_admin):
    """POST one line of text → add_note, back to the order page."""

    @require_POST
    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        order = _get_order_or_404(model_admin, request, object_id)
        if not can_note(request.user):
            raise PermissionDenied
        form = QuickNoteForm(request.POST)
        if form.is_valid():
            try:
                services.add_note(order, text=form.cleaned_data["text"], actor=Actor.for_user(request.user))
            except OMSError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("Note added."))
        else:
            messages.error(request, _("The note is empty."))
        return HttpResponseRedirect(_change_url(order.pk))

    return view


def transition_view(model_admin):
    """POST a target status from one of the order page's buttons → the matching service verb."""

    @require_POST
    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        order = _get_order_or_404(model_admin, request, object_id)
        form = TransitionForm(request.POST)
        if not form.is_valid():
            raise PermissionDenied
        target = form.cleaned_data["target"]
        if target not in S.values:
            raise PermissionDenied
        if target not in state.legal_targets(order):
            refusal = state.check_transition(order, target)
            messages.error(request, refusal.message if refusal else _("This move is not possible now."))
            return HttpResponseRedirect(_change_url(order.pk))
        button = _button_for(order, target)
        if button is None or not request.user.has_perm(button.permission):
            raise PermissionDenied
        if button.link:
            return HttpResponseRedirect(button.link)
        try:
            perform_transition(
                order,
                target,
                actor=Actor.for_user(request.user),
                reason=form.cleaned_data["reason"],
                kind=form.cleaned_data["kind"],
            )
        except OMSError as error:
            messages.error(request, error.message)
        else:
            order.refresh_from_db()
            messages.success(
                request,
                _("%(action)s: order %(number)s is now %(status)s.")
                % {"action": button.label, "number": order.number, "status": order.get_status_display()},
            )
        return HttpResponseRedirect(_change_url(order.pk))

    return view


def resolve_view(model_admin):
    """POST how an exception was resolved → resolve_exception (history for the suggestions)."""

    @require_POST
    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        order = _get_order_or_404(model_admin, request, object_id)
        _require(request, "orders.change_order")
        form = ResolveExceptionForm(request.POST)
        if form.is_valid():
            try:
                services.resolve_exception(
                    order,
                    resolution=form.cleaned_data["resolution"],
                    note=form.cleaned_data["note"],
                    actor=Actor.for_user(request.user),
                )
            except OMSError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("Exception resolved."))
        else:
            messages.error(request, _("Choose how the exception was resolved."))
        return HttpResponseRedirect(_change_url(order.pk))

    return view


# ---------------------------------------------------------------------------------------------- ship page
def parse_tracking_sheet(upload) -> tuple[list[tuple[int, str, str]], list[str]]:
    """Read (row number, order number, tracking number) from an .xlsx or .csv upload; errors by row."""
    name = (upload.name or "").lower()
    rows: list[list[object]] = []
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(upload, read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds of errors for a broken file
            return [], [_("the file is not a readable .xlsx workbook")]
        rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    else:
        raw = upload.read()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            return [], [_("the file is neither UTF-8 nor GB18030 text")]
        rows = list(csv.reader(io.StringIO(text)))

    def cell(value: object) -> str:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip() if value is not None else ""

    entries, errors = [], []
    for number, row in enumerate(rows, start=1):
        values = [cell(v) for v in (row or [])][:2] + ["", ""]
        order_number, tracking = values[0], values[1]
        if not order_number and not tracking:
            continue
        if number == 1 and not order_number.upper().startswith("SO"):
            continue  # a header row
        if not order_number or not tracking:
            errors.append(_("row %(row)d: needs an order number and a tracking number") % {"row": number})
            continue
        entries.append((number, order_number.upper(), tracking))
    return entries, errors


def ship_view(model_admin):
    """The ship page: carrier + tracking number per selected order, or a two-column sheet upload."""

    def view(request: HttpRequest) -> HttpResponse:
        _require(request, "orders.view_order", "orders.ship_order")
        actor = Actor.for_user(request.user)
        changelist = reverse("admin:orders_order_changelist")
        orders = _orders_by_ids(_ids(request))
        upload_form = TrackingUploadForm()
        row_errors: dict[int, str] = {}
        sheet_errors: list[str] = []
        form = ShipBatchForm(orders=orders)
        if request.method == "POST" and "upload" in request.POST:
            upload_form = TrackingUploadForm(request.POST, request.FILES)
            if upload_form.is_valid():
                entries, sheet_errors = parse_tracking_sheet(upload_form.cleaned_data["file"])
                carrier = upload_form.cleaned_data["carrier"]
                by_number = {
                    o.number: o for o in Order.objects.filter(number__in=[n for _r, n, _t in entries])
                }
                shippable = []
                for row, number, tracking in entries:
                    order = by_number.get(number)
                    if order is None:
                        sheet_errors.append(
                            _("row %(row)d: no order %(number)s") % {"row": row, "number": number}
                        )
                    else:
                        shippable.append((order, tracking))
                trackings = {o.pk: t for o, t in shippable}
                outcome = run_per_order(
                    [o for o, _t in shippable],
                    lambda o: services.ship_order(
                        o, carrier=carrier, tracking_number=trackings[o.pk], actor=actor
                    ),
                )
                report_outcome(request, outcome, _("Shipped %(count)d orders:"))
                if not sheet_errors:
                    return HttpResponseRedirect(changelist)
        elif request.method == "POST":
            form = ShipBatchForm(request.POST, orders=orders)
            if form.is_valid():
                entries = form.entries()
                missing = [o for o in orders if o.pk not in {e[0].pk for e in entries}]
                for order, carrier, tracking in entries:
                    try:
                        services.ship_order(order, carrier=carrier, tracking_number=tracking, actor=actor)
                    except OMSError as error:
                        row_errors[order.pk] = error.message
                shipped = [order for order, _c, _t in entries if order.pk not in row_errors]
                if shipped:
                    messages.success(
                        request,
                        _("Shipped %(count)d orders: %(numbers)s")
                        % {"count": len(shipped), "numbers": ", ".join(o.number for o in shipped)},
                    )
                remaining = [o for o in orders if o.pk in row_errors or o in missing]
                if not remaining:
                    return HttpResponseRedirect(changelist)
                for order in missing:
                    row_errors.setdefault(order.pk, _("enter a tracking number"))
                if row_errors and not shipped:
                    messages.error(request, _("No order was shipped; see the errors next to each row."))
                data = request.POST.copy()
                data["ids"] = ",".join(str(o.pk) for o in remaining)
                orders = _orders_by_ids([o.pk for o in remaining])
                form = ShipBatchForm(data, orders=orders)
                form.is_valid()
        rows = [
            (order, carrier, tracking, row_errors.get(order.pk, ""))
            for order, carrier, tracking in form.rows()
        ]
        context = {
            **model_admin.admin_site.each_context(request),
            "title": _("Mark orders shipped"),
            "opts": Order._meta,
            "form": form,
            "rows": rows,
            "ids": ",".join(str(o.pk) for o in orders),
            "upload_form": upload_form,
            "sheet_errors": sheet_errors,
            "carriers": CARRIERS,
            "show_upload": bool(request.GET.get("upload")) or not orders or bool(sheet_errors),
        }
        return TemplateResponse(request, "admin/orders/order/ship.html", context)

    return view


# ---------------------------------------------------------------------------------------------- print page
PRINT_KINDS = {"packing": gettext_lazy("Packing slips"), "label": gettext_lazy("Shipping labels")}


def print_view(model_admin):
    """A print-ready page: one packing slip or shipping label per order per sheet, with a Code 128 barcode."""

    def view(request: HttpRequest) -> HttpResponse:
        _require(request, "orders.view_order", "orders.ship_order")
        kind = request.GET.get("kind", "packing")
        if kind not in PRINT_KINDS:
            raise Http404
        orders = _orders_by_ids(_ids(request))
        for order in orders:
            order.barcode_svg = code128_svg(order.number)
            order.print_lines = list(order.lines.order_by("pk"))
            order.last_shipment = order.shipments.order_by("-shipped_at").first()
        context = {
            "orders": orders,
            "kind": kind,
            "title": PRINT_KINDS[kind],
            "site_header": model_admin.admin_site.site_header,
        }
        return TemplateResponse(request, "admin/orders/order/print.html", context)

    return view


# ---------------------------------------------------------------------------------------------- manual entry
def _place_error(form: ManualOrderForm, formset, line_rows: list[int], error: OMSError) -> None:
    """Show a service error next to its field: 'lines[2].sku' → the second filled line's SKU box."""
    message = f"{error.message} ({error.code})"
    field = error.field or ""
    if field.startswith("lines[") and "]" in field:
        index = int(field[6 : field.index("]")]) - 1
        name = field.split(".", 1)[1] if "." in field else None
        if 0 <= index < len(line_rows):
            line_form = formset.forms[line_rows[index]]
            line_form.add_error(name if name in line_form.fields else None, message)
            return
    if field == "lines":
        formset.forms[0].add_error(None, message) if formset.forms else form.add_error(None, message)
        return
    mapped = {"total": None, "currency": "channel", "paid_amount": "payment_amount"}.get(field, field)
    form.add_error(mapped if mapped in form.fields else None, message)


def manual_entry_view(model_admin):
    """Phone and offline orders: customer by phone with their usual address, SKU lines, create_order."""

    def view(request: HttpRequest) -> HttpResponse:
        _require(request, "orders.add_order")
        form = ManualOrderForm(request.POST or None)
        formset = ManualLineFormSet(request.POST or None, prefix="lines")
        if request.method == "POST" and form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            lines, line_rows = [], []
            for row, line in enumerate(formset.cleaned_data):
                if line.get("sku"):
                    lines.append(
                        services.LineInput(
                            sku=line["sku"].strip(),
                            quantity=line.get("quantity") or 1,
                            unit_price=line.get("unit_price"),
                            discount=line.get("discount") or Decimal("0"),
                        )
                    )
                    line_rows.append(row)
            order_input = services.OrderInput(
                lines=lines,
                channel=data["channel"],
                order_type=data["order_type"],
                buyer_name=data["buyer_name"] or data["receiver_name"],
                buyer_phone=data["buyer_phone"],
                buyer_email=data["buyer_email"],
                receiver_name=data["receiver_name"],
                receiver_phone=data["receiver_phone"],
                province=data["province"],
                city=data["city"],
                district=data["district"],
                street=data["street"],
                postcode=data["postcode"],
                warehouse=data["warehouse"],
                shipping_fee=data["shipping_fee"],
                discount=data["discount"],
                buyer_note=data["buyer_note"],
                seller_note=data["seller_note"],
                extra={"source": "manual"},
            )
            actor = Actor.for_user(request.user)
            try:
                order = services.create_order(order_input, actor=actor)
            except OMSError as error:
                _place_error(form, formset, line_rows, error)
            else:
                if data.get("payment_method"):
                    try:
                        services.record_payment(
                            order, amount=data["payment_amount"], method=data["payment_method"], actor=actor
                        )
                    except OMSError as error:
                        messages.warning(
                            request, _("Order created, but the payment was refused: %s") % error.message
                        )
                messages.success(request, _("Order %(number)s created.") % {"number": order.number})
                return HttpResponseRedirect(_change_url(order.pk))
        context = {
            **model_admin.admin_site.each_context(request),
            "title": _("New phone / offline order"),
            "opts": Order._meta,
            "form": form,
            "formset": formset,
            "customer_url": reverse("admin:orders_order_customer_lookup"),
            "sku_url": reverse("admin:orders_order_sku_lookup"),
        }
        return TemplateResponse(request, "admin/orders/order/manual_entry.html", context)

    return view


def customer_lookup(model_admin):
    """JSON: the customer with this phone and their addresses, most used first (for autofill)."""

    def view(request: HttpRequest) -> JsonResponse:
        _require(request, "orders.add_order")
        phone = services.normalize_phone(request.GET.get("phone", ""))
        customer = Customer.objects.filter(phone=phone).first() if len(phone) >= 7 else None
        if customer is None:
            return JsonResponse({"found": False, "phone": phone})
        addresses = [
            {
                "receiver_name": a.receiver_name,
                "receiver_phone": a.receiver_phone,
                "province": a.province,
                "city": a.city,
                "district": a.district,
                "street": a.street,
                "postcode": a.postcode,
                "use_count": a.use_count,
                "label": str(a),
            }
            for a in customer.addresses.order_by("-use_count", "-last_used_at")[:5]
        ]
        return JsonResponse(
            {
                "found": True,
                "phone": phone,
                "customer": {"id": customer.pk, "name": customer.name, "email": customer.email},
                "orders": customer.orders.count(),
                "addresses": addresses,
            }
        )

    return view


def sku_lookup(model_admin):
    """JSON: active SKUs starting with ?q= (or named in it), with price and available stock."""

    def view(request: HttpRequest) -> JsonResponse:
        _require(request, "orders.add_order")
        term = request.GET.get("q", "").strip()
        if not term:
            return JsonResponse({"results": []})
        products = list(
            Product.objects.filter(is_active=True)
            .filter(Q(sku__istartswith=term) | Q(barcode=term) | Q(name__icontains=term))
            .order_by("sku")[:15]
        )
        levels = StockLevel.objects.filter(product__in=products, warehouse__is_active=True)
        warehouse = request.GET.get("warehouse", "")
        if warehouse.isdigit():
            levels = levels.filter(warehouse_id=int(warehouse))
        available = dict(
            levels.values("product_id")
            .annotate(units=Sum(F("on_hand") - F("reserved")))
            .values_list("product_id", "units")
        )
        results = [
            {"sku": p.sku, "name": p.name, "price": str(p.price), "available": int(available.get(p.pk) or 0)}
            for p in products
        ]
        return JsonResponse({"results": results})

    return view


__all__ = [
    "customer_lookup",
    "manual_entry_view",
    "note_view",
    "order_page_context",
    "print_view",
    "resolve_view",
    "ship_view",
    "sku_lookup",
    "transition_buttons",
    "transition_view",
]
