"""Saved reports (a built-in report with its filters, or a custom report built by a manager) and their
e-mail subscriptions.

A saved report stores only the report's code and a JSON of parameters, validated in clean() by the report's
own form or by the builder (no dotted paths, no code in the database).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

CUSTOM = "custom"


class SavedReportQuerySet(models.QuerySet):
    """Saved reports filtered by who may see them."""

    def visible_to(self, user) -> SavedReportQuerySet:
        """Reports the user owns or that are shared with one of the user's groups (all for superusers)."""
        if user.is_superuser:
            return self
        return self.filter(Q(owner=user) | Q(shared_with__in=user.groups.all())).distinct()


class SavedReport(models.Model):
    """A report a manager named and kept: a built-in report with chosen filters, or a custom report."""

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    report = models.CharField(
        _("report"),
        max_length=50,
        default=CUSTOM,
        help_text=_("A built-in report, or 'custom' for a report built from dimensions and measures."),
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="saved_reports",
    )
    shared_with = models.ManyToManyField(
        Group,
        verbose_name=_("shared with groups"),
        blank=True,
        related_name="shared_reports",
        help_text=_("Members of these groups can open, export and subscribe to this report."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SavedReportQuerySet.as_manager()

    class Meta:
        verbose_name = _("saved report")
        verbose_name_plural = _("saved reports")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_custom(self) -> bool:
        """Whether this is a report-builder report rather than a built-in one."""
        return self.report == CUSTOM

    def clean(self) -> None:
        """Check that the report exists and that its parameters are valid for it."""
        from reports.services import validate_saved_params

        errors = validate_saved_params(self.report, self.params)
        if errors:
            raise ValidationError({"params": errors})


class Frequency(models.TextChoices):
    """How often a subscription is delivered, and so which period each delivery covers."""

    DAILY = "daily", _("Daily (yesterday)")
    WEEKLY = "weekly", _("Weekly on Monday (last week)")
    MONTHLY = "monthly", _("Monthly on the 1st (last month)")


class ReportSubscription(models.Model):
    """A saved report e-mailed as an Excel workbook on a schedule (a django-q2 Schedule row)."""

    report = models.ForeignKey(
        SavedReport, verbose_name=_("report"), on_delete=models.CASCADE, related_name="subscriptions"
    )
    frequency = models.CharField(
        _("frequency"), max_length=10, choices=Frequency.choices, default=Frequency.WEEKLY
    )
    send_time = models.TimeField(_("send at (local time)"), default="07:00")
    recipients = models.TextField(
        _("recipients"), help_text=_("E-mail addresses, one per line or comma-separated.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    schedule = models.OneToOneField(
        "django_q.Schedule",
        verbose_name=_("schedule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")
        ordering = ["report__name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(frequency__in=Frequency.values), name="report_subscription_frequency"
            )
        ]

    def __str__(self) -> str:
        return f"{self.report} ({self.get_frequency_display()})"

    @property
    def recipient_list(self) -> list[str]:
        """The recipients as a clean list."""
        return [
            part.strip()
            for part in self.recipients.replace("\n", ",").replace(";", ",").split(",")
            if part.strip()
        ]

    def clean(self) -> None:
        """Every recipient must be an e-mail address, and there must be at least one."""
        addresses = self.recipient_list
        if not addresses:
            raise ValidationError({"recipients": _("Enter at least one e-mail address.")})
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(
                {"recipients": _("Not an e-mail address: %(addresses)s") % {"addresses": ", ".join(bad)}}
            )
