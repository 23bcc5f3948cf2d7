"""Automation rules managers write in the admin, each firing recorded, plus what rules send and give.

Rule          trigger + conditions JSON (rules.conditions) + actions JSON (rules.actions_spec), priority, dates
RuleRun       one firing of a rule on one order for one trigger occurrence (unique: fires at most once)
RestrictedRegion  the manager-maintained list behind the `address.restricted` fact
Notification  one SMS or email to a customer, sent after commit by a task, retried, never blocking orders
WebhookCall   one signed POST a rule makes to an outside address, sent and retried like Notification
Coupon        a coupon a rule issued to a customer
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.choices import OrderStatus
from orders.models import MONEY
from rules.actions_spec import TRIGGERS, validate_actions
from rules.conditions import region_path, validate_conditions

TRIGGER_CHOICES = [(code, label) for code, label in TRIGGERS.items()]


class RuleQuerySet(models.QuerySet):
    """Rules as the engine reads them."""

    def active(self, now=None) -> RuleQuerySet:
        """Enabled rules whose date range covers `now`, in the order they run (priority, then pk)."""
        now = now or timezone.now()
        return (
            self.filter(enabled=True)
            .filter(Q(active_from__isnull=True) | Q(active_from__lte=now))
            .filter(Q(active_until__isnull=True) | Q(active_until__gt=now))
            .order_by("priority", "pk")
        )


class Rule(models.Model):
    """An automation a manager writes: when `trigger` happens and `conditions` hold, carry out `actions`."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    trigger = models.CharField(_("trigger"), max_length=30, choices=TRIGGER_CHOICES, default="order_created")
    trigger_status = models.CharField(
        _("to status"),
        max_length=20,
        choices=OrderStatus.choices,
        blank=True,
        help_text=_("For 'Status changed': only when the order moves to this status (empty: any change)."),
    )
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    actions = models.JSONField(_("actions"), default=list)
    priority = models.IntegerField(_("priority"), default=100, help_text=_("Lower numbers run first."))
    stop_after_match = models.BooleanField(
        _("stop after match"), default=False, help_text=_("When this rule matches, later rules are skipped.")
    )
    enabled = models.BooleanField(_("enabled"), default=False)
    active_from = models.DateTimeField(_("active from"), null=True, blank=True)
    active_until = models.DateTimeField(_("active until"), null=True, blank=True)

    schedule_every_minutes = models.PositiveIntegerField(
        _("run every (minutes)"), default=60, help_text=_("For 'On a schedule' rules.")
    )
    schedule_statuses = models.JSONField(
        _("orders in statuses"),
        default=list,
        blank=True,
        help_text=_("For 'On a schedule' rules: only orders in these statuses (empty: any status)."),
    )
    schedule_min_age_minutes = models.PositiveIntegerField(
        _("placed at least (minutes) ago"), default=0, help_text=_("For 'On a schedule' rules.")
    )
    schedule_lookback_days = models.PositiveIntegerField(
        _("placed within (days)"), default=30, help_text=_("For 'On a schedule' rules: ignore older orders.")
    )

    preset = models.CharField(_("preset"), max_length=50, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    disabled_reason = models.CharField(_("disabled because"), max_length=500, blank=True, editable=False)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RuleQuerySet.as_manager()

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["priority", "pk"]
        indexes = [models.Index(fields=["trigger", "enabled", "priority"], name="rule_trigger_enabled")]
        constraints = [
            models.CheckConstraint(condition=Q(trigger__in=list(TRIGGERS)), name="rule_trigger_valid"),
            models.CheckConstraint(
                condition=Q(active_from__isnull=True)
                | Q(active_until__isnull=True)
                | Q(active_until__gt=models.F("active_from")),
                name="rule_active_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Validate the JSON of conditions and actions with messages naming the bad condition or action."""
        errors: dict[str, list[str]] = {}
        condition_messages = validate_conditions(self.conditions)
        if condition_messages:
            errors["conditions"] = [str(message) for message in condition_messages]
        action_messages = validate_actions(self.actions)
        if action_messages:
            errors["actions"] = [str(message) for message in action_messages]
        if self.trigger_status and self.trigger != "status_changed":
            errors["trigger_status"] = [_("'to status' applies only to the 'Status changed' trigger.")]
        bad = [s for s in self.schedule_statuses or [] if s not in OrderStatus.values]
        if bad:
            errors["schedule_statuses"] = [_("unknown status %(s)s") % {"s": ", ".join(map(str, bad))}]
        if self.active_from and self.active_until and self.active_until <= self.active_from:
            errors["active_until"] = [_("must be after 'active from'")]
        if errors:
            raise ValidationError(errors)

    def is_active_at(self, when=None) -> bool:
        """Whether the rule is enabled and its date range covers `when` (default now)."""
        when = when or timezone.now()
        return (
            self.enabled
            and (self.active_from is None or self.active_from <= when)
            and (self.active_until is None or self.active_until > when)
        )


class RuleRun(models.Model):
    """One firing of a rule on one order for one trigger occurrence; the unique key makes firing once-only."""

    rule = models.ForeignKey(Rule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="runs")
    order = models.ForeignKey(
        "orders.Order", verbose_name=_("order"), on_delete=models.CASCADE, related_name="rule_runs"
    )
    trigger = models.CharField(_("trigger"), max_length=30)
    trigger_key = models.CharField(_("occurrence"), max_length=80)
    matched = models.BooleanField(_("matched"), default=True)
    actions_done = models.JSONField(_("actions done"), default=list, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    trace = models.JSONField(_("evaluation"), default=dict, blank=True)
    duration_ms = models.FloatField(_("duration (ms)"), default=0)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("rule run")
        verbose_name_plural = _("rule runs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "order", "trigger_key"], name="rule_run_once_per_occurrence"
            )
        ]
        indexes = [models.Index(fields=["order", "trigger_key"], name="rule_run_order_key")]

    def __str__(self) -> str:
        return f"{self.rule_id}@{self.order_id} {self.trigger_key}"

    @property
    def failed(self) -> bool:
        """Whether anything went wrong in this run."""
        return bool(self.errors)


class RestrictedRegion(models.Model):
    """A province, city or district orders are delayed to; read by the `address.restricted` fact."""

    province = models.CharField(_("province"), max_length=50)
    city = models.CharField(_("city"), max_length=50, blank=True, help_text=_("Empty: the whole province."))
    district = models.CharField(
        _("district"), max_length=50, blank=True, help_text=_("Empty: the whole city.")
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("restricted region")
        verbose_name_plural = _("restricted regions")
        ordering = ["province", "city", "district"]
        constraints = [
            models.UniqueConstraint(fields=["province", "city", "district"], name="restricted_region_unique")
        ]

    def __str__(self) -> str:
        return "/".join(part for part in (self.province, self.city, self.district) if part)

    @property
    def path(self) -> tuple[str, ...]:
        """The comparable region path (suffixes dropped), as conditions.region_path makes it."""
        return region_path([self.province, self.city, self.district])


class OutboxStatus(models.TextChoices):
    """Where an outgoing message or call stands."""

    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class Notification(models.Model):
    """One SMS or email to a customer, created with the rule's firing and sent after commit with retries."""

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")

    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    rule = models.ForeignKey(
        Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    backend = models.CharField(_("backend"), max_length=30, blank=True)
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("message"))
    status = models.CharField(
        _("status"), max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    provider_id = models.CharField(_("provider message id"), max_length=100, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.recipient}"


class WebhookCall(models.Model):
    """One signed POST of an order to an outside address, made by a rule after commit and retried."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="rule_webhook_calls")
    rule = models.ForeignKey(
        Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_calls"
    )
    url = models.URLField(_("URL"), max_length=2000)
    delivery_id = models.UUIDField(_("delivery id"), unique=True)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rule webhook call")
        verbose_name_plural = _("rule webhook calls")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="rule_webhook_due")]

    def __str__(self) -> str:
        return f"{self.url} ({self.get_status_display()})"


class Coupon(models.Model):
    """A coupon issued to a customer (by a rule or by hand): amount, expiry, and whether it was redeemed."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    customer = models.ForeignKey(
        "orders.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="coupons"
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default=settings.OMS_CURRENCY)
    rule = models.ForeignKey(
        Rule,
        verbose_name=_("issued by rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coupons",
    )
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("earned with order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coupons_earned",
    )
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"))
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    redeemed_order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("redeemed on order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coupons_redeemed",
    )

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="coupon_amount_positive"),
            models.UniqueConstraint(
                fields=["rule", "order"], condition=Q(rule__isnull=False), name="coupon_once_per_rule_order"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_redeemed(self) -> bool:
        """Whether the coupon has been used."""
        return self.redeemed_at is not None

    @property
    def is_valid(self) -> bool:
        """Unused and not expired."""
        return not self.is_redeemed and self.valid_until > timezone.now()
