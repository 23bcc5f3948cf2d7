"""Invoices (fapiao): requested with a title and tax id, issued with the tax system's number, or voided.

The order's invoice status is derived from its invoices (issued > requested > voided > none) and stored
on Order.invoice_status so the order list can filter on it. Amounts never exceed what the buyer paid net
of refunds, minus what is already invoiced.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import TransitionNotAllowed, ValidationFailed
from oms.money import ZERO, to_money
from orders.choices import EventType, InvoiceStatus, OrderStatus
from orders.models import Invoice, Order
from orders.services.events import record_event
from orders.services.lifecycle import lock_order

I = Invoice.Status  # noqa: E741


def invoice_status_for(statuses: list[str]) -> str:
    """The order's invoice status from its invoices' statuses. Pure."""
    if I.ISSUED in statuses:
        return InvoiceStatus.ISSUED
    if I.REQUESTED in statuses:
        return InvoiceStatus.REQUESTED
    if I.VOIDED in statuses:
        return InvoiceStatus.VOIDED
    return InvoiceStatus.NONE


def invoiceable_amount(order: Order, *, excluding: Invoice | None = None) -> Decimal:
    """What can still be invoiced: paid − refunded − the amounts of live (requested or issued) invoices."""
    live = order.invoices.filter(status__in=(I.REQUESTED, I.ISSUED))
    if excluding is not None:
        live = live.exclude(pk=excluding.pk)
    used = live.aggregate(s=Sum("amount"))["s"] or ZERO
    return order.paid_amount - order.refunded_amount - used


def _sync_status(order: Order) -> None:
    status = invoice_status_for(list(order.invoices.values_list("status", flat=True)))
    if order.invoice_status != status:
        order.invoice_status = status
        order.save(update_fields=["invoice_status", "updated_at"])


def request_invoice(
    order: Order | int,
    *,
    title: str,
    actor: Actor,
    tax_id: str = "",
    amount: Decimal | str | None = None,
    kind: str = Invoice.Kind.NORMAL,
    email: str = "",
) -> Invoice:
    """Ask for an invoice of `amount` (default: everything not yet invoiced). A company title needs a tax id
    for a special VAT invoice."""
    title, tax_id = (title or "").strip(), (tax_id or "").strip().upper()
    if not title:
        raise ValidationFailed(_("an invoice title is required"), code="required", field="title")
    if kind not in Invoice.Kind.values:
        raise ValidationFailed(
            _("unknown invoice kind '%(k)s'") % {"k": kind}, code="invalid_choice", field="kind"
        )
    if kind == Invoice.Kind.SPECIAL and not tax_id:
        raise ValidationFailed(_("a special VAT invoice needs the tax id"), code="required", field="tax_id")
    if tax_id and not (15 <= len(tax_id) <= 20 and tax_id.isalnum()):
        raise ValidationFailed(
            _("tax id '%(t)s' is not a valid taxpayer id (15 to 20 letters and digits)") % {"t": tax_id},
            code="invalid_tax_id",
            field="tax_id",
        )
    with transaction.atomic():
        locked = lock_order(order)
        if locked.status in (OrderStatus.CANCELLED, OrderStatus.CLOSED):
            raise TransitionNotAllowed(
                _("order %(n)s is %(s)s; it cannot be invoiced")
                % {"n": locked.number, "s": locked.get_status_display().lower()},
                code="invoice_not_allowed",
                field="status",
            )
        available = invoiceable_amount(locked)
        value = available if amount in (None, "") else to_money(amount)
        if value <= 0 or value > available:
            raise ValidationFailed(
                _(
                    "invoice amount %(a)s must be more than 0 and at most %(m)s (paid, not refunded, not invoiced)"
                )
                % {"a": value, "m": available},
                code="invalid_amount",
                field="amount",
            )
        invoice = Invoice.objects.create(
            order=locked, title=title[:200], tax_id=tax_id, amount=value, kind=kind, email=email
        )
        _sync_status(locked)
        record_event(
            locked,
            type=EventType.INVOICE_CHANGED,
            actor=actor,
            message=_("Invoice requested: %(title)s, %(amount)s") % {"title": title, "amount": value},
            invoice=invoice.pk,
            status=I.REQUESTED,
        )
        return invoice


def _lock_invoice(invoice: Invoice | int) -> tuple[Order, Invoice]:
    pk = invoice.pk if isinstance(invoice, Invoice) else invoice
    order = lock_order(Invoice.objects.values_list("order_id", flat=True).get(pk=pk))
    return order, Invoice.objects.select_for_update().get(pk=pk)


def issue_invoice(invoice: Invoice | int, *, number: str, actor: Actor) -> Invoice:
    """Record that the tax system issued a requested invoice under `number` (unique across OMS)."""
    number = (number or "").strip()
    if not number:
        raise ValidationFailed(_("the invoice number is required"), code="required", field="number")
    with transaction.atomic():
        order, locked = _lock_invoice(invoice)
        if locked.status != I.REQUESTED:
            raise TransitionNotAllowed(
                _("invoice %(n)s is %(s)s and cannot be issued")
                % {"n": locked, "s": locked.get_status_display().lower()},
                code="invoice_transition_not_allowed",
                field="status",
            )
        if invoiceable_amount(order, excluding=locked) < locked.amount:
            raise ValidationFailed(
                _("order %(n)s was refunded since the request: at most %(m)s can be invoiced")
                % {"n": order.number, "m": invoiceable_amount(order, excluding=locked)},
                code="invalid_amount",
                field="amount",
            )
        locked.status, locked.number, locked.issued_at = I.ISSUED, number[:40], timezone.now()
        try:
            with transaction.atomic():
                locked.save(update_fields=["status", "number", "issued_at"])
        except IntegrityError:
            raise ValidationFailed(
                _("invoice number %(n)s is already used") % {"n": number},
                code="duplicate_number",
                field="number",
            )
        _sync_status(order)
        record_event(
            order,
            type=EventType.INVOICE_CHANGED,
            actor=actor,
            message=_("Invoice %(number)s issued: %(title)s, %(amount)s")
            % {"number": number, "title": locked.title, "amount": locked.amount},
            invoice=locked.pk,
            status=I.ISSUED,
            number=number,
        )
        return locked


def void_invoice(invoice: Invoice | int, *, reason: str, actor: Actor) -> Invoice:
    """Void a requested or issued invoice with a reason (a new one may then be requested)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            _("a reason is required to void an invoice"), code="reason_required", field="reason"
        )
    with transaction.atomic():
        order, locked = _lock_invoice(invoice)
        if locked.status == I.VOIDED:
            raise TransitionNotAllowed(
                _("invoice %(n)s is already voided") % {"n": locked},
                code="invoice_transition_not_allowed",
                field="status",
            )
        locked.status, locked.voided_at, locked.void_reason = I.VOIDED, timezone.now(), reason[:300]
        locked.save(update_fields=["status", "voided_at", "void_reason"])
        _sync_status(order)
        record_event(
            order,
            type=EventType.INVOICE_CHANGED,
            actor=actor,
            message=_("Invoice %(number)s voided: %(reason)s")
            % {"number": locked.number or "—", "reason": reason},
            invoice=locked.pk,
            status=I.VOIDED,
        )
        return locked
