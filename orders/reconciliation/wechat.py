"""WeChat Pay 交易账单 (trade bill, bill_type ALL/SUCCESS/REFUND): a header line, then one line per movement
with every field prefixed by '`', then a totals block starting with 总交易单数.

Columns used: 交易时间, 微信订单号, 商户订单号, 交易状态 (SUCCESS = payment, REFUND = refund; REVOKED skipped),
订单金额 (else 应结订单金额), 退款金额 (else 申请退款金额), 微信退款单号, 手续费.
"""

from __future__ import annotations

import csv
import io

from orders.reconciliation.base import (
    PAYMENT,
    REFUND,
    StatementRow,
    amount,
    clean,
    decode,
    moment,
    require_columns,
)

NEEDED = ("交易时间", "微信订单号", "商户订单号", "交易状态", "应结订单金额")
KINDS = {"SUCCESS": PAYMENT, "REFUND": REFUND}


def parse_wechat(content: bytes) -> list[StatementRow]:
    """Parse a WeChat Pay trade bill; the totals block at the end is not read as movements."""
    rows: list[StatementRow] = []
    header: dict[str, int] | None = None
    for number, raw_cells in enumerate(csv.reader(io.StringIO(decode(content))), start=1):
        cells = [clean(cell) for cell in raw_cells]
        if not any(cells):
            continue
        if header is None:
            header = require_columns(cells, NEEDED, platform="WeChat Pay")
            continue
        if cells[0].startswith("总交易单数"):
            break
        record = {name: cells[i] if i < len(cells) else "" for name, i in header.items()}
        kind = KINDS.get(record["交易状态"].upper())
        if kind is None:
            continue
        if kind == PAYMENT:
            column = "订单金额" if record.get("订单金额") else "应结订单金额"
        else:
            column = "退款金额" if record.get("退款金额") else "申请退款金额"
        rows.append(
            StatementRow(
                row_number=number,
                kind=kind,
                transaction_id=record["微信订单号"],
                merchant_order_no=record["商户订单号"],
                amount=amount(record.get(column, ""), row=number, column=column),
                fee=amount(record.get("手续费", ""), row=number, column="手续费"),
                refund_no=record.get("微信退款单号", "") if kind == REFUND else "",
                occurred_at=moment(record["交易时间"], row=number, column="交易时间"),
                raw=record,
            )
        )
    if header is None:
        require_columns([], NEEDED, platform="WeChat Pay")
    return rows
