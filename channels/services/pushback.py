"""Push back: when OMS ships a channel order, the tracking number goes to the platform's ship-confirm API.

The "shipped" hook only marks the ChannelOrder pending and kicks a task; the task pushes every due pending order of
the channel in one batch. A failure is kept on the ChannelOrder (error, attempts, next attempt with exponential
backoff) and, once attempts run out, on the order's timeline. A periodic sweep retries what is due, so a lost task
only delays the push. Pushing twice is harmless: a succeeded row is never pushed again.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.adapters.errors import AdapterError
from channels.choices import PushbackStatus
from channels.models import Channel, ChannelOrder
from oms.actors import Actor
from orders.choices import EventType
from orders.models import Shipment
from orders.services import record_event

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BATCH_SIZE = 200
#: Adapter error codes that will never succeed by retrying.
PERMANENT_CODES = {"webhook_unsupported", "unsupported", "not_implemented", "unknown_platform"}


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt: 1, 2, 4 ... minutes, capped at an hour."""
    return dt.timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def mark_pending(order_id: int) -> ChannelOrder | None:
    """Mark a shipped order's channel order as waiting to be pushed; None if it did not come from a channel."""
    row = ChannelOrder.objects.filter(order_id=order_id).select_related("channel").first()
    if row is None:
        return None
    ChannelOrder.objects.filter(pk=row.pk).exclude(pushback_status=PushbackStatus.SUCCEEDED).update(
        pushback_status=PushbackStatus.PENDING, pushback_next_at=timezone.now(), pushback_error=""
    )
    return row


def push_back_channel(channel: Channel | int, *, limit: int = BATCH_SIZE, adapter=None) -> dict[str, int]:
    """Push the due pending orders of one channel (a batch); returns counts of pushed / failed / gave_up."""
    from channels.services.sync import build_adapter

    channel = channel if isinstance(channel, Channel) else Channel.objects.get(pk=channel)
    due = list(
        ChannelOrder.objects.filter(
            channel=channel, pushback_status=PushbackStatus.PENDING, pushback_next_at__lte=timezone.now()
        )
        .select_related("order")
        .order_by("pushback_next_at", "pk")[:limit]
    )
    counts = {"pushed": 0, "failed": 0, "gave_up": 0}
    if not due:
        return counts
    own = adapter is None
    adapter = adapter or build_adapter(channel)
    actor = Actor.channel(channel.code)
    try:
        for row in due:
            _push_one(row, adapter, actor, counts)
    finally:
        if own:
            adapter.close()
    return counts


def _push_one(row: ChannelOrder, adapter, actor: Actor, counts: dict[str, int]) -> None:
    shipment = Shipment.objects.filter(order_id=row.order_id).order_by("-shipped_at", "-pk").first()
    if shipment is None:
        ChannelOrder.objects.filter(pk=row.pk).update(pushback_status=PushbackStatus.NONE)
        return
    try:
        adapter.confirm_shipment(row.external_id, shipment.carrier, shipment.tracking_number)
    except AdapterError as exc:
        _record_failure(row, exc, actor, counts, permanent=exc.code in PERMANENT_CODES)
        return
    except Exception as exc:  # a bug or an unexpected answer: keep retrying, but say what happened
        logger.exception("push back of %s failed", row.external_id)
        _record_failure(row, exc, actor, counts, permanent=False)
        return
    now = timezone.now()
    with transaction.atomic():
        ChannelOrder.objects.filter(pk=row.pk).update(
            pushback_status=PushbackStatus.SUCCEEDED,
            pushed_back_at=now,
            pushback_error="",
            pushback_attempts=row.pushback_attempts + 1,
            pushback_next_at=None,
        )
        record_event(
            row.order,
            type=EventType.TRACKING_UPDATED,
            actor=actor,
            message=_("Tracking %(tracking)s sent to the platform") % {"tracking": shipment.tracking_number},
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            pushback="succeeded",
        )
    counts["pushed"] += 1


def _record_failure(
    row: ChannelOrder, exc: Exception, actor: Actor, counts: dict[str, int], *, permanent: bool
) -> None:
    attempts = row.pushback_attempts + 1
    message = str(exc)[:1000]
    gave_up = permanent or attempts >= MAX_ATTEMPTS
    status = (
        PushbackStatus.UNSUPPORTED
        if permanent
        else (PushbackStatus.FAILED if gave_up else PushbackStatus.PENDING)
    )
    with transaction.atomic():
        ChannelOrder.objects.filter(pk=row.pk).update(
            pushback_status=status,
            pushback_error=message,
            pushback_attempts=attempts,
            pushback_next_at=None if gave_up else timezone.now() + backoff(attempts),
        )
        if gave_up:
            record_event(
                row.order,
                type=EventType.TRACKING_UPDATED,
                actor=actor,
                message=_("Tracking could not be sent to the platform after %(n)s attempts: %(error)s")
                % {"n": attempts, "error": message},
                pushback="failed",
                attempts=attempts,
            )
    counts["gave_up" if gave_up else "failed"] += 1


def retry_pushback(row: ChannelOrder) -> None:
    """Put a failed push back in the queue again (admin action): attempts restart."""
    ChannelOrder.objects.filter(pk=row.pk).update(
        pushback_status=PushbackStatus.PENDING, pushback_attempts=0, pushback_next_at=timezone.now()
    )


def channels_with_due_pushbacks() -> list[int]:
    """Channel ids with pending pushes that are due (for the periodic sweep)."""
    return list(
        ChannelOrder.objects.filter(
            pushback_status=PushbackStatus.PENDING, pushback_next_at__lte=timezone.now()
        )
        .values_list("channel_id", flat=True)
        .distinct()
    )
