"""End to end on the real samples in ../shared/samples: Tmall report, UCI Online Retail, Taobao headers.

Variants (GBK, BOM, .xlsx, .xls) are generated from the real files in tmp_path. Skips with a visible reason
when the samples are missing (fails under OMS_REQUIRE_ALL_TESTS=1).
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orders.importing.plan import ImportPlan, build_import_plan
from orders.importing.readers import read_table
from orders.tests.importing_corpus import sample, write_csv, write_xlsx

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2024, 6, 1)
TMALL = "sheets/tmall_order_report.csv"
RETAIL = "sheets/online-retail-2010-12-01.csv"


def _rows(relative: str) -> list[list[str]]:
    with sample(relative).open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _plan(path: Path, channel: str = "tmall") -> ImportPlan:
    return build_import_plan(read_table(path), default_channel=channel, today=TODAY)


def _check_tmall(result: ImportPlan, rows: list[list[str]]) -> None:
    assert result.ok, result.errors[:5]
    assert len(result.orders) == len(rows) - 1
    assert [o.external_id for o in result.orders] == [r[0] for r in rows[1:]]
    for order, row in zip(result.orders, rows[1:], strict=True):
        assert order.total == Decimal(row[1]).quantize(Decimal("0.01"))
        assert order.province == row[3]
    assert all(o.placed_at.tzinfo is SH for o in result.orders)


def test_tmall_report_end_to_end() -> None:
    rows = _rows(TMALL)
    assert len(rows) - 1 == 28010
    result = _plan(sample(TMALL))
    _check_tmall(result, rows)
    assert result.unknown_columns == []
    # no status column: derived from payment and refunds (unpaid / refunded in full / paid)
    assert Counter(o.status for o in result.orders) == {
        "awaiting_shipment": 18955,
        "closed": 5132,
        "pending_payment": 3923,
    }
    assert {o.status_source for o in result.orders} == {"derived"}
    provinces = Counter(o.province for o in result.orders)
    assert provinces["上海"] == 3353 and provinces["广东省"] == 2463 and len(provinces) == 31
    first = result.orders[0]
    assert (first.external_id, first.placed_at, first.paid_at) == (
        "1",
        datetime(2020, 2, 21, tzinfo=SH),
        None,
    )
    second = result.orders[1]
    assert second.paid_at == datetime(2020, 2, 21, 0, 0, 2, tzinfo=SH)
    assert second.paid_amount == Decimal("21.00") and second.refund_amount == Decimal("0.00")
    assert sum(o.total for o in result.orders) == sum(Decimal(r[1]) for r in rows[1:])


@pytest.mark.parametrize(("encoding", "detected"), [("gbk", "gb18030"), ("utf-8-sig", "utf-8-sig")])
def test_tmall_report_in_other_encodings(tmp_path: Path, encoding: str, detected: str) -> None:
    rows = _rows(TMALL)
    path = write_csv(tmp_path / "tmall.csv", rows, encoding)
    table = read_table(path)
    assert table.encoding == detected
    _check_tmall(build_import_plan(table, default_channel="tmall", today=TODAY), rows)


def _typed(rows: list[list[str]]) -> list[list[object]]:
    """Cells as Excel holds them: numbers as numbers, dates as datetimes, blanks empty."""
    typed: list[list[object]] = [rows[0]]
    for row in rows[1:]:
        typed.append(
            [
                int(row[0]),
                float(row[1]),
                float(row[2]),
                row[3],
                datetime.fromisoformat(row[4]),
                datetime.fromisoformat(row[5]) if row[5] else None,
                float(row[6]),
            ]
        )
    return typed


def test_tmall_report_as_xlsx(tmp_path: Path) -> None:
    rows = _rows(TMALL)[:3001]
    path = write_xlsx(tmp_path / "tmall.xlsx", _typed(rows), title="订单报表")
    table = read_table(path)
    assert (table.file_kind, table.sheet_name, table.row_numbers[:2]) == ("xlsx", "订单报表", [2, 3])
    _check_tmall(build_import_plan(table, default_channel="tmall", today=TODAY), rows)


def test_tmall_report_as_xls(tmp_path: Path) -> None:
    xlwt = pytest.importorskip(
        "xlwt", reason="xlwt is not installed: cannot build an .xls fixture (pip install xlwt)"
    )
    rows = _rows(TMALL)[:3001]
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("订单报表")
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss")
    for r, row in enumerate(_typed(rows)):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write(r, c, value, date_style)
            elif value is not None:
                sheet.write(r, c, value)
    path = tmp_path / "tmall.xls"
    book.save(str(path))
    table = read_table(path)
    assert table.file_kind == "xls"
    _check_tmall(build_import_plan(table, default_channel="tmall", today=TODAY), rows)


def test_online_retail_groups_invoice_lines() -> None:
    rows = _rows(RETAIL)
    result = _plan(sample(RETAIL), channel="uk-shop")
    invoices = {r[0] for r in rows[1:]}
    assert len(invoices) == 143
    # returns: every 'C…' credit note line and one invoice line have negative quantities -> refused by row
    negative_rows = [n for n, r in enumerate(rows[1:], start=2) if int(r[3]) < 0]
    assert len(negative_rows) == 27
    assert [e.row for e in result.errors] == negative_rows
    assert {e.code for e in result.errors} == {"negative_quantity"}
    assert result.errors[0].message == (
        "row 143, column Quantity: '-1' is a negative quantity; "
        "returns and cancellations cannot be imported as orders"
    )
    assert not result.ok
    assert len(result.orders) == 143 - 7  # the 7 invoices with a negative line are not importable


def test_online_retail_without_returns_imports(tmp_path: Path) -> None:
    rows = [rows for rows in _rows(RETAIL) if not rows[3].startswith("-")]
    result = _plan(write_csv(tmp_path / "retail.csv", rows), channel="uk-shop")
    assert result.ok, result.errors[:3]
    assert len(result.orders) == len({r[0] for r in rows[1:]}) == 136
    assert sum(len(o.lines) for o in result.orders) == len(rows) - 1
    first = result.orders[0]
    assert (first.external_id, first.buyer_id, first.country, len(first.lines)) == (
        "536365",
        "17850",
        "United Kingdom",
        7,
    )
    assert first.total == sum(Decimal(r[5]) * int(r[3]) for r in rows[1:] if r[0] == "536365")
    assert first.placed_at == datetime(2010, 12, 1, 8, 26, tzinfo=SH)
    # an invoice whose lines were stamped a minute apart is one order at the earliest time
    spanning = next(o for o in result.orders if o.external_id == "536591")
    assert spanning.placed_at == datetime(2010, 12, 1, 16, 57, tzinfo=SH)
    anonymous = [o for o in result.orders if not o.buyer_id]
    assert anonymous, "rows without CustomerID import with no buyer id"


def test_taobao_seller_centre_export_in_gbk(tmp_path: Path) -> None:
    """A 2019+ order list laid out on the real header row, with the export's quirks, saved as GBK."""
    header = _rows("sheets/ExportOrderList_headers_2019plus.csv")[0]
    values = {
        "订单编号": '="35153131473293579"',
        "买家会员名": "tb_buyer",
        "买家应付货款": "198.00",
        "买家应付邮费": "10.00",
        "总金额": "208.00",
        "买家实际支付金额": "208.00",
        "订单状态": "卖家已发货，等待买家确认",
        "收货人姓名": "张三",
        "收货地址 ": "浙江省 杭州市 西湖区 文三路 100号(310000)",
        "联系手机": "'13912345678",
        "订单创建时间": "2019-11-11 00:00:01",
        "订单付款时间 ": "2019-11-11 00:00:09",
        "宝贝标题 ": "青花瓷杯",
        "物流单号 ": "No:SF1234567890",
        "物流公司": "顺丰速运",
        "宝贝总数量": "2",
        "买家服务费": "0元",
        "订单关闭原因": "订单未关闭",
    }
    row = [values.get(h, "") for h in header]
    second = list(row)
    second[header.index("订单编号")] = '="35153131473293580"'
    second[header.index("订单状态")] = "交易关闭"
    path = write_csv(tmp_path / "ExportOrderList201911.csv", [header, row, second], "gbk")
    table = read_table(path)
    assert table.encoding == "gb18030"
    result = build_import_plan(table, default_channel="taobao", today=TODAY)
    assert result.ok, result.errors
    assert result.unknown_columns == []
    order = result.orders[0]
    assert order.external_id == "35153131473293579"
    assert (order.status, order.receiver_name, order.receiver_phone) == ("shipped", "张三", "13912345678")
    assert (order.province, order.city, order.district, order.street, order.postcode) == (
        "浙江省", "杭州市", "西湖区", "文三路 100号", "310000"
    )  # fmt: skip
    assert (order.subtotal, order.shipping_fee, order.total) == (
        Decimal("198.00"),
        Decimal("10.00"),
        Decimal("208.00"),
    )
    assert order.placed_at == datetime(2019, 11, 11, 0, 0, 1, tzinfo=SH)
    assert [(line.product_name, line.quantity) for line in order.lines] == [("青花瓷杯", 2)]
    assert result.orders[1].status == "closed"
