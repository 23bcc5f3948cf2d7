"""Admin pages of issue 8 load and call the services: invoices, returns, statements (upload), tracking,
the order page's related orders and the merge action."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders.choices import OrderStatus
from orders.models import Invoice, Order, SettlementStatement
from orders.services import fulfilment, invoices, returns
from orders.tests.factories import TEST_ACTOR, order_in_status
from orders.tests.test_reconciliation import alipay_bill

pytestmark = pytest.mark.django_db
S = OrderStatus


def test_pages_load(admin_client, product):
    order = order_in_status(S.PARTIALLY_SHIPPED, lines=[(product, 3)])
    child = fulfilment.split_order(order, lines={order.lines.get().pk: 2}, actor=TEST_ACTOR)
    invoices.request_invoice(order, title="张三", actor=TEST_ACTOR)
    request = returns.request_return(order, lines={order.lines.get().pk: 1}, reason="x", actor=TEST_ACTOR)
    for name in ("invoice", "returnrequest", "settlementstatement", "settlementline", "trackingevent"):
        assert admin_client.get(reverse(f"admin:orders_{name}_changelist")).status_code == 200, name
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert child.number in page
    assert (
        admin_client.get(reverse("admin:orders_returnrequest_change", args=[request.pk])).status_code == 200
    )
    assert (
        admin_client.get(reverse("admin:orders_order_changelist") + "?invoice_status=requested").status_code
        == 200
    )


def test_issue_invoice_and_upload_statement(admin_client, product):
    order = order_in_status(S.SHIPPED, lines=[(product, 1)])
    invoice = invoices.request_invoice(order, title="张三", actor=TEST_ACTOR)
    url = reverse("admin:orders_invoice_change", args=[invoice.pk])
    response = admin_client.post(url, {"number": "N-100"})
    assert response.status_code == 302
    assert Invoice.objects.get().status == Invoice.Status.ISSUED

    content = alipay_bill(("T9", order.number, "交易", "10.00", "10.00", "", "0"))
    upload = lambda: SimpleUploadedFile("bill.csv", content, content_type="text/csv")  # noqa: E731
    add = reverse("admin:orders_settlementstatement_add")
    assert admin_client.post(add, {"platform": "alipay", "upload": upload()}).status_code == 302
    assert admin_client.post(add, {"platform": "alipay", "upload": upload()}).status_code == 302
    statement = SettlementStatement.objects.get()
    assert statement.lines_matched == 1
    bad = admin_client.post(add, {"platform": "wechat_pay", "upload": upload()})
    assert bad.status_code == 200 and "not a WeChat Pay bill" in bad.content.decode()


def test_merge_action(admin_client, product):
    first = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 1)])
    second = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 1)])
    admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "merge_selected", "_selected_action": [first.pk, second.pk]},
    )
    assert Order.objects.get(pk=second.pk).merged_into_id == first.pk
