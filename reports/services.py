"""Report services: run a built-in or saved report, validate saved parameters, keep a subscription's
django-q2 schedule in step with it, and deliver a subscription by e-mail. Admin, tasks and tests call these.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from reports.builder import BuilderForm, run_custom
from reports.forms import Period, ReportForm, form_from_json, local_today
from reports.models import CUSTOM, Frequency, ReportSubscription, SavedReport
from reports.queries import local_tz
from reports.registry import ReportResult, get_report, report_choices

#: Which period each delivery covers.
PERIOD_FOR_FREQUENCY = {
    Frequency.DAILY: Period.YESTERDAY,
    Frequency.WEEKLY: Period.LAST_WEEK,
    Frequency.MONTHLY: Period.LAST_MONTH,
}
SCHEDULE_TYPE = {Frequency.DAILY: "D", Frequency.WEEKLY: "W", Frequency.MONTHLY: "M"}
DELIVER_FUNC = "reports.tasks.deliver_subscription_task"


class ReportError(Exception):
    """A report could not be run (unknown code or invalid parameters); `errors` says why."""

    def __init__(self, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.errors = errors


def form_class_for(code: str) -> type[ReportForm]:
    """The parameters form of a built-in report, or the builder's form for custom reports."""
    if code == CUSTOM:
        return BuilderForm
    return get_report(code).form_class


def validate_saved_params(code: str, params: dict[str, Any]) -> list[str]:
    """Errors (empty when valid) of stored parameters for the report `code`."""
    if code != CUSTOM and code not in dict(report_choices()):
        return [_("Unknown report '%(code)s'.") % {"code": code}]
    form = form_from_json(form_class_for(code), params)
    if form.is_valid():
        return []
    return [f"{field}: {' '.join(messages)}" for field, messages in form.errors.items()]


def run_form(code: str, form: ReportForm, *, title: str = "") -> ReportResult:
    """Run a report from a bound, valid form (built-in or custom)."""
    params = form.to_params()
    if code == CUSTOM:
        return run_custom(params, title or _("Custom report"))
    result = get_report(code).run(params)
    if title:
        result.title = title
    return result


def run_saved_report(saved: SavedReport, *, period: str | None = None) -> ReportResult:
    """Run a saved report with its stored parameters (a subscription overrides the period)."""
    form = form_from_json(form_class_for(saved.report), saved.params, period=period)
    if not form.is_valid():
        raise ReportError(
            _("The saved parameters of '%(name)s' are no longer valid.") % {"name": saved}, form.errors
        )
    result = run_form(saved.report, form, title=saved.name)
    return result


def next_run_at(subscription: ReportSubscription, now: dt.datetime | None = None) -> dt.datetime:
    """The next local delivery time: tomorrow (daily), next Monday (weekly) or the next 1st (monthly)."""
    tz = local_tz()
    now = (now or timezone.now()).astimezone(tz)
    send_time = subscription.send_time
    if isinstance(send_time, str):
        send_time = dt.time.fromisoformat(send_time)
    today = now.date()
    if subscription.frequency == Frequency.DAILY:
        day = today
    elif subscription.frequency == Frequency.WEEKLY:
        day = today + dt.timedelta(days=(7 - today.weekday()) % 7)
    else:
        day = today.replace(day=1)
    candidate = dt.datetime.combine(day, send_time, tzinfo=tz)
    if candidate <= now:
        if subscription.frequency == Frequency.DAILY:
            candidate += dt.timedelta(days=1)
        elif subscription.frequency == Frequency.WEEKLY:
            candidate += dt.timedelta(days=7)
        else:
            first_next = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            candidate = dt.datetime.combine(first_next, send_time, tzinfo=tz)
    return candidate


def sync_subscription_schedule(subscription: ReportSubscription) -> None:
    """Create, update or remove the django-q2 Schedule that delivers this subscription (call after saving)."""
    from django_q.models import Schedule

    with transaction.atomic():
        schedule = subscription.schedule
        if not subscription.is_active:
            if schedule is not None:
                subscription.schedule = None
                subscription.save(update_fields=["schedule"])
                schedule.delete()
            return
        values = {
            "name": f"report-subscription-{subscription.pk}",
            "func": DELIVER_FUNC,
            "args": str(subscription.pk),
            "schedule_type": SCHEDULE_TYPE[subscription.frequency],
            "repeats": -1,
            "next_run": next_run_at(subscription),
        }
        if schedule is None:
            schedule = Schedule.objects.create(**values)
            subscription.schedule = schedule
            subscription.save(update_fields=["schedule"])
        else:
            for name, value in values.items():
                setattr(schedule, name, value)
            schedule.save()


def delete_subscription(subscription: ReportSubscription) -> None:
    """Delete a subscription and its schedule."""
    with transaction.atomic():
        schedule = subscription.schedule
        subscription.delete()
        if schedule is not None:
            schedule.delete()


def deliver_subscription(subscription_id: int) -> int:
    """Build the subscription's workbook for its last period and e-mail it; returns the number of recipients.

    Idempotent enough for a retry: a second run sends the same workbook again, nothing else changes.
    """
    from reports.excel import workbook_bytes, workbook_filename

    subscription = ReportSubscription.objects.select_related("report").get(pk=subscription_id)
    if not subscription.is_active:
        return 0
    period = PERIOD_FOR_FREQUENCY[subscription.frequency]
    result = run_saved_report(subscription.report, period=period)
    content = workbook_bytes(result)
    filters = "\n".join(f"{label}: {value}" for label, value in result.filters)
    message = EmailMessage(
        subject=_("[OMS] %(report)s") % {"report": subscription.report.name},
        body=_("Attached: %(report)s.\n\n%(filters)s\n\nSent by OMS (%(frequency)s subscription).")
        % {
            "report": subscription.report.name,
            "filters": filters,
            "frequency": subscription.get_frequency_display(),
        },
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=subscription.recipient_list,
    )
    message.attach(
        workbook_filename(result, local_today()),
        content,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    message.send()
    ReportSubscription.objects.filter(pk=subscription.pk).update(last_sent_at=timezone.now())
    return len(subscription.recipient_list)
