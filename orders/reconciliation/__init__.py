"""Parsers of payment platforms' settlement statements: bytes in, StatementRow dataclasses out. Pure (no ORM).

Registry keyed by the platform's short name (SettlementStatement.Platform values).
"""

from __future__ import annotations

from collections.abc import Callable

from orders.reconciliation.alipay import parse_alipay
from orders.reconciliation.base import StatementRow, decode
from orders.reconciliation.wechat import parse_wechat

PARSERS: dict[str, Callable[[bytes], list[StatementRow]]] = {
    "alipay": parse_alipay,
    "wechat_pay": parse_wechat,
}
"""Platform key → parser."""

__all__ = ["PARSERS", "StatementRow", "decode", "parse_alipay", "parse_wechat"]
