"""Header normalisation and alias matching, including the real Taobao/Tmall and Online Retail header rows."""

from __future__ import annotations

import csv

import pytest

from orders.importing.headers import (
    ALIASES,
    FIELD_LABELS,
    IGNORED_HEADERS,
    alias_field,
    match_headers,
    normalize_header,
)
from orders.importing.profile import IGNORE
from orders.tests.importing_corpus import sample


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("收货地址 ", "收货地址"),
        ("  Order   ID ", "order id"),
        ("ＯＲＤＥＲ　ＩＤ", "order id"),  # full-width letters and space
        ("订单编号：", "订单编号"),
        ("*下单时间", "下单时间"),
        ("数量*", "数量"),
        (None, ""),
    ],
)
def test_normalize_header(raw: object, normal: str) -> None:
    assert normalize_header(raw) == normal


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("订单编号", "external_order_id"),
        ("订单号", "external_order_id"),
        ("Order ID", "external_order_id"),
        ("order_no", "external_order_id"),
        ("Order No.", "external_order_id"),
        ("下单时间", "placed_at"),
        ("订单创建时间", "placed_at"),
        ("Order Date", "placed_at"),
        ("订单付款时间 ", "paid_at"),
        ("收货地址 ", "full_address"),
        ("金额(元)", None),
        ("单价(元)", "unit_price"),
        ("运费（元）", "shipping_fee"),
        ("联系手机", "receiver_phone"),
        ("联系电话 ", "receiver_landline"),
        ("店铺名称", IGNORE),
        ("something else", None),
    ],
)
def test_alias_field(header: str, field: str | None) -> None:
    assert alias_field(header) == field


def test_alias_table_only_names_known_fields() -> None:
    assert set(ALIASES) <= set(FIELD_LABELS)
    for header in IGNORED_HEADERS:
        assert alias_field(header) == IGNORE, header


def test_match_headers_reports_unknown_duplicates_and_missing() -> None:
    match = match_headers(["订单号", "Order ID", "数量", "颜色码", "店铺名称"])
    assert match.fields == ["external_order_id", "external_order_id", "quantity", None, None]
    assert match.unknown_columns == ["颜色码"]
    assert match.ignored_columns == ["店铺名称"]
    assert match.duplicates == {"external_order_id": ["订单号", "Order ID"]}
    assert match.missing_required == ["placed_at"]
    assert match.problems == [
        "columns '订单号' and 'Order ID' both map to 订单编号 / Order ID; "
        "remove one or map it in the import profile",
        "missing required column 下单时间 / Order date",
    ]


def test_profile_mapping_wins_and_can_ignore() -> None:
    match = match_headers(
        ["单据号", "日期 ", "Order ID", "颜色码"],
        {"单据号": "external_order_id", "日期": "placed_at", "order id": IGNORE, "颜色码": "sku_properties"},
    )
    assert match.fields == ["external_order_id", "placed_at", None, "sku_properties"]
    assert match.ignored_columns == ["Order ID"]
    assert not match.problems


def test_profile_mapping_to_unknown_field_is_reported() -> None:
    match = match_headers(["订单编号", "下单时间", "x"], {"x": "colour"})
    assert "import profile maps a column to 'colour', which is not a known field" in match.problems


def _header_row(name: str) -> list[str]:
    with sample(f"sheets/{name}").open(encoding="utf-8") as handle:
        return next(csv.reader(handle))


def test_tmall_report_headers() -> None:
    match = match_headers(_header_row("tmall_order_report.csv"))
    assert match.fields == [
        "external_order_id", "total", "paid_amount", "full_address", "placed_at", "paid_at", "refund_amount"
    ]  # fmt: skip
    assert not match.unknown_columns and not match.problems


@pytest.mark.parametrize("name", ["ExportOrderList_headers_2017.csv", "ExportOrderList_headers_2019plus.csv"])
def test_taobao_order_list_headers_all_known(name: str) -> None:
    match = match_headers(_header_row(name))
    assert match.unknown_columns == []
    assert not match.problems
    by_header = dict(zip(match.headers, match.fields, strict=True))
    assert by_header["订单编号"] == "external_order_id"
    assert by_header["买家会员名"] == "buyer_id"
    assert by_header["买家应付货款"] == "subtotal"
    assert by_header["买家应付邮费"] == "shipping_fee"
    assert by_header["总金额"] == "total"
    assert by_header["买家实际支付金额"] == "paid_amount"
    assert by_header["订单状态"] == "status"
    assert by_header["收货人姓名"] == "receiver_name"
    assert by_header["收货地址 "] == "full_address"
    assert by_header["联系手机"] == "receiver_phone"
    assert by_header["订单创建时间"] == "placed_at"
    assert by_header["订单付款时间 "] == "paid_at"
    assert by_header["宝贝标题 "] == "product_name"
    assert by_header["物流单号 "] == "tracking_number"
    assert by_header["物流公司"] == "carrier"
    assert by_header["宝贝总数量"] == "quantity"


def test_taobao_2019_extra_headers() -> None:
    match = match_headers(_header_row("ExportOrderList_headers_2019plus.csv"))
    by_header = dict(zip(match.headers, match.fields, strict=True))
    assert by_header["确认收货时间"] == "completed_at"
    assert "主订单编号" in match.ignored_columns  # the parent of split orders; 订单编号 is the order


def test_taobao_detail_list_headers() -> None:
    match = match_headers(_header_row("ExportOrderDetailList_headers_2017.csv"))
    by_header = dict(zip(match.headers, match.fields, strict=True))
    assert by_header == {
        "订单编号": "external_order_id",
        "标题": "product_name",
        "价格": "unit_price",
        "购买数量": "quantity",
        "外部系统编号": None,
        "商品属性": "sku_properties",
        "套餐信息": None,
        "备注": "seller_note",
        "订单状态": "status",
        "商家编码": "sku_code",
    }
    assert match.unknown_columns == []
    assert match.missing_required == ["placed_at"]  # the detail list alone has no order date


def test_online_retail_headers() -> None:
    match = match_headers(_header_row("online-retail-2010-12-01.csv"))
    assert match.fields == [
        "external_order_id", "sku_code", "product_name", "quantity",
        "placed_at", "unit_price", "buyer_id", "country",
    ]  # fmt: skip
    assert not match.problems
