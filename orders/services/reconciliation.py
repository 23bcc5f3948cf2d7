"""Reconciliation: import a payment platform's settlement statement and match each line to OMS payments.

Matching: first by transaction id (a refund also by its refund number) against recorded payments of the
same kind; else by merchant order number (OMS number or channel order id) and amount. Lines end up
matched, unmatched or amount mismatch, listed for finance. Importing the same file again returns the
statement already imported and changes nothing; a movement already imported from another (overlapping)
statement is skipped, so nothing is counted twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import ValidationFailed
from oms.money import ZERO
from orders.choices import PaymentKind
from orders.models import Order, Payment, SettlementLine, SettlementStatement
from orders.reconciliation import PARSERS, StatementRow

M = SettlementLine.Match


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return timezone.make_aware(value) if value is not None and timezone.is_naive(value) else value


def import_statement(
    platform: str, content: bytes, *, filename: str, actor: Actor
) -> tuple[SettlementStatement, bool]:
    """Parse and store a statement file, then match its lines. Returns (statement, created).

    The same file (same bytes) imported again returns the first import with created=False.
    Parse errors (ValidationFailed naming row and column) leave nothing behind.
    """
    parser = PARSERS.get(platform)
    if parser is None:
        raise ValidationFailed(
            _("unknown payment platform '%(p)s'") % {"p": platform}, code="invalid_choice", field="platform"
        )
    digest = hashlib.sha256(content).hexdigest()
    existing = SettlementStatement.objects.filter(platform=platform, sha256=digest).first()
    if existing is not None:
        return existing, False
    rows = parser(content)
    with transaction.atomic():
        statement, created = SettlementStatement.objects.get_or_create(
            platform=platform,
            sha256=digest,
            defaults={"filename": filename[:255], "imported_by_id": actor.user_id},
        )
        if not created:
            return statement, False
        known = set(
            SettlementLine.objects.filter(
                platform=platform, line_key__in=[r.line_key for r in rows]
            ).values_list("line_key", flat=True)
        )
        fresh: dict[str, StatementRow] = {}
        for row in rows:
            if row.line_key not in known:
                fresh.setdefault(row.line_key, row)
        lines = SettlementLine.objects.bulk_create(
            [
                SettlementLine(
                    statement=statement,
                    platform=platform,
                    line_key=key[:200],
                    row_number=row.row_number,
                    kind=row.kind,
                    transaction_id=row.transaction_id[:128],
                    merchant_order_no=row.merchant_order_no[:128],
                    refund_no=row.refund_no[:128],
                    amount=row.amount,
                    fee=row.fee,
                    occurred_at=_aware(row.occurred_at),
                    raw=row.raw,
                )
                for key, row in fresh.items()
            ]
        )
        for line in SettlementLine.objects.filter(statement=statement) if lines else []:
            match_line(line)
        _count(statement)
    return statement, True


def expected_for(line: SettlementLine) -> tuple[Order | None, Decimal | None]:
    """(order, amount OMS recorded) for a statement line, or (None, None) when nothing matches. Reads only."""
    kind = PaymentKind.REFUND if line.kind == SettlementLine.Kind.REFUND else PaymentKind.PAYMENT
    ids = [i for i in (line.refund_no if kind == PaymentKind.REFUND else "", line.transaction_id) if i]
    for transaction_id in ids:
        payments = Payment.objects.filter(
            transaction_id=transaction_id, kind=kind, status=Payment.Status.SUCCEEDED
        )
        total = payments.aggregate(s=Sum("amount"))["s"]
        if total is not None:
            # A split order's payment is spread over parent and children: the sum is what the platform moved.
            first = payments.select_related("order").order_by("pk").first()
            return first.order, total
    if not line.merchant_order_no:
        return None, None
    orders = list(
        Order.objects.filter(Q(number=line.merchant_order_no) | Q(external_id=line.merchant_order_no))[:2]
    )
    if len(orders) != 1:
        return None, None
    order = orders[0]
    recorded = order.payments.filter(kind=kind, status=Payment.Status.SUCCEEDED)
    if recorded.filter(amount=line.amount, transaction_id="").exists():
        return order, line.amount
    total = recorded.aggregate(s=Sum("amount"))["s"] or ZERO
    if total == ZERO and kind == PaymentKind.PAYMENT:
        return order, order.total  # nothing recorded yet: compare with what the order asks for
    return order, total


def match_line(line: SettlementLine) -> SettlementLine:
    """(Re)match one line; saves only when the outcome changed, so matching twice changes nothing."""
    order, expected = expected_for(line)
    if order is None:
        status = M.UNMATCHED
    else:
        status = M.MATCHED if expected == line.amount else M.AMOUNT_MISMATCH
    wanted = {"match_status": status, "order_id": getattr(order, "pk", None), "expected_amount": expected}
    changed = [name for name, value in wanted.items() if getattr(line, name) != value]
    if changed:
        for name in changed:
            setattr(line, name, wanted[name])
        line.save(update_fields=changed)
    return line


def _count(statement: SettlementStatement) -> None:
    counts = {
        row["match_status"]: row["n"]
        for row in SettlementLine.objects.filter(statement=statement)
        .values("match_status")
        .annotate(n=Count("pk"))
        .order_by()
    }
    statement.lines_total = sum(counts.values())
    statement.lines_matched = counts.get(M.MATCHED, 0)
    statement.lines_unmatched = counts.get(M.UNMATCHED, 0)
    statement.lines_mismatched = counts.get(M.AMOUNT_MISMATCH, 0)
    statement.save(update_fields=["lines_total", "lines_matched", "lines_unmatched", "lines_mismatched"])


def rematch_statement(statement: SettlementStatement | int) -> SettlementStatement:
    """Match a statement's lines again (after finance recorded missing payments). Idempotent."""
    pk = statement.pk if isinstance(statement, SettlementStatement) else statement
    with transaction.atomic():
        locked = SettlementStatement.objects.select_for_update().get(pk=pk)
        for line in locked.lines.exclude(match_status=M.MATCHED):
            match_line(line)
        _count(locked)
        return locked


def open_items(platform: str | None = None):
    """Statement lines finance must look at: unmatched and amount mismatches, newest first."""
    lines = SettlementLine.objects.exclude(match_status=M.MATCHED).select_related("order", "statement")
    if platform:
        lines = lines.filter(platform=platform)
    return lines.order_by("-statement__imported_at", "row_number")
