"""django-q2 tasks of fulfilment and payments after confirmation. Each calls one service and is idempotent.

Scheduled by migration orders/0004: carrier tracking every 30 minutes, overdue payments every hour.
"""

from __future__ import annotations


def poll_tracking_task(batch_size: int = 100) -> str:
    """Poll one batch of open shipments with the configured carrier-tracking adapter."""
    from orders.services.tracking import poll_open_shipments

    summary = poll_open_shipments(batch_size=batch_size)
    return (
        f"{summary.parcels} parcels, {summary.new_events} new checkpoints, {summary.delivered} delivered, "
        f"{len(summary.errors)} errors"
    )


def flag_overdue_payments_task() -> str:
    """Flag 'payment overdue' on orders with an unpaid instalment or balance past its due date."""
    from orders.services.special import flag_overdue_payments

    flagged = flag_overdue_payments()
    return f"{len(flagged)} orders flagged"
