"""Alipay 业务明细 (business detail) CSV: GBK, '#' comment lines around one header and the detail rows.

Columns used: 支付宝交易号, 商户订单号, 业务类型 (交易 = payment, 退款 = refund), 完成时间/创建时间,
订单金额（元） (payments), 商家实收（元） (negative on refunds), 服务费（元）, 退款批次号/请求号.
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

NEEDED = ("支付宝交易号", "商户订单号", "业务类型", "订单金额（元）", "商家实收（元）")
KINDS = {"交易": PAYMENT, "退款": REFUND}


def parse_alipay(content: bytes) -> list[StatementRow]:
    """Parse an Alipay business-detail bill; rows of other business types (e.g. 其他) are skipped."""
    rows: list[StatementRow] = []
    header: dict[str, int] | None = None
    for number, cells in enumerate(csv.reader(io.StringIO(decode(content))), start=1):
        if not cells or clean(cells[0]).startswith("#"):
            if header is not None and cells and clean(cells[0]).startswith("#"):
                break  # '#---业务明细列表结束---': the totals that follow are not movements
            continue
        cells = [clean(cell) for cell in cells]
        if header is None:
            header = require_columns(cells, NEEDED, platform="Alipay")
            continue
        record = {name: cells[i] if i < len(cells) else "" for name, i in header.items()}
        kind = KINDS.get(record["业务类型"])
        if kind is None or not record["支付宝交易号"]:
            continue
        value_column = "订单金额（元）" if kind == PAYMENT else "商家实收（元）"
        rows.append(
            StatementRow(
                row_number=number,
                kind=kind,
                transaction_id=record["支付宝交易号"],
                merchant_order_no=record["商户订单号"],
                amount=amount(record[value_column], row=number, column=value_column),
                fee=amount(record.get("服务费（元）", ""), row=number, column="服务费（元）"),
                refund_no=record.get("退款批次号/请求号", ""),
                occurred_at=moment(
                    record.get("完成时间") or record.get("创建时间", ""), row=number, column="完成时间"
                ),
                raw=record,
            )
        )
    if header is None:
        require_columns([], NEEDED, platform="Alipay")
    return rows
