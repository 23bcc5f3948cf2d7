"""What every statement parser returns, and the cell helpers they share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from oms.errors import ValidationFailed
from oms.money import CENT

PAYMENT, REFUND = "payment", "refund"


@dataclass(frozen=True)
class StatementRow:
    """One money movement of a statement; amounts are positive Decimals (the kind says the direction)."""

    row_number: int
    kind: str
    transaction_id: str
    merchant_order_no: str
    amount: Decimal
    fee: Decimal = Decimal("0.00")
    refund_no: str = ""
    occurred_at: dt.datetime | None = None
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def line_key(self) -> str:
        """Identity of the movement across statements (a day's bill and a month's bill overlap)."""
        if self.kind == REFUND:
            return f"refund:{self.transaction_id}:{self.refund_no or self.row_number}"
        return f"payment:{self.transaction_id}"


def decode(content: bytes) -> str:
    """Text of a bill file: UTF-8 (with or without BOM), else GB18030 (a superset of GBK, as Alipay writes)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("gb18030")


def clean(value: str | None) -> str:
    """A cell without WeChat's leading backtick, Alipay's tab padding and surrounding blanks."""
    return (value or "").strip().lstrip("`").strip()


def amount(value: str, *, row: int, column: str) -> Decimal:
    """A cell as a cent-exact Decimal (absolute value); an unreadable amount names its row and column."""
    text = clean(value).replace(",", "") or "0"
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(
            _("row %(row)s, column %(col)s: '%(v)s' is not an amount")
            % {"row": row, "col": column, "v": text},
            code="invalid_amount",
            field=column,
        )
    return abs(number).quantize(CENT)


def moment(value: str, *, row: int, column: str) -> dt.datetime | None:
    """A 'YYYY-MM-DD HH:MM:SS' cell as a naive local datetime (None when empty)."""
    text = " ".join(clean(value).split())
    if not text:
        return None
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M"):
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise ValidationFailed(
        _("row %(row)s, column %(col)s: '%(v)s' is not a date") % {"row": row, "col": column, "v": text},
        code="invalid_date",
        field=column,
    )


def require_columns(header: list[str], needed: tuple[str, ...], *, platform: str) -> dict[str, int]:
    """Column name → index; refuses a file lacking a needed column (wrong file or wrong platform)."""
    index = {name: i for i, name in enumerate(header)}
    missing = [name for name in needed if name not in index]
    if missing:
        raise ValidationFailed(
            _("this is not a %(platform)s bill: columns %(missing)s are missing")
            % {"platform": platform, "missing": ", ".join(missing)},
            code="unknown_format",
            field="file",
        )
    return index
