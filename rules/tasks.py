"""django-q2 tasks of the rules engine. Each takes ids and calls one service; a retry does no harm."""

from __future__ import annotations

from rules import notifications, services


def send_notifications_task(notification_ids: list[int]) -> int:
    """Send these pending notifications (after the rule's transaction committed). Returns how many were sent."""
    return notifications.send_due_notifications(notification_ids)


def deliver_webhook_calls_task(call_ids: list[int]) -> int:
    """Deliver these pending rule webhook calls. Returns how many were delivered."""
    return notifications.deliver_due_webhook_calls(call_ids)


def retry_due_outbox_task() -> int:
    """Schedule (every minute): retry notifications and webhook calls whose backoff has elapsed."""
    return notifications.send_due_notifications() + notifications.deliver_due_webhook_calls()


def run_scheduled_rule_task(rule_id: int) -> dict:
    """Schedule of one 'On a schedule' rule: run it over its matching orders in batches."""
    outcome = services.run_scheduled_rule(rule_id)
    return {"scanned": outcome.scanned, "fired": outcome.fired, "failed": outcome.failed}
