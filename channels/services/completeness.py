"""Sync completeness: per channel and day, the platform's own order count against OMS's, to catch lost orders."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from channels.adapters.errors import AdapterError
from channels.models import Channel, ChannelOrder, CompletenessCheck


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The day as [start, end) aware datetimes in the project's time zone."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def oms_count(channel: Channel, day: dt.date) -> int:
    """Channel orders imported as OMS orders whose platform modification time falls on `day`."""
    start, end = day_bounds(day)
    return ChannelOrder.objects.filter(
        channel=channel, order__isnull=False, platform_updated_at__gte=start, platform_updated_at__lt=end
    ).count()


def check_completeness(channel: Channel, day: dt.date, *, adapter=None) -> CompletenessCheck:
    """Ask the platform how many orders were modified on `day` and store the comparison (one row per day).

    Both sides count by last modification time, so an order modified again on a later day moves to that day on
    both sides once synced. A platform without a count API leaves platform_count empty with the reason.
    """
    from channels.services.sync import build_adapter

    start, end = day_bounds(day)
    own = adapter is None
    platform_count, error = None, ""
    try:
        adapter = adapter or build_adapter(channel)
        platform_count = adapter.count_orders(start, end - dt.timedelta(seconds=1))
    except AdapterError as exc:
        error = str(exc)[:300]
    finally:
        if own and adapter is not None:
            adapter.close()
    check, _created = CompletenessCheck.objects.update_or_create(
        channel=channel,
        day=day,
        defaults={
            "platform_count": platform_count,
            "oms_count": oms_count(channel, day),
            "error": error,
            "checked_at": timezone.now(),
        },
    )
    return check


def check_recent_days(channel: Channel, days: int = 7) -> list[CompletenessCheck]:
    """Check the last `days` full days (yesterday backwards)."""
    today = timezone.localdate()
    return [check_completeness(channel, today - dt.timedelta(days=n)) for n in range(1, days + 1)]
