"""Invoices: request, issue with a unique number, void; the order's invoice status follows and filters."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.errors import TransitionNotAllowed, ValidationFailed
from orders.choices import EventType, InvoiceStatus, OrderStatus
from orders.models import Invoice, Order, OrderEvent
from orders.services import invoices, returns
from orders.tests.factories import TEST_ACTOR, order_in_status

pytestmark = pytest.mark.django_db
TAX_ID = "91330100MA2B3C4D5E"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], InvoiceStatus.NONE),
        (["voided"], InvoiceStatus.VOIDED),
        (["voided", "requested"], InvoiceStatus.REQUESTED),
        (["requested", "issued"], InvoiceStatus.ISSUED),
    ],
)
def test_invoice_status_for(statuses, expected):
    assert invoices.invoice_status_for(statuses) == expected


def test_request_issue_void_cycle(product):
    order = order_in_status(OrderStatus.SHIPPED, lines=[(product, 2)])
    invoice = invoices.request_invoice(
        order, title="杭州某某科技有限公司", tax_id=TAX_ID.lower(), actor=TEST_ACTOR
    )
    order.refresh_from_db()
    assert (invoice.amount, invoice.tax_id, order.invoice_status) == (Decimal("20.00"), TAX_ID, "requested")
    assert Order.objects.filter(invoice_status=InvoiceStatus.REQUESTED).get() == order

    with pytest.raises(ValidationFailed):
        invoices.request_invoice(order, title="again", actor=TEST_ACTOR)  # everything is already invoiced
    invoices.issue_invoice(invoice, number="24332000000012345678", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.invoice_status == InvoiceStatus.ISSUED
    with pytest.raises(TransitionNotAllowed):
        invoices.issue_invoice(invoice, number="X", actor=TEST_ACTOR)

    invoices.void_invoice(invoice, reason="wrong title", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.invoice_status == InvoiceStatus.VOIDED
    again = invoices.request_invoice(order, title="杭州某某科技有限公司", actor=TEST_ACTOR)
    assert again.amount == Decimal("20.00")
    messages = list(
        OrderEvent.objects.filter(order=order, type=EventType.INVOICE_CHANGED).values_list("data", flat=True)
    )
    assert [m["status"] for m in reversed(messages)] == ["requested", "issued", "voided", "requested"]


def test_invoice_numbers_are_unique_and_amounts_capped(product, snapshot):
    first = order_in_status(OrderStatus.SHIPPED, lines=[(product, 1)])
    second = order_in_status(OrderStatus.SHIPPED, lines=[(product, 1)])
    a = invoices.request_invoice(first, title="张三", actor=TEST_ACTOR)
    b = invoices.request_invoice(second, title="李四", amount="4.00", actor=TEST_ACTOR)
    invoices.issue_invoice(a, number="N1", actor=TEST_ACTOR)
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        invoices.issue_invoice(b, number="N1", actor=TEST_ACTOR)
    assert refused.value.code == "duplicate_number"
    assert snapshot() == before
    with pytest.raises(ValidationFailed):
        invoices.request_invoice(second, title="李四", amount="6.01", actor=TEST_ACTOR)
    with pytest.raises(ValidationFailed):
        invoices.request_invoice(
            second, title="公司", kind=Invoice.Kind.SPECIAL, actor=TEST_ACTOR
        )  # no tax id
    returns.refund_order(second, amount="7.00", reason="partial", actor=TEST_ACTOR)
    with pytest.raises(ValidationFailed):
        invoices.issue_invoice(b, number="N2", actor=TEST_ACTOR)  # only 3.00 left after the refund


def test_unpaid_or_cancelled_orders_cannot_be_invoiced(product):
    unpaid = order_in_status(OrderStatus.PENDING_PAYMENT, lines=[(product, 1)])
    with pytest.raises(ValidationFailed):
        invoices.request_invoice(unpaid, title="x", actor=TEST_ACTOR)
    cancelled = order_in_status(OrderStatus.CANCELLED, lines=[(product, 1)])
    with pytest.raises(TransitionNotAllowed):
        invoices.request_invoice(cancelled, title="x", actor=TEST_ACTOR)
