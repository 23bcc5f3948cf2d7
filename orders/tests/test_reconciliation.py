"""Settlement statements: Alipay and WeChat Pay bill parsing, matching by transaction id then by order
number and amount, idempotent re-import."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.errors import ValidationFailed
from orders import services
from orders.choices import OrderStatus, PaymentMethod
from orders.models import SettlementLine, SettlementStatement
from orders.reconciliation import parse_alipay, parse_wechat
from orders.services import reconciliation, returns
from orders.tests.factories import TEST_ACTOR, order_in_status

M = SettlementLine.Match

ALIPAY_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def alipay_bill(*rows: tuple[str, str, str, str, str, str, str]) -> bytes:
    """A GBK Alipay business-detail file: (trade no, order no, type, order amount, received, refund no, fee)."""
    lines = [
        "#支付宝业务明细查询",
        "#账号：[20880000000000000156]",
        "#起始日期：[2024年05月01日 00:00:00]   终止日期：[2024年05月02日 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        ALIPAY_HEADER,
    ]
    for trade, order, kind, total, received, refund_no, fee in rows:
        lines.append(
            f"{trade}\t,{order}\t,{kind},T恤,2024-05-01 10:00:00,2024-05-01 10:00:05,,,,,buyer@example.com,"
            f"{total},{received},0.00,0.00,0.00,0.00,0.00,,0.00,0.00,{refund_no},{fee},0.00,"
        )
    lines += [
        "#-----------------------------------------业务明细列表结束------------------------------------",
        "#交易合计：1笔，商家实收：20.00元，服务费：-0.12元",
        "#导出时间：[2024年05月02日 09:00:00]",
    ]
    return "\r\n".join(lines).encode("gbk")


WECHAT_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)


def wechat_bill(*rows: tuple[str, str, str, str, str, str]) -> bytes:
    """A WeChat Pay ALL bill: (wx order no, merchant order no, status, settle amount, refund amount, refund no)."""
    lines = [WECHAT_HEADER]
    for wx, order, status, settle, refund, refund_no in rows:
        cells = [
            "2024-05-01 10:00:00",
            "wx2421b1c4370ec43b",
            "10000100",
            "0",
            "",
            wx,
            order,
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "JSAPI",
            status,
            "CMC",
            "CNY",
            settle,
            "0.00",
            refund_no or "0",
            "",
            refund or "0.00",
            "0.00",
            "",
            "",
            "T恤",
            "",
            "0.12",
            "0.60%",
            settle,
            refund or "0.00",
            "",
        ]
        lines.append(",".join("`" + c for c in cells))
    lines += [
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        "`1,`20.00,`0.00,`0.00,`0.12,`20.00,`0.00",
    ]
    return "\n".join(lines).encode("utf-8")


def test_parse_alipay_bill():
    rows = parse_alipay(
        alipay_bill(
            ("2024050122001", "SO240501000001", "交易", "20.00", "20.00", "", "-0.12"),
            ("2024050122001", "SO240501000001", "退款", "20.00", "-5.00", "RF1", "0.03"),
        )
    )
    assert [(r.kind, r.transaction_id, r.merchant_order_no, r.amount, r.fee, r.refund_no) for r in rows] == [
        ("payment", "2024050122001", "SO240501000001", Decimal("20.00"), Decimal("0.12"), ""),
        ("refund", "2024050122001", "SO240501000001", Decimal("5.00"), Decimal("0.03"), "RF1"),
    ]
    assert rows[0].row_number == 6 and rows[0].occurred_at.day == 1


def test_parse_wechat_bill_and_errors():
    rows = parse_wechat(
        wechat_bill(
            ("4200001", "SO1", "SUCCESS", "20.00", "", ""),
            ("4200001", "SO1", "REFUND", "0.00", "5.00", "5030001"),
        )
    )
    assert [(r.kind, r.amount, r.refund_no) for r in rows] == [
        ("payment", Decimal("20.00"), ""),
        ("refund", Decimal("5.00"), "5030001"),
    ]
    with pytest.raises(ValidationFailed) as refused:
        parse_wechat(wechat_bill(("4200001", "SO1", "SUCCESS", "2O.00", "", "")))
    assert "row 2, column 订单金额" in refused.value.message
    with pytest.raises(ValidationFailed) as wrong:
        parse_wechat(alipay_bill(("1", "SO1", "交易", "1.00", "1.00", "", "0")))
    assert wrong.value.code == "unknown_format"


@pytest.mark.django_db
def test_match_by_transaction_id_then_order_number_and_idempotent(product):
    by_id = order_in_status(OrderStatus.PENDING_PAYMENT, lines=[(product, 2)])
    services.record_payment(
        by_id, amount="20.00", method=PaymentMethod.ALIPAY, transaction_id="T1", actor=TEST_ACTOR
    )
    returns.refund_order(by_id, amount="5.00", reason="x", transaction_id="RF1", actor=TEST_ACTOR)
    by_number = order_in_status(OrderStatus.PENDING_REVIEW, lines=[(product, 1)])
    wrong_amount = order_in_status(OrderStatus.PENDING_PAYMENT, lines=[(product, 1)])
    services.record_payment(
        wrong_amount, amount="10.00", method=PaymentMethod.ALIPAY, transaction_id="T3", actor=TEST_ACTOR
    )
    content = alipay_bill(
        ("T1", by_id.number, "交易", "20.00", "20.00", "", "-0.12"),
        ("T1", by_id.number, "退款", "20.00", "-5.00", "RF1", "0.03"),
        ("T2", by_number.number, "交易", "10.00", "10.00", "", "-0.06"),
        ("T3", wrong_amount.number, "交易", "9.00", "9.00", "", "-0.05"),
        ("T4", "SO-UNKNOWN", "交易", "1.00", "1.00", "", "0"),
    )

    statement, created = reconciliation.import_statement(
        "alipay", content, filename="a.csv", actor=TEST_ACTOR
    )

    assert created
    lines = {(line.transaction_id, line.kind): line for line in statement.lines.all()}
    assert lines[("T1", "payment")].match_status == M.MATCHED and lines[("T1", "payment")].order == by_id
    assert lines[("T1", "refund")].match_status == M.MATCHED
    assert lines[("T2", "payment")].match_status == M.MATCHED and lines[("T2", "payment")].order == by_number
    mismatch = lines[("T3", "payment")]
    assert (mismatch.match_status, mismatch.difference) == (M.AMOUNT_MISMATCH, Decimal("-1.00"))
    assert lines[("T4", "payment")].match_status == M.UNMATCHED
    assert (
        statement.lines_total,
        statement.lines_matched,
        statement.lines_mismatched,
        statement.lines_unmatched,
    ) == (
        5,
        3,
        1,
        1,
    )
    assert {line.transaction_id for line in reconciliation.open_items()} == {"T3", "T4"}

    rows = list(SettlementLine.objects.order_by("pk").values())
    again, created_again = reconciliation.import_statement(
        "alipay", content, filename="a.csv", actor=TEST_ACTOR
    )
    assert (again.pk, created_again) == (statement.pk, False)
    assert list(SettlementLine.objects.order_by("pk").values()) == rows
    reconciliation.rematch_statement(statement)
    assert list(SettlementLine.objects.order_by("pk").values()) == rows

    # A monthly bill overlapping the daily one: movements already imported are not counted twice.
    monthly = content + "\r\n".encode("gbk")
    second, _created = reconciliation.import_statement("alipay", monthly, filename="m.csv", actor=TEST_ACTOR)
    assert second.pk != statement.pk and second.lines_total == 0
    assert SettlementStatement.objects.count() == 2
