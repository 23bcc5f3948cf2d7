"""django-q2 tasks of the reports app: scheduled delivery of subscriptions. Tasks take ids and call a service."""

from __future__ import annotations

from reports.services import deliver_subscription


def deliver_subscription_task(subscription_id: int | str) -> int:
    """Build and e-mail one subscription's workbook (the schedule passes the id as its argument)."""
    return deliver_subscription(int(subscription_id))
