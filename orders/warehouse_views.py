"""The warehouse page for phones: find an order by scan or number, see it, ship it, add a note."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from oms.actors import Actor
from oms.errors import OMSError
from orders import services
from orders.models import Order, Shipment

CARRIERS = ["SF", "ZTO", "YTO", "STO", "YUNDA", "JD", "EMS", "DBL"]


class ShipForm(forms.Form):
    """Carrier and tracking number, typed or scanned."""

    carrier = forms.ChoiceField(label=gettext_lazy("Carrier"), choices=[(c, c) for c in CARRIERS])
    tracking_number = forms.CharField(label=gettext_lazy("Tracking number"), max_length=64)


class NoteForm(forms.Form):
    """A note for the order's timeline."""

    text = forms.CharField(label=gettext_lazy("Note"), max_length=2000)


def find_order(query: str) -> Order | None:
    """The order whose number, external id or tracking number is `query` (a scan), if exactly one."""
    query = query.strip()
    if not query:
        return None
    shipment = Shipment.objects.filter(tracking_number=query).select_related("order").first()
    if shipment:
        return shipment.order
    matches = list(Order.objects.filter(Q(number=query) | Q(external_id=query))[:2])
    return matches[0] if len(matches) == 1 else None


@login_required
@permission_required("orders.ship_order", raise_exception=True)
def warehouse_home(request: HttpRequest) -> HttpResponse:
    """Scan or type an order number or tracking number."""
    query = request.GET.get("q", "")
    if query:
        order = find_order(query)
        if order:
            return redirect("warehouse:order", number=order.number)
        messages.error(request, _("No order found for '%(q)s'.") % {"q": query})
    return render(request, "warehouse/home.html", {"query": query})


@login_required
@permission_required("orders.ship_order", raise_exception=True)
@require_http_methods(["GET", "POST"])
def warehouse_order(request: HttpRequest, number: str) -> HttpResponse:
    """One order: lines, address, status; ship it or add a note."""
    order = get_object_or_404(Order.objects.select_related("warehouse", "channel"), number=number)
    ship_form, note_form = ShipForm(prefix="ship"), NoteForm(prefix="note")
    actor = Actor.for_user(request.user)
    if request.method == "POST":
        try:
            if "ship" in request.POST:
                ship_form = ShipForm(request.POST, prefix="ship")
                if ship_form.is_valid():
                    services.ship_order(order, actor=actor, **ship_form.cleaned_data)
                    messages.success(request, _("Order %(n)s shipped.") % {"n": order.number})
                    return redirect("warehouse:order", number=order.number)
            elif "note" in request.POST:
                note_form = NoteForm(request.POST, prefix="note")
                if note_form.is_valid():
                    services.add_note(order, text=note_form.cleaned_data["text"], actor=actor)
                    messages.success(request, _("Note added."))
                    return redirect("warehouse:order", number=order.number)
        except OMSError as error:
            messages.error(request, error.message)
    order.refresh_from_db()
    context = {
        "order": order,
        "lines": order.lines.all(),
        "shipments": order.shipments.all(),
        "events": order.events.all()[:5],
        "ship_form": ship_form,
        "note_form": note_form,
        "can_ship": order.status in ("awaiting_shipment", "partially_shipped")
        and order.stock_status != "waiting",
    }
    return render(request, "warehouse/order.html", context)
