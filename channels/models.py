"""Sales channels. A Channel is one shop on one platform; orders reference it.

Also the sync state around it: ChannelOrder (raw payload per platform order), StatusMapping / FieldMapping
(how platform data maps to OMS), SyncRun (one sync, also the per-channel lease), WebhookDelivery (pushes,
deduplicated) and CompletenessCheck (platform vs OMS order counts per day).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from channels.choices import (
    FieldTransform,
    MappedField,
    Platform,
    PushbackStatus,
    SyncRunStatus,
    SyncTrigger,
    WebhookStatus,
)
from orders.choices import OrderStatus

#: Internal statuses a platform status may map to (on hold is an OMS-only decision).
MAPPABLE_STATUSES = [(value, label) for value, label in OrderStatus.choices if value != OrderStatus.ON_HOLD]


class Channel(models.Model):
    """One shop on one sales platform (e.g. the merchant's Tmall flagship store)."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("shop name"), max_length=200)
    platform = models.CharField(_("platform"), max_length=20, choices=Platform.choices)
    currency = models.CharField(_("currency"), max_length=3, default=settings.OMS_CURRENCY)
    default_warehouse = models.ForeignKey(
        "orders.Warehouse",
        verbose_name=_("default warehouse"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    api_base_url = models.URLField(
        _("API base URL"),
        max_length=300,
        blank=True,
        help_text=_(
            "Leave empty for the platform's own API; set it to point a channel at a sandbox or test server."
        ),
    )
    credentials_encrypted = models.TextField(_("credentials (encrypted)"), blank=True, editable=False)
    credentials_updated_at = models.DateTimeField(
        _("credentials updated"), null=True, blank=True, editable=False
    )
    sync_enabled = models.BooleanField(_("sync enabled"), default=False)
    sync_interval_minutes = models.PositiveIntegerField(
        _("sync interval (minutes)"),
        default=15,
        help_text=_("How often the scheduled sync polls the platform."),
    )
    sync_cursor = models.DateTimeField(
        _("sync cursor"),
        null=True,
        blank=True,
        help_text=_("Orders modified up to this time are committed in OMS; the next sync starts here."),
    )
    initial_sync_days = models.PositiveIntegerField(
        _("first sync looks back (days)"), default=3, help_text=_("Used while the sync cursor is empty.")
    )
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(platform__in=Platform.values), name="channel_platform_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_credentials(self) -> bool:
        """Whether credentials were entered (they are never shown again)."""
        return bool(self.credentials_encrypted)

    def get_credentials(self):
        """The decrypted credentials as the adapters' `Credentials` dataclass (secrets kept out of its repr)."""
        from channels.adapters.base import Credentials
        from channels.crypto import decrypt_credentials

        data = decrypt_credentials(self.credentials_encrypted)
        return Credentials(
            app_key=data.get("app_key", ""),
            app_secret=data.get("app_secret", ""),
            access_token=data.get("access_token", ""),
            shop_id=data.get("shop_id", ""),
            extra={
                k: v for k, v in data.items() if k not in {"app_key", "app_secret", "access_token", "shop_id"}
            },
        )


class ChannelOrder(models.Model):
    """A platform order as last received: its raw payload and the OMS order it became (none while it fails)."""

    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,  # channel_order_unique and channel_order_updated lead with it
    )
    external_id = models.CharField(_("external order id"), max_length=64)
    order = models.OneToOneField(
        "orders.Order",
        verbose_name=_("order"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="channel_order",
    )
    raw = models.JSONField(_("raw payload"), default=dict)
    payload_hash = models.CharField(_("payload hash"), max_length=64, editable=False)
    platform_status = models.CharField(_("platform status"), max_length=64, blank=True)
    # channel_order_updated (channel, platform_updated_at) serves the lookups by time, which are per channel.
    platform_updated_at = models.DateTimeField(_("platform updated at"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced at"))
    last_error = models.TextField(
        _("last error"),
        blank=True,
        help_text=_("Why the payload could not be imported; retried on the next sync."),
    )
    pushback_status = models.CharField(
        _("push-back status"), max_length=12, choices=PushbackStatus.choices, default=PushbackStatus.NONE
    )
    pushback_error = models.TextField(_("push-back error"), blank=True)
    pushback_attempts = models.PositiveIntegerField(_("push-back attempts"), default=0)
    pushback_next_at = models.DateTimeField(_("next push-back attempt"), null=True, blank=True)
    pushed_back_at = models.DateTimeField(_("pushed back at"), null=True, blank=True)

    class Meta:
        verbose_name = _("channel order")
        verbose_name_plural = _("channel orders")
        ordering = ["-synced_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="channel_order_unique"),
            models.CheckConstraint(
                condition=Q(pushback_status__in=PushbackStatus.values), name="channel_order_pushback_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "platform_updated_at"], name="channel_order_updated"),
            # Only rows with a push back to do or to look at: most orders never have one.
            models.Index(
                fields=["pushback_status", "pushback_next_at"],
                name="channel_order_pushback_open",
                condition=Q(pushback_status__in=[PushbackStatus.PENDING, PushbackStatus.FAILED]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.external_id}"


class StatusMapping(models.Model):
    """Platform status → OMS status. Rows without a channel are the platform's defaults; a channel's own win."""

    platform = models.CharField(_("platform"), max_length=20, choices=Platform.choices)
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="status_mappings",
        help_text=_("Empty: the default for every channel of the platform."),
    )
    platform_status = models.CharField(_("platform status"), max_length=64)
    internal_status = models.CharField(_("OMS status"), max_length=20, choices=MAPPABLE_STATUSES)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("status mapping")
        verbose_name_plural = _("status mappings")
        ordering = ["platform", "channel", "platform_status"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_status"],
                condition=Q(channel__isnull=True),
                name="status_mapping_platform_unique",
            ),
            models.UniqueConstraint(
                fields=["channel", "platform_status"],
                condition=Q(channel__isnull=False),
                name="status_mapping_channel_unique",
            ),
            models.CheckConstraint(
                condition=Q(internal_status__in=[value for value, _label in MAPPABLE_STATUSES]),
                name="status_mapping_internal_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.platform_status} → {self.internal_status}"

    def clean(self) -> None:
        """A channel's override must be for the channel's own platform."""
        if self.channel_id and self.channel.platform != self.platform:
            raise ValidationError({"channel": _("this channel is on another platform")})


class FieldMapping(models.Model):
    """A value read from the raw payload (dotted path) into an order field, after the adapter's own mapping."""

    platform = models.CharField(_("platform"), max_length=20, choices=Platform.choices)
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="field_mappings",
        help_text=_("Empty: applies to every channel of the platform."),
    )
    source_path = models.CharField(
        _("platform field path"),
        max_length=200,
        help_text=_(
            "Dotted path in the raw JSON, list items by index: receiver_mobile, orders.order.0.title"
        ),
    )
    target_field = models.CharField(_("order field"), max_length=30, choices=MappedField.choices)
    transform = models.CharField(
        _("transform"), max_length=20, choices=FieldTransform.choices, default=FieldTransform.NONE
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("field mapping")
        verbose_name_plural = _("field mappings")
        ordering = ["platform", "channel", "target_field"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "target_field"],
                condition=Q(channel__isnull=True),
                name="field_mapping_platform_unique",
            ),
            models.UniqueConstraint(
                fields=["channel", "target_field"],
                condition=Q(channel__isnull=False),
                name="field_mapping_channel_unique",
            ),
            models.CheckConstraint(
                condition=Q(target_field__in=MappedField.values), name="field_mapping_target_valid"
            ),
            models.CheckConstraint(
                condition=Q(transform__in=FieldTransform.values), name="field_mapping_transform_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.source_path} → {self.target_field}"

    def clean(self) -> None:
        """The path must be well formed, the channel on the mapping's platform."""
        from channels.mapping import parse_path

        if self.channel_id and self.channel.platform != self.platform:
            raise ValidationError({"channel": _("this channel is on another platform")})
        try:
            parse_path(self.source_path)
        except ValueError as exc:
            raise ValidationError({"source_path": str(exc)})


class SyncRun(models.Model):
    """One sync of one channel: its window, progress and outcome. A running row is the channel's sync lease."""

    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="sync_runs"
    )
    trigger = models.CharField(
        _("trigger"), max_length=12, choices=SyncTrigger.choices, default=SyncTrigger.SCHEDULE
    )
    status = models.CharField(
        _("status"), max_length=12, choices=SyncRunStatus.choices, default=SyncRunStatus.RUNNING
    )
    window_start = models.DateTimeField(_("window start"), null=True, blank=True)
    window_end = models.DateTimeField(_("window end"), null=True, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    windows_total = models.PositiveIntegerField(_("windows"), default=0)
    windows_done = models.PositiveIntegerField(_("windows done"), default=0)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    conflicts = models.PositiveIntegerField(_("conflicts"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    cursor_after = models.DateTimeField(_("cursor after"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"))
    heartbeat_at = models.DateTimeField(_("last heartbeat"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            # The lease: at most one running sync per channel, enforced by the database on every backend.
            models.UniqueConstraint(
                fields=["channel"], condition=Q(status="running"), name="sync_run_one_running_per_channel"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SyncRunStatus.values), name="sync_run_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["channel", "-started_at"], name="sync_run_channel_started")]

    def __str__(self) -> str:
        return f"{self.channel} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self) -> dt.timedelta | None:
        """How long the run took (or has been running)."""
        from django.utils import timezone

        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def rows(self) -> int:
        """Orders handled so far."""
        return self.created + self.updated + self.unchanged + self.failed

    @property
    def is_running(self) -> bool:
        """True while the run holds the channel's lease."""
        return self.status == SyncRunStatus.RUNNING


class WebhookDelivery(models.Model):
    """A push received on a channel's webhook URL: accepted ones are unique by the platform's delivery id."""

    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    delivery_id = models.CharField(_("delivery id"), max_length=128, blank=True)
    topic = models.CharField(_("topic"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=WebhookStatus.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "delivery_id"],
                condition=~Q(status="refused"),
                name="webhook_delivery_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=WebhookStatus.values), name="webhook_delivery_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.delivery_id or '-'} {self.status}"


class CompletenessCheck(models.Model):
    """Orders the platform reports as modified on one day versus the channel orders OMS holds for that day."""

    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="completeness_checks"
    )
    day = models.DateField(_("day"))
    platform_count = models.IntegerField(_("platform count"), null=True, blank=True)
    oms_count = models.IntegerField(_("OMS count"), default=0)
    error = models.CharField(_("error"), max_length=300, blank=True)
    checked_at = models.DateTimeField(_("checked at"))

    class Meta:
        verbose_name = _("completeness check")
        verbose_name_plural = _("completeness checks")
        ordering = ["-day", "channel"]
        constraints = [models.UniqueConstraint(fields=["channel", "day"], name="completeness_check_unique")]

    def __str__(self) -> str:
        return f"{self.channel} {self.day}"

    @property
    def missing(self) -> int | None:
        """Orders the platform has and OMS lacks (negative: OMS has more, e.g. an order modified again later)."""
        if self.platform_count is None:
            return None
        return self.platform_count - self.oms_count

    @property
    def is_complete(self) -> bool:
        """True when OMS holds at least every order the platform counted."""
        return self.platform_count is not None and self.oms_count >= self.platform_count
