"""django-q2 tasks of the channels app. Each takes ids, calls one service, and is idempotent.

Delivery is at least once (ORM broker) or at most once (Redis broker loses in-flight tasks when a worker dies), so
every task is safe to run twice and a lost one only delays data: the schedule runs again and resumes from the
committed cursor. Per-task `timeout` stays below the cluster's `retry` (settings.Q_CLUSTER: retry 720 s, finite
max_attempts), so a slow task is never re-delivered while it still runs.
"""

from __future__ import annotations

import logging
import os

from django.core.cache import cache
from django.utils.dateparse import parse_datetime
from django_q.tasks import async_task

from channels.choices import SyncTrigger
from channels.models import Channel

logger = logging.getLogger(__name__)

SYNC_TIMEOUT = 570
"""Seconds a sync task may run (below Q_CLUSTER retry=720); a longer backlog continues on the next run."""
SHORT_TIMEOUT = 120
PUSHBACK_KICK_SECONDS = 10


def _options(name: str, timeout: int) -> dict:
    return {"q_options": {"task_name": name[:100], "timeout": timeout}}


def enqueue_sync(channel: Channel, *, trigger: str = SyncTrigger.MANUAL, since: str | None = None) -> str:
    """Queue a sync of one channel (the admin's 'sync now')."""
    return async_task(
        "channels.tasks.sync_channel_task",
        channel.pk,
        since=since,
        trigger=trigger,
        **_options(f"sync {channel.code}", SYNC_TIMEOUT),
    )


def sync_channel_task(channel_id: int, since: str | None = None, trigger: str = SyncTrigger.SCHEDULE) -> str:
    """Sync one channel from its cursor (or `since`, ISO 8601); a channel already syncing is skipped."""
    from channels.services.sync import SyncAlreadyRunning, sync_channel

    channel = Channel.objects.filter(pk=channel_id, is_active=True).first()
    if channel is None:
        return "inactive"
    since_at = parse_datetime(since) if since else None
    try:
        run = sync_channel(channel, since=since_at, trigger=trigger)
    except SyncAlreadyRunning:
        return "skipped: already running"
    return (
        f"run {run.pk}: {run.created} created, {run.updated} updated, {run.failed} failed [pid {os.getpid()}]"
    )


def enqueue_webhook_processing(delivery_pk: int) -> str:
    """Queue the processing of one accepted webhook delivery (its orders are the batch)."""
    return async_task(
        "channels.tasks.process_webhook_task",
        delivery_pk,
        **_options(f"webhook {delivery_pk}", SHORT_TIMEOUT),
    )


def process_webhook_task(delivery_pk: int) -> str:
    """Upsert the orders of one webhook delivery."""
    from channels.webhooks import process_delivery

    return process_delivery(delivery_pk)


def kick_pushback(channel_id: int) -> None:
    """Queue a push-back batch for a channel, at most once per few seconds (the sweep catches the rest)."""
    if cache.add(f"channels:pushback-kick:{channel_id}", 1, timeout=PUSHBACK_KICK_SECONDS):
        async_task(
            "channels.tasks.pushback_task", channel_id, **_options(f"pushback {channel_id}", SHORT_TIMEOUT)
        )


def pushback_task(channel_id: int) -> dict:
    """Push the due tracking numbers of one channel (a batch)."""
    from channels.services.pushback import push_back_channel

    return push_back_channel(channel_id)


def pushback_sweep_task() -> dict:
    """Push every channel's due tracking numbers (scheduled; retries what failed earlier)."""
    from channels.services.pushback import channels_with_due_pushbacks, push_back_channel

    return {channel_id: push_back_channel(channel_id) for channel_id in channels_with_due_pushbacks()}


def completeness_task(days: int = 1) -> int:
    """Compare platform and OMS order counts for the last `days` days of every syncing channel."""
    from channels.services.completeness import check_recent_days

    checked = 0
    for channel in Channel.objects.filter(is_active=True, sync_enabled=True):
        checked += len(check_recent_days(channel, days))
    return checked


def on_shipped(*, order_id: int, shipment_id: int | None = None, actor=None, **_extra) -> None:
    """Hook for orders 'shipped' (after commit): mark the channel order pending and kick a push-back batch."""
    from channels.services.pushback import mark_pending

    row = mark_pending(order_id)
    if row is not None:
        kick_pushback(row.channel_id)
