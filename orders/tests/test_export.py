"""Exports: formatted .xlsx (frozen header, widths, real dates in local time, real numbers), CSV, formula
neutralisation, per order / per line, the admin mixin (filtered list, selection, background job), resources."""

from __future__ import annotations

import datetime as dt
import io
import tracemalloc
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import tablib
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from orders.admin.order import OrderAdmin
from orders.exporting import Column, export_orders, write_csv, write_xlsx
from orders.importing.apply import import_file
from orders.models import Customer, ExportJob, Order, Product, StockLevel
from orders.resources import CustomerResource, OrderResource, ProductResource, StockLevelResource
from orders.tests.factories import ChannelFactory, WarehouseFactory, stocked_product
from orders.tests.importing_corpus import TODAY
from orders.tests.importing_corpus import write_csv as write_rows

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> None:
    """Export files go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def orders(tmp_path):
    """Three imported orders, one with a formula-like note and two lines."""
    ChannelFactory(code="tmall", name="天猫旗舰店")
    rows = [
        ["订单编号", "下单时间", "付款时间", "商家编码", "商品名称", "数量", "单价", "买家留言"],
        ["A1", "2024-03-01 23:30:00", "2024-03-01 23:31:00", "S-1", "杯子", "2", "9.90", "'=HYPERLINK(x)"],
        ["A1", "2024-03-01 23:30:00", "2024-03-01 23:31:00", "S-2", "碟子", "1", "5.00", "'=HYPERLINK(x)"],
        ["A2", "2024-03-02 08:00:00", "", "S-1", "杯子", "1", "9.90", "@me"],
        ["A3", "2024-03-03 09:15:00", "", "S-3", "碗", "3", "1.50", "-"],
    ]
    result = import_file(write_rows(tmp_path / "o.csv", rows), channel="tmall", today=TODAY)
    assert result.ok and result.created == 3, result.errors
    return Order.objects.all()


def test_xlsx_is_formatted(orders) -> None:
    buffer = io.BytesIO()
    with translation.override("zh-hans"):
        assert export_orders(orders, buffer, per_line=False) == 3
    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.bold
    headers = [c.value for c in sheet[1]]
    assert "订单编号" in headers and "下单时间" in headers and "总金额" in headers
    assert all(sheet.column_dimensions[letter].width >= 6 for letter in ("A", "B", "H"))
    row = dict(zip(headers, sheet[2], strict=True))
    # 23:30 Shanghai is 15:30 UTC: the sheet shows the merchant's local time as a real date
    assert row["下单时间"].value == dt.datetime(2024, 3, 1, 23, 30)
    assert row["下单时间"].is_date
    assert row["总金额"].value == 24.8 and row["总金额"].number_format == "#,##0.00"
    assert row["买家留言"].value == "'=HYPERLINK(x)"
    notes = [sheet.cell(r, headers.index("买家留言") + 1).value for r in range(2, 5)]
    assert notes == ["'=HYPERLINK(x)", "'@me", "'-"]


def test_per_line_rows_and_csv(orders) -> None:
    buffer = io.BytesIO()
    with translation.override("en"):
        assert export_orders(orders, buffer, fmt="csv", per_line=True) == 4
    text = buffer.getvalue().decode("utf-8-sig").splitlines()
    assert text[0].startswith("OMS order number,Channel,Order ID,Status,")
    assert len(text) == 5
    assert "2024-03-01 23:30:00" in text[1] and text[1].endswith(",19.80") and "'=HYPERLINK(x)" in text[1]
    assert buffer.getvalue().startswith(b"\xef\xbb\xbf")


def test_write_xlsx_streams_in_constant_memory() -> None:
    columns = [
        Column("n", lambda r: r, "int"),
        Column("t", lambda r: f"=row {r}"),
        Column("d", lambda r: TODAY),
    ]

    def peak(count: int) -> int:
        tracemalloc.start()
        write_xlsx(io.BytesIO(), columns, range(count))
        _current, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return high

    small, large = peak(2_000), peak(40_000)
    assert large < small * 3, (small, large)  # 20x the rows, not 20x the memory (the output buffer grows)


def test_csv_neutralises_and_formats() -> None:
    buffer = io.BytesIO()
    columns = [
        Column("when", lambda r: r[0], "datetime"),
        Column("amount", lambda r: r[1], "money"),
        Column("note", lambda r: r[2]),
    ]
    write_csv(buffer, columns, [(dt.datetime(2024, 1, 1, 16, 0, tzinfo=dt.UTC), Decimal("1.50"), "+1")])
    assert buffer.getvalue().decode("utf-8-sig").splitlines()[1] == "2024-01-02 00:00:00,1.50,'+1"


class OrderExportAdmin(OrderAdmin):
    """The order admin (it carries the export mixin) with the mixin's selection actions switched on."""

    export_selection_actions = True


def _request(user, path="/admin/orders/order/export/", method="get", data=None):
    factory = RequestFactory()
    request = getattr(factory, method)(path, data or {})
    request.user = user
    request.session = {}
    from django.contrib.messages.storage.fallback import FallbackStorage

    request._messages = FallbackStorage(request)
    return request


def test_mixin_exports_the_filtered_order_list(orders, admin_user) -> None:
    model_admin = OrderExportAdmin(Order, admin.site)
    response = model_admin.export_list_action(
        _request(admin_user, method="post", data={"file_format": "xlsx", "per_line": "1", "query": "q=A1"})
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="order-')
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    external = [c.value for c in sheet["C"]][1:]
    assert external == ["A1", "A1"]  # the search 'A1', one row per line


def test_mixin_options_page_keeps_the_list_filters(orders, admin_user) -> None:
    model_admin = OrderExportAdmin(Order, admin.site)
    request = _request(admin_user)
    request.META["HTTP_REFERER"] = "http://testserver/admin/orders/order/?q=A2"
    response = model_admin.export_list_action(request)
    response.render()
    assert b'value="q=A2"' in response.content and b"1 row matches" in response.content


def test_large_export_runs_in_a_task_with_a_download_link(orders, admin_user, admin_client) -> None:
    model_admin = OrderExportAdmin(Order, admin.site)
    model_admin.export_async_rows = 1
    response = model_admin.export_list_action(
        _request(admin_user, method="post", data={"file_format": "csv", "per_line": "0", "query": ""})
    )
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{job.pk}/change/")
    assert (job.status, job.rows_total) == (ExportJob.Status.SUCCEEDED, 3)
    page = admin_client.get(reverse("admin:orders_exportjob_change", args=[job.pk]))
    assert reverse("admin:orders_exportjob_download", args=[job.pk]).encode() in page.content
    download = admin_client.get(reverse("admin:orders_exportjob_download", args=[job.pk]))
    assert b"".join(download.streaming_content).decode("utf-8-sig").count("\n") == 4


def test_selected_rows_action_and_generic_list(orders, admin_user) -> None:
    model_admin = OrderExportAdmin(Order, admin.site)
    request = _request(admin_user)
    assert "export_selected_xlsx" in model_admin.get_actions(request)
    response = model_admin.export_selected_csv(request, Order.objects.filter(external_id="A3"))
    assert b"A3" in b"".join(response.streaming_content)
    # any other list: columns from list_display (the import profile admin carries the mixin)
    from orders.models import ImportProfile

    ImportProfile.objects.create(name="=evil")
    profile_admin = admin.site._registry[ImportProfile]
    response = profile_admin.export_selected_xlsx(request, ImportProfile.objects.all())
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet["A2"].value == "'=evil" and sheet.freeze_panes == "A2"


def test_product_customer_and_stock_resources(admin_user) -> None:
    warehouse = WarehouseFactory(code="main")
    stocked_product(sku="S-1", warehouse=warehouse, on_hand=10)
    products = tablib.Dataset(headers=["sku", "name", "price"])
    products.append(["S-1", "杯子 v2", "12.00"])
    products.append(["S-9", "新品", "3.00"])
    result = ProductResource().import_data(products, dry_run=False)
    assert not result.has_errors() and Product.objects.get(sku="S-9").price == Decimal("3.00")
    assert Product.objects.get(sku="S-1").name == "杯子 v2"

    stock = tablib.Dataset(headers=["sku", "warehouse", "on_hand"])
    stock.append(["S-1", "main", 25])
    result = StockLevelResource().import_data(stock, dry_run=False)
    assert not result.has_errors(), [e.error for row in result.row_errors() for e in row[1]]
    assert StockLevel.objects.get(product__sku="S-1").on_hand == 25
    exported = StockLevelResource().export()
    assert exported.headers == ["sku", "warehouse", "on_hand", "reserved", "available"]
    assert [str(v) for v in exported[0]] == ["S-1", "main", "25", "0", "25"]

    ChannelFactory(code="tmall")
    customers = tablib.Dataset(headers=["name", "phone", "email", "channel", "channel_buyer_id"])
    customers.append(["张三", "+86 139 1234 5678", "", "tmall", ""])
    customers.append(["张三", "13912345678", "", "tmall", ""])
    result = CustomerResource().import_data(customers, dry_run=False)
    assert not result.has_errors(), [e.error for row in result.row_errors() for e in row[1]] + [
        str(e.error) for e in result.base_errors
    ]
    assert Customer.objects.get().dedupe_key == "phone:13912345678"


def test_order_resource_exports_lines_and_imports_row_by_row(orders) -> None:
    exported = OrderResource().export(Order.objects.order_by("external_id"))
    assert exported.dict[0]["订单编号"] == "A1" and exported.dict[0]["商品明细"] == "S-1×2@9.90; S-2×1@5.00"
    dataset = tablib.Dataset(
        headers=[
            "订单编号",
            "渠道",
            "订单状态",
            "下单时间",
            "商家编码",
            "商品名称",
            "数量",
            "单价",
            "订单金额",
            "运费",
            "优惠",
        ]
    )
    dataset.append(
        ["R1", "tmall", "pending_payment", dt.datetime(2024, 3, 5, 10), "S-1", "杯子", 2, 9.9, 19.8, 0, 0]
    )
    result = OrderResource().import_data(dataset, dry_run=False)
    assert not result.has_errors(), [e.error for row in result.row_errors() for e in row[1]]
    order = Order.objects.get(external_id="R1")
    assert order.lines.get().quantity == 2 and order.number.startswith("SO240305")
