"""Channel configuration: write-only credentials, the per-channel django-q2 sync schedule, default mappings."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from channels.crypto import decrypt_credentials, encrypt_credentials
from channels.models import Channel, StatusMapping

CREDENTIAL_FIELDS = ("app_key", "app_secret", "access_token", "shop_id")
SYNC_TASK = "channels.tasks.sync_channel_task"


def schedule_name(channel: Channel) -> str:
    """The django-q2 Schedule name of a channel's sync."""
    return f"channel-sync:{channel.code}"


def set_credentials(channel: Channel, *, replace: bool = False, **values: str) -> Channel:
    """Encrypt and store credentials. Blank values keep what is stored (the form never shows secrets back).

    `replace=True` drops every stored value first (e.g. moving the channel to another app).
    """
    unknown = set(values) - set(CREDENTIAL_FIELDS)
    if unknown:
        raise ValueError(f"unknown credential fields: {sorted(unknown)}")
    current = {} if replace else decrypt_credentials(channel.credentials_encrypted)
    current.update({key: value.strip() for key, value in values.items() if value and value.strip()})
    channel.credentials_encrypted = encrypt_credentials(current)
    channel.credentials_updated_at = timezone.now()
    if channel.pk:
        channel.save(update_fields=["credentials_encrypted", "credentials_updated_at"])
    return channel


def clear_credentials(channel: Channel) -> Channel:
    """Forget the channel's credentials."""
    channel.credentials_encrypted = ""
    channel.credentials_updated_at = timezone.now()
    channel.save(update_fields=["credentials_encrypted", "credentials_updated_at"])
    return channel


def configure_sync_schedule(channel: Channel):
    """Create, update or delete the channel's django-q2 Schedule to match sync on/off and interval.

    Called explicitly by the admin (and anything else that changes those fields), never from a signal.
    Returns the Schedule, or None when sync is off.
    """
    from django_q.models import Schedule

    name = schedule_name(channel)
    if not (channel.sync_enabled and channel.is_active and channel.pk):
        Schedule.objects.filter(name=name).delete()
        return None
    minutes = max(1, int(channel.sync_interval_minutes or 15))
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().filter(name=name).first()
        if schedule is None:
            schedule = Schedule(name=name, next_run=timezone.now())
        schedule.func = SYNC_TASK
        schedule.args = repr((channel.pk,))
        schedule.kwargs = ""
        schedule.schedule_type = Schedule.MINUTES
        schedule.minutes = minutes
        schedule.repeats = -1
        schedule.save()
    return schedule


def load_default_status_mappings(platform: str) -> int:
    """Copy an adapter's default status map into editable platform rows (existing rows are kept); the count added."""
    from channels.adapters.registry import get_adapter_class

    defaults = getattr(get_adapter_class(platform), "default_status_map", {}) or {}
    existing = set(
        StatusMapping.objects.filter(platform=platform, channel__isnull=True).values_list(
            "platform_status", flat=True
        )
    )
    rows = [
        StatusMapping(
            platform=platform, platform_status=status, internal_status=internal, note="adapter default"
        )
        for status, internal in defaults.items()
        if status not in existing
    ]
    StatusMapping.objects.bulk_create(rows)
    return len(rows)
