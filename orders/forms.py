"""Forms of the order admin: bulk-action parameters, the ship page, quick notes and manual order entry."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import FileExtensionValidator
from django.utils.translation import gettext_lazy as _

from orders.choices import HoldKind, OrderType, PaymentMethod
from orders.models import Tag, Warehouse
from orders.resolutions import Resolution

CARRIERS = [
    ("SF", _("SF Express")),
    ("ZTO", _("ZTO Express")),
    ("YTO", _("YTO Express")),
    ("STO", _("STO Express")),
    ("YUNDA", _("Yunda Express")),
    ("JD", _("JD Logistics")),
    ("EMS", _("China Post EMS")),
    ("JTEXPRESS", _("J&T Express")),
]
"""Carriers offered on the ship page (free text is accepted too)."""

INPUT = (
    "border border-base-200 bg-white font-medium rounded-default shadow-xs text-sm px-3 py-2 w-full "
    "dark:bg-base-900 dark:border-base-700"
)


def _styled(form: forms.Form) -> forms.Form:
    """Give plain form widgets the admin's input look."""
    for field in form.fields.values():
        if not isinstance(field.widget, forms.CheckboxInput | forms.HiddenInput):
            field.widget.attrs.setdefault("class", INPUT)
    return form


class StyledForm(forms.Form):
    """A form whose widgets look like the admin's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


class HoldForm(StyledForm):
    """Hold the selected orders: which kind of hold and why."""

    kind = forms.ChoiceField(label=_("hold kind"), choices=HoldKind.choices, initial=HoldKind.REVIEW)
    reason = forms.CharField(label=_("reason"), max_length=200)


class CancelForm(StyledForm):
    """Cancel the selected orders with a reason."""

    reason = forms.CharField(label=_("cancel reason"), max_length=200)


class WarehouseForm(StyledForm):
    """Assign the selected orders to a warehouse."""

    warehouse = forms.ModelChoiceField(
        label=_("warehouse"), queryset=Warehouse.objects.filter(is_active=True)
    )
    move_reservation = forms.BooleanField(
        label=_("move stock reservations already made elsewhere"), required=False, initial=False
    )


class TagForm(StyledForm):
    """Add or remove one tag on the selected orders."""

    tag = forms.ModelChoiceField(label=_("tag"), queryset=Tag.objects.all())


class QuickNoteForm(forms.Form):
    """The one-line note box at the top of the order page."""

    text = forms.CharField(label=_("note"), max_length=5000)


class TransitionForm(forms.Form):
    """An order page button: the target status, with a reason (and hold kind) where the move needs one."""

    target = forms.CharField()
    reason = forms.CharField(required=False, max_length=200)
    kind = forms.ChoiceField(required=False, choices=[("", "")] + list(HoldKind.choices))


class ResolveExceptionForm(StyledForm):
    """How the clerk resolved an exception, with a note (kept as history for suggestions)."""

    resolution = forms.ChoiceField(label=_("resolution"), choices=Resolution.choices)
    note = forms.CharField(label=_("note"), required=False, max_length=1000)


class ShipBatchForm(StyledForm):
    """The ship page: a default carrier and, per order, a carrier and tracking number."""

    carrier = forms.CharField(label=_("carrier for all"), max_length=50, required=False)

    def __init__(self, *args, orders=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.orders = list(orders)
        for order in self.orders:
            self.fields[f"carrier-{order.pk}"] = forms.CharField(
                label=_("carrier"),
                max_length=50,
                required=False,
                widget=forms.TextInput(attrs={"list": "carriers"}),
            )
            self.fields[f"tracking-{order.pk}"] = forms.CharField(
                label=_("tracking number"), max_length=64, required=False
            )
        _styled(self)

    def rows(self):
        """(order, carrier field, tracking field) per order, for the template."""
        return [(order, self[f"carrier-{order.pk}"], self[f"tracking-{order.pk}"]) for order in self.orders]

    def entries(self) -> list[tuple[object, str, str]]:
        """(order, carrier, tracking number) for every row with a tracking number typed in."""
        default = (self.cleaned_data.get("carrier") or "").strip()
        result = []
        for order in self.orders:
            tracking = (self.cleaned_data.get(f"tracking-{order.pk}") or "").strip()
            carrier = (self.cleaned_data.get(f"carrier-{order.pk}") or "").strip() or default
            if tracking:
                result.append((order, carrier, tracking))
        return result


class TrackingUploadForm(StyledForm):
    """A two-column sheet (order number, tracking number) and the carrier they all went with."""

    file = forms.FileField(
        label=_("sheet (.xlsx or .csv): order number, tracking number"),
        validators=[FileExtensionValidator(["xlsx", "csv"])],
    )
    carrier = forms.CharField(
        label=_("carrier"), max_length=50, widget=forms.TextInput(attrs={"list": "carriers"})
    )


class ManualOrderForm(StyledForm):
    """Phone and offline orders: who buys, where it goes, what they pay."""

    channel = forms.ModelChoiceField(label=_("channel"), queryset=None, required=False)
    order_type = forms.ChoiceField(label=_("order type"), choices=OrderType.choices, initial=OrderType.NORMAL)
    buyer_phone = forms.CharField(label=_("buyer phone"), max_length=32)
    buyer_name = forms.CharField(label=_("buyer"), max_length=100, required=False)
    buyer_email = forms.EmailField(label=_("buyer email"), required=False)
    receiver_name = forms.CharField(label=_("receiver"), max_length=100)
    receiver_phone = forms.CharField(label=_("receiver phone"), max_length=32)
    province = forms.CharField(label=_("province"), max_length=50)
    city = forms.CharField(label=_("city"), max_length=50)
    district = forms.CharField(label=_("district"), max_length=50, required=False)
    street = forms.CharField(label=_("street address"), max_length=300)
    postcode = forms.CharField(label=_("postcode"), max_length=12, required=False)
    warehouse = forms.ModelChoiceField(
        label=_("warehouse"), queryset=Warehouse.objects.filter(is_active=True), required=False
    )
    shipping_fee = forms.DecimalField(
        label=_("shipping"), max_digits=14, decimal_places=2, initial=Decimal("0")
    )
    discount = forms.DecimalField(
        label=_("order discount"), max_digits=14, decimal_places=2, initial=Decimal("0")
    )
    buyer_note = forms.CharField(
        label=_("buyer note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    seller_note = forms.CharField(
        label=_("seller note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    payment_method = forms.ChoiceField(
        label=_("payment received"),
        choices=[("", _("Not paid yet"))] + list(PaymentMethod.choices),
        required=False,
    )
    payment_amount = forms.DecimalField(
        label=_("amount received"), max_digits=14, decimal_places=2, required=False, min_value=Decimal("0.01")
    )

    def __init__(self, *args, **kwargs):
        from channels.models import Channel

        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = Channel.objects.filter(is_active=True)

    def clean(self):
        data = super().clean()
        if data.get("payment_method") and not data.get("payment_amount"):
            self.add_error("payment_amount", _("enter the amount received"))
        return data


class ManualLineForm(StyledForm):
    """One line of a manual order; the price defaults to the SKU's list price."""

    sku = forms.CharField(label=_("SKU code"), max_length=64, required=False)
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, required=False, initial=1)
    unit_price = forms.DecimalField(label=_("unit price"), max_digits=14, decimal_places=2, required=False)
    discount = forms.DecimalField(label=_("discount"), max_digits=14, decimal_places=2, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sku"].widget.attrs.update(
            {"data-sku": "1", "autocomplete": "off", "list": "sku-options"}
        )
        self.fields["quantity"].widget.attrs["data-qty"] = "1"
        self.fields["unit_price"].widget.attrs["data-price"] = "1"
        self.fields["discount"].widget.attrs["data-discount"] = "1"


ManualLineFormSet = forms.formset_factory(ManualLineForm, extra=3, max_num=100)
