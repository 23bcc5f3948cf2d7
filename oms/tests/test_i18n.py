"""The UI is translated into Simplified Chinese out of the box (compiled catalogue in the repo)."""

import pytest
from django.utils import translation

from orders.choices import OrderStatus


def test_statuses_are_translated():
    with translation.override("zh-hans"):
        assert str(OrderStatus.AWAITING_SHIPMENT.label) == "待发货"
        assert str(OrderStatus.PENDING_PAYMENT.label) == "待付款"
    with translation.override("en"):
        assert str(OrderStatus.AWAITING_SHIPMENT.label) == "Awaiting shipment"


@pytest.mark.django_db
def test_admin_switches_language(client, admin_user):
    client.force_login(admin_user)
    chinese = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "待审核" in chinese.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    english = client.get("/admin/")
    assert "To review" in english.content.decode()
