"""The ship page (one row per order, or a tracking sheet) and the print page (slips and labels)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from orders.admin.barcode import code128_modules, code128b_values
from orders.choices import HoldKind, OrderStatus
from orders.tests.factories import UserFactory, ensure_roles, order_in_status

pytestmark = pytest.mark.django_db
SHIP = "admin:orders_order_ship"


@pytest.fixture(autouse=True)
def _role_groups(db):
    """The role groups (migration 0002) exist even after a transactional test flushed the database."""
    ensure_roles()


@pytest.fixture
def picker(client):
    user = UserFactory(username="picker", groups=["warehouse"])
    client.force_login(user)
    return user


def ids(*orders) -> str:
    return ",".join(str(o.pk) for o in orders)


def test_ship_page_ships_each_row_with_its_tracking_number_and_refuses_held_orders(client, picker):
    a, b = (order_in_status(OrderStatus.AWAITING_SHIPMENT) for _n in range(2))
    held = order_in_status(
        OrderStatus.ON_HOLD, from_status=OrderStatus.AWAITING_SHIPMENT, hold_kind=HoldKind.DELAYED
    )
    page = client.get(reverse(SHIP), {"ids": ids(a, b, held)})
    assert page.status_code == 200 and all(o.number in page.content.decode() for o in (a, b, held))
    data = {
        "ids": ids(a, b, held),
        "carrier": "SF",
        f"tracking-{a.pk}": "SF1001",
        f"tracking-{b.pk}": "YT2002",
        f"carrier-{b.pk}": "YTO",
        f"tracking-{held.pk}": "SF3003",
    }
    response = client.post(reverse(SHIP), data)
    assert response.status_code == 200  # the refused row is shown again with its reason
    html = response.content.decode()
    assert held.number in html and a.number not in html.split("oms-table")[1]
    for order in (a, b, held):
        order.refresh_from_db()
    assert a.status == b.status == OrderStatus.SHIPPED
    assert (a.shipments.get().carrier, a.shipments.get().tracking_number) == ("SF", "SF1001")
    assert (b.shipments.get().carrier, b.shipments.get().tracking_number) == ("YTO", "YT2002")
    assert held.status == OrderStatus.ON_HOLD and not held.shipments.exists()


def test_all_rows_shipped_goes_back_to_the_list(client, picker):
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    response = client.post(reverse(SHIP), {"ids": ids(order), "carrier": "SF", f"tracking-{order.pk}": "SF9"})
    assert response.status_code == 302


def test_tracking_sheet_upload_xlsx_and_csv(client, picker):
    a, b, c = (order_in_status(OrderStatus.AWAITING_SHIPMENT) for _n in range(3))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["订单号", "运单号"])
    sheet.append([a.number, "ZT100"])
    sheet.append([b.number, 773123456789])
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = SimpleUploadedFile("tracking.xlsx", buffer.getvalue())
    response = client.post(reverse(SHIP), {"upload": "1", "carrier": "ZTO", "file": upload})
    assert response.status_code == 302
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == b.status == OrderStatus.SHIPPED
    assert b.shipments.get().tracking_number == "773123456789" and b.shipments.get().carrier == "ZTO"
    csv_file = SimpleUploadedFile("t.csv", f"{c.number},SF55\nSO000000000000,SF66\n,\n".encode())
    response = client.post(reverse(SHIP), {"upload": "1", "carrier": "SF", "file": csv_file})
    assert response.status_code == 200
    assert (
        len(response.context["sheet_errors"]) == 1 and "SO000000000000" in response.context["sheet_errors"][0]
    )
    c.refresh_from_db()
    assert c.status == OrderStatus.SHIPPED


def test_ship_and_print_pages_are_forbidden_without_the_ship_permission(client):
    client.force_login(UserFactory(username="fin", groups=["finance"]))
    order = order_in_status(OrderStatus.AWAITING_SHIPMENT)
    assert client.get(reverse(SHIP), {"ids": ids(order)}).status_code == 403
    assert client.get(reverse("admin:orders_order_print"), {"ids": ids(order)}).status_code == 403


def test_print_page_has_one_sheet_per_order_with_a_barcode(client, picker):
    orders = [order_in_status(OrderStatus.AWAITING_SHIPMENT) for _n in range(2)]
    for kind in ("packing", "label"):
        html = client.get(
            reverse("admin:orders_order_print"), {"ids": ids(*orders), "kind": kind}
        ).content.decode()
        assert html.count('class="sheet') == 2 and "page-break-after: always" in html
        assert html.count("<svg") == 2 and all(f'aria-label="{o.number}"' in html for o in orders)


def test_code128_encoding_matches_the_standard():
    # set B: start B (104), ASCII - 32 per character, checksum = (104 + sum(position * value)) mod 103
    assert code128b_values("PJJ123C") == [104, 48, 42, 42, 17, 18, 19, 35, 55]
    modules = code128_modules("SO260101000001").strip("0")
    assert modules.startswith("11010010000")  # start B
    assert modules.endswith("1100011101011")  # stop
    assert len(modules) == 11 * (1 + 14 + 1) + 13
