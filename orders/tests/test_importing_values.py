"""Cell value parsers: every format people really type, and the messages for what cannot be read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.importing.values import (
    ORDER_STATUSES,
    AddressParts,
    ValueParseError,
    parse_amount,
    parse_datetime,
    parse_email,
    parse_identifier,
    parse_phone,
    parse_quantity,
    parse_status,
    parse_text,
    split_taobao_address,
)

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024/3/5", local(2024, 3, 5)),
        ("2024-03-05", local(2024, 3, 5)),
        ("2024.03.05", local(2024, 3, 5)),
        ("2024-03-05 14:00", local(2024, 3, 5, 14, 0)),
        ("2024-03-05 14:00:59", local(2024, 3, 5, 14, 0, 59)),
        ("2024-03-05T14:00:00", local(2024, 3, 5, 14, 0)),
        ("2024-03-05 14:00:00.250", local(2024, 3, 5, 14, 0, 0, 250000)),
        ("2024年3月5日", local(2024, 3, 5)),
        ("2024年03月05日 14时30分", local(2024, 3, 5, 14, 30)),
        ("2024年3月5日 14:30:15", local(2024, 3, 5, 14, 30, 15)),
        ("2024年3月5日 下午2点", local(2024, 3, 5, 14, 0)),
        ("3/5/2024", local(2024, 3, 5)),
        ("12/1/2010 8:26", local(2010, 12, 1, 8, 26)),
        ("12/1/2010 8:26 PM", local(2010, 12, 1, 20, 26)),
        ("20240305", local(2024, 3, 5)),
        ("5-Mar-2024", local(2024, 3, 5)),
        ("２０２４－０３－０５", local(2024, 3, 5)),  # full-width, as some IMEs type
        ("'2024-03-05", local(2024, 3, 5)),
        ('="2024-03-05"', local(2024, 3, 5)),
        ("  2024-03-05\u3000", local(2024, 3, 5)),
        (45356, local(2024, 3, 5)),  # Excel serial
        (45356.5, local(2024, 3, 5, 12, 0)),
        (45356.604166666664, local(2024, 3, 5, 14, 30)),  # float noise rounds to the second
        ("45356", local(2024, 3, 5)),
        (1, local(1900, 1, 1)),
        (59, local(1900, 2, 28)),
        (61, local(1900, 3, 1)),  # after Excel's fictitious 1900-02-29
        (datetime(2024, 3, 5, 14, 0), local(2024, 3, 5, 14, 0)),  # calamine gives naive datetimes
        (date(2024, 3, 5), local(2024, 3, 5)),
    ],
)
def test_parse_datetime_formats(value: object, expected: datetime) -> None:
    assert parse_datetime(value, tz=SH) == expected


def test_parse_datetime_offsets_convert_to_the_given_zone() -> None:
    assert parse_datetime("2024-03-05T14:00:00Z", tz=SH) == local(2024, 3, 5, 22, 0)
    assert parse_datetime("2024-03-05 14:00:00+0100", tz=SH) == local(2024, 3, 5, 21, 0)
    aware = datetime(2024, 3, 5, 6, 0, tzinfo=UTC)
    assert parse_datetime(aware, tz=SH) == local(2024, 3, 5, 14, 0)
    assert parse_datetime("2024-03-05 14:00", tz=UTC).tzinfo is UTC


def test_day_first_decides_slash_dates() -> None:
    assert parse_datetime("3/5/2024", tz=SH) == local(2024, 3, 5)
    assert parse_datetime("3/5/2024", day_first=True, tz=SH) == local(2024, 5, 3)
    assert parse_datetime("25/12/2023", day_first=True, tz=SH) == local(2023, 12, 25)
    with pytest.raises(
        ValueParseError, match=r"'25/12/2023' is not a date \(month 25\); if the file writes day"
    ):
        parse_datetime("25/12/2023", tz=SH)


@pytest.mark.parametrize("value", ["", "  ", None])
def test_parse_datetime_blank(value: object) -> None:
    assert parse_datetime(value, tz=SH) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-13-01", "'2024-13-01' is not a date"),
        ("2024-02-30", "'2024-02-30' is not a date"),
        ("tomorrow", "'tomorrow' is not a date"),
        ("2024-03-05 25:00", "'2024-03-05 25:00' is not a date"),
        (60, "Excel's 1900-02-29, a date that does not exist"),
        (0, "'0' is not a date"),
        (-5, "'-5' is not a date"),
        (3_000_000, "'3000000' is not a date"),
        (True, "'True' is not a date"),
        (timedelta(hours=2), "is a time without a date"),
        ("=TODAY()", "is a formula"),
    ],
)
def test_parse_datetime_refusals(value: object, message: str) -> None:
    with pytest.raises(ValueParseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_datetime(value, tz=SH)


@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    )
)
def test_parse_datetime_round_trips_common_formats(moment: datetime) -> None:
    for text in (
        moment.strftime("%Y-%m-%d %H:%M:%S"),
        moment.strftime("%Y/%m/%d %H:%M:%S"),
        f"{moment.year}年{moment.month}月{moment.day}日 {moment.hour}时{moment.minute}分{moment.second}秒",
        f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment.minute:02d}:{moment.second:02d}",
    ):
        assert parse_datetime(text, tz=SH) == moment.replace(tzinfo=SH), text


@given(
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 30)).map(
        lambda d: d.replace(microsecond=0)
    )
)
def test_excel_serial_round_trip(moment: datetime) -> None:
    delta = moment - datetime(1899, 12, 30)
    serial = delta.days + delta.seconds / 86400
    assert parse_datetime(serial, tz=UTC) == moment.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("¥1,234.50", "1234.50"),
        ("￥1,234.50", "1234.50"),
        ("1234.5元", "1234.50"),
        ("RMB 12", "12.00"),
        ("CNY12.3", "12.30"),
        ("$3", "3.00"),
        ("US$ 1,000", "1000.00"),
        ("(12.00)", "-12.00"),
        ("-¥5", "-5.00"),
        ("¥-5", "-5.00"),
        ("'12.30", "12.30"),
        ('="12.30"', "12.30"),
        ("0元", "0.00"),
        ("１２３．４", "123.40"),
        (" 1 234.50 ", "1234.50"),
        ("1.005", "1.01"),  # half up, to cents
        (12.5, "12.50"),
        (0.1 + 0.2, "0.30"),  # repr, not binary
        (1234, "1234.00"),
        (Decimal("9.999"), "10.00"),
    ],
)
def test_parse_amount(value: object, expected: str) -> None:
    assert parse_amount(value) == Decimal(expected)


@pytest.mark.parametrize("value", [None, "", " ", "-", "--"])
def test_parse_amount_blank(value: object) -> None:
    assert parse_amount(value) is None


@pytest.mark.parametrize(
    "value", ["abc", "12,5", "1.2.3", "¥", "12%", "1e5", True, float("nan"), "=A1*2", "1,23,4"]
)
def test_parse_amount_refuses(value: object) -> None:
    with pytest.raises(ValueParseError):
        parse_amount(value)


def test_parse_amount_message() -> None:
    with pytest.raises(ValueParseError, match="'九块九' is not an amount"):
        parse_amount("九块九")


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False))
def test_parse_amount_round_trips_formatted_text(amount: Decimal) -> None:
    for text in (f"¥{amount:,.2f}", f"{amount}元", f"{amount:,}", f"({amount})"):
        expected = -amount if text.startswith("(") else amount
        assert parse_amount(text) == expected, text


@pytest.mark.parametrize(
    ("value", "expected"),
    [("6", 6), ("6.0", 6), (6.0, 6), (3, 3), ("6件", 6), ("x3", 3), ("1,000", 1000), (" 2 ", 2)],
)
def test_parse_quantity(value: object, expected: int) -> None:
    assert parse_quantity(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "'-1' is a negative quantity"),
        (-2.0, "'-2.0' is a negative quantity"),
        ("1.5", "'1.5' is not a whole number"),
        (2.5, "'2.5' is not a whole number"),
        ("three", "'three' is not a quantity"),
        ("2000000", "too large"),
        (True, "is not a quantity"),
    ],
)
def test_parse_quantity_refusals(value: object, message: str) -> None:
    with pytest.raises(ValueParseError, match=message):
        parse_quantity(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (13912345678.0, "13912345678"),
        (13912345678, "13912345678"),
        ("'13912345678", "13912345678"),
        ('="13912345678"', "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("0086 13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("13912345678.0", "13912345678"),
        ("139****5678", "139****5678"),
        ("0571-88888888", "0571-88888888"),
        ("+44 20 7946 0958", "+442079460958"),
        ("0571-88888888转123", "0571-88888888转123"),
        ("", None),
    ],
)
def test_parse_phone(value: object, expected: str | None) -> None:
    assert parse_phone(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.39123E+10", "scientific notation"),
        ("call me", "is not a phone number"),
        ("123", "too short"),
        (1391234567.5, "is not a phone number"),
    ],
)
def test_parse_phone_refusals(value: object, message: str) -> None:
    with pytest.raises(ValueParseError, match=message):
        parse_phone(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  hello \u3000", "hello"),
        ('="35153131473293579"', "35153131473293579"),
        ('="say ""hi"""', 'say "hi"'),
        ("'00123", "00123"),
        (None, ""),
        (12.0, "12"),
        ("+86 phone", "+86 phone"),
        ("-", "-"),
    ],
)
def test_parse_text(value: object, expected: str) -> None:
    assert parse_text(value) == expected


def test_parse_text_refuses_formulas_but_keeps_wrapped_values() -> None:
    with pytest.raises(ValueParseError, match="is a formula; formulas are never evaluated") as info:
        parse_text('=HYPERLINK("http://evil.example","click")')
    assert info.value.code == "formula"
    assert parse_text('="=not a formula"') == "=not a formula"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("17850.0", "17850"),
        (17850.0, "17850"),
        ('="0012345"', "0012345"),
        (536365, "536365"),
        ("C536379", "C536379"),
    ],
)
def test_parse_identifier(value: object, expected: str) -> None:
    assert parse_identifier(value) == expected


@pytest.mark.parametrize("value", ["3.51531E+16", 35153131473293579.0])
def test_parse_identifier_refuses_mangled_long_numbers(value: object) -> None:
    with pytest.raises(ValueParseError, match="format the column as text"):
        parse_identifier(value)


def test_parse_email() -> None:
    assert parse_email(" a@b.cn ") == "a@b.cn"
    with pytest.raises(ValueParseError, match="'nope' is not an e-mail address"):
        parse_email("nope")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "浙江省 杭州市 西湖区 文三路 100号(310000)",
            AddressParts("浙江省", "杭州市", "西湖区", "文三路 100号", "310000"),
        ),
        (
            "浙江省 杭州市 西湖区 文三路 100号（310000）",
            AddressParts("浙江省", "杭州市", "西湖区", "文三路 100号", "310000"),
        ),
        (
            "上海 上海市 浦东新区 世纪大道 1号(000000)",
            AddressParts("上海", "上海市", "浦东新区", "世纪大道 1号", ""),
        ),
        ("北京 北京市 朝阳区 建国路(100000)", AddressParts("北京", "北京市", "朝阳区", "建国路", "100000")),
        ("广东省广州市天河区体育西路1号", AddressParts("广东省", "广州市", "天河区", "体育西路1号", "")),
        ("上海市浦东新区世纪大道1号", AddressParts("上海", "上海市", "浦东新区", "世纪大道1号", "")),
        ("内蒙古自治区", AddressParts("内蒙古自治区")),
        ("上海", AddressParts("上海")),
        ("", AddressParts()),
    ],
)
def test_split_taobao_address(value: str, expected: AddressParts) -> None:
    assert split_taobao_address(value) == expected


@pytest.mark.parametrize(
    ("label", "status"),
    [
        ("等待买家付款", "pending_payment"),
        ("买家已付款，等待卖家发货", "awaiting_shipment"),
        ("卖家已发货，等待买家确认", "shipped"),
        ("卖家已发货｜｜｜等待买家确认", "shipped"),
        ("卖家部分发货", "partially_shipped"),
        ("买家已签收", "delivered"),
        ("交易成功", "completed"),
        ("交易关闭", "closed"),
        ("已取消", "cancelled"),
        ("待审核", "pending_review"),
        ("WAIT_SELLER_SEND_GOODS", "awaiting_shipment"),
        ("TRADE_CLOSED_BY_TAOBAO", "cancelled"),
        ("Shipped", "shipped"),
        ("canceled", "cancelled"),
        ("awaiting_shipment", "awaiting_shipment"),
        ("", None),
    ],
)
def test_parse_status(label: str, status: str | None) -> None:
    assert parse_status(label) == status


def test_every_status_code_parses_as_itself() -> None:
    assert [parse_status(code) for code in ORDER_STATUSES] == list(ORDER_STATUSES)


def test_unknown_status_lists_known_labels() -> None:
    with pytest.raises(ValueParseError, match="'退货中' is not a known order status"):
        parse_status("退货中")
