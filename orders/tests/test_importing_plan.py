"""Building the import plan: grouping rows into orders, checks per order, status, and the error workbook."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from python_calamine import CalamineWorkbook

from orders.importing.errors_workbook import REASON_HEADER, build_error_workbook, neutralise
from orders.importing.plan import ImportPlan, build_import_plan
from orders.importing.profile import ImportProfileSpec
from orders.importing.readers import Table, read_table
from orders.tests.importing_corpus import write_csv

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2024, 6, 1)
HEADER = [
    "订单编号",
    "下单时间",
    "商品名称",
    "商家编码",
    "数量",
    "单价",
    "运费",
    "优惠",
    "总金额",
    "收货地址",
    "订单状态",
]


def table(headers: list[str], *rows: list[object]) -> Table:
    return Table(
        headers=headers,
        rows=[list(r) for r in rows],
        row_numbers=list(range(2, len(rows) + 2)),
        header_row_number=1,
        filename="t.csv",
        file_kind="csv",
    )


def plan(tbl: Table, **kwargs: object) -> ImportPlan:
    kwargs.setdefault("default_channel", "taobao")
    kwargs.setdefault("today", TODAY)
    return build_import_plan(tbl, **kwargs)  # type: ignore[arg-type]


def test_rows_group_into_orders_with_lines() -> None:
    result = plan(
        table(
            HEADER,
            [
                "A1",
                "2024-03-05 14:00",
                "杯",
                "CUP",
                "2",
                "10",
                "5",
                "1",
                "44",
                "浙江省 杭州市 西湖区 文三路 1号(310000)",
                "买家已付款，等待卖家发货",
            ],
            ["A1", "", "碗", "BOWL", "1", "¥20", "", "", "", "", ""],
            [
                "A2",
                "2024-03-06",
                "盘",
                "",
                "3",
                "2.5",
                "0",
                "0",
                "7.5",
                "上海 上海市 浦东新区 世纪大道(000000)",
                "交易成功",
            ],
        )  # fmt: skip
    )
    assert result.errors == [] and result.ok
    first, second = result.orders
    assert (first.external_id, first.channel_code, first.status, first.status_source) == (
        "A1", "taobao", "awaiting_shipment", "column"
    )  # fmt: skip
    assert first.placed_at == datetime(2024, 3, 5, 14, 0, tzinfo=SH)
    assert [(line.sku_code, line.quantity, line.line_total) for line in first.lines] == [
        ("CUP", 2, Decimal("20.00")),
        ("BOWL", 1, Decimal("20.00")),
    ]
    assert first.subtotal == Decimal("40.00")
    assert first.rows == [2, 3]
    assert (first.province, first.city, first.district, first.street, first.postcode) == (
        "浙江省", "杭州市", "西湖区", "文三路 1号", "310000"
    )  # fmt: skip
    assert first.total == Decimal("44.00")  # checked: 40 - 1 + 5
    assert second.status == "completed" and second.total == Decimal("7.50") and second.postcode == ""


def test_total_mismatch_and_derived_total() -> None:
    result = plan(
        table(
            ["订单编号", "下单时间", "商品名称", "数量", "单价", "运费"],
            ["A1", "2024-01-01", "杯", "2", "10", "5"],
        )
    )
    assert result.ok
    assert result.orders[0].total == Decimal("25.00")


def test_conflicting_order_values_name_both_rows() -> None:
    result = plan(
        table(
            ["订单编号", "下单时间", "总金额", "收货人"],
            ["A1", "2024-01-01", "100", "张三"],
            ["A1", "2024-01-01", "120", "李四"],
        )
    )
    assert not result.ok and result.orders == []
    assert [e.message for e in result.errors] == [
        "row 2, column 总金额: order A1 has conflicting values '100.00' (row 2) and '120.00' (row 3)",
        "row 2, column 收货人: order A1 has conflicting values '张三' (row 2) and '李四' (row 3)",
        "row 3, column 总金额: order A1 has conflicting values '120.00' (row 3) and '100.00' (row 2)",
        "row 3, column 收货人: order A1 has conflicting values '李四' (row 3) and '张三' (row 2)",
    ]
    assert result.error_rows == [2, 3]


def test_same_number_on_two_channels_is_two_orders() -> None:
    result = plan(
        table(
            ["订单编号", "渠道", "下单时间", "总金额"],
            ["A1", "tmall", "2024-01-01", "1"],
            ["A1", "jd", "2024-01-01", "2"],
        )
    )
    assert [(o.channel_code, o.total) for o in result.orders] == [
        ("tmall", Decimal("1.00")),
        ("jd", Decimal("2.00")),
    ]


def test_row_error_fields_and_message_format() -> None:
    result = plan(table(["订单编号", "下单时间", "总金额"], ["A1", "2024-13-01", "9"]))
    (error,) = result.errors
    assert (error.row, error.column, error.value, error.code) == (2, "下单时间", "2024-13-01", "invalid_date")
    assert error.message == "row 2, column 下单时间: '2024-13-01' is not a date"
    assert error.reason == "column 下单时间: '2024-13-01' is not a date"


def test_profile_day_first_default_status_and_mapping() -> None:
    profile = ImportProfileSpec(
        column_mapping={"单据": "external_order_id", "日期": "placed_at", "钱": "total"},
        day_first=True,
        default_channel="wechat",
        default_status="completed",
    )
    result = plan(
        table(["单据", "日期", "钱"], ["X1", "3/5/2024", "8"]), profile=profile, default_channel=None
    )
    (order,) = result.orders
    assert order.placed_at.date() == date(2024, 5, 3)
    assert (order.channel_code, order.status, order.status_source) == ("wechat", "completed", "default")


def test_unknown_columns_are_listed() -> None:
    result = plan(table(["订单编号", "下单时间", "总金额", "颜色码"], ["A1", "2024-01-01", "9", "红"]))
    assert result.ok and result.unknown_columns == ["颜色码"]


def test_taobao_quirks_in_one_row() -> None:
    headers = [
        "订单编号",
        "订单创建时间",
        "联系手机",
        "联系电话 ",
        "买家应付货款",
        "买家应付邮费",
        "总金额",
        "宝贝标题 ",
        "宝贝总数量",
    ]
    result = plan(
        table(
            headers,
            [
                '="35153131473293579"',
                "2017-05-02 10:11:12",
                "'13912345678",
                "",
                "100.00",
                "10",
                "110.00",
                "杯",
                "1",
            ],
        )
    )
    (order,) = result.orders
    assert order.external_id == "35153131473293579"
    assert order.receiver_phone == "13912345678"
    assert (order.subtotal, order.shipping_fee, order.total) == (
        Decimal("100.00"),
        Decimal("10.00"),
        Decimal("110.00"),
    )


def test_error_workbook_has_failed_rows_reasons_and_no_formulas(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "e.csv",
        [
            ["订单编号", "下单时间", "总金额", "买家留言"],
            ["A1", "2024-01-01", "9", "ok"],
            ["A2", "2024-13-01", "abc", '="@SUM(1)"'],
            ["A3", "2024-01-01", "-1", "+86 hi"],
        ],
    )
    tbl = read_table(path)
    result = plan(tbl)
    data = build_error_workbook(tbl, result.errors)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    rows = list(sheet.iter_rows())
    assert rows[0] == ["订单编号", "下单时间", "总金额", "买家留言", REASON_HEADER, "原行号 / Source row"]
    assert [r[0] for r in rows[1:]] == ["A2", "A3"]
    assert "column 下单时间: '2024-13-01' is not a date" in rows[1][4]
    assert "column 总金额: 'abc' is not an amount" in rows[1][4]
    assert rows[1][3] == '\'="@SUM(1)"' and rows[2][3] == "'+86 hi"
    assert rows[1][5] == 3.0
    # the clerk fixes the workbook and imports it again: the extra columns are ignored
    fixed = tmp_path / "fixed.xlsx"
    fixed.write_bytes(data)
    again = plan(read_table(fixed))
    assert again.unknown_columns == [] and "错误原因 / Error" in again.ignored_columns


def test_error_workbook_lists_file_problems(tmp_path: Path) -> None:
    tbl = table(["订单号", "订单编号", "下单时间"], ["A1", "A1", "2024-01-01"])
    data = build_error_workbook(tbl, plan(tbl).errors)
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert workbook.sheet_names == ["错误 Errors", "文件 File"]
    assert "both map to" in workbook.get_sheet_by_name("文件 File").to_python()[1][0]


def test_neutralise() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("@cmd") == "'@cmd"
    assert neutralise("-2") == "'-2"
    assert neutralise("a\x00b") == "ab"
    assert neutralise(5) == 5
    assert neutralise(datetime(2024, 1, 1, tzinfo=SH)) == datetime(2024, 1, 1)
