"""Report parameter forms: a period (preset or custom dates), channels, warehouses, plus per-report options.

A bound form turns into `ReportParams`, the only thing a report query receives. Parameters are stored on a
saved report as JSON (`ReportForm.to_json`) so a relative period ("last 30 days") stays relative.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectMultipleWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from channels.models import Channel
from orders.models import Warehouse
from reports.queries import local_tz


def _date_widget() -> forms.Widget:
    """A native date picker styled like the rest of the admin."""
    widget = UnfoldAdminTextInputWidget(attrs={"type": "date"})
    widget.input_type = "date"
    return widget


DATE_WIDGET = _date_widget()


class Period:
    """Relative periods a manager can pick (and a saved report or a subscription keeps relative)."""

    TODAY = "today"
    YESTERDAY = "yesterday"
    LAST_7 = "last_7_days"
    LAST_30 = "last_30_days"
    LAST_90 = "last_90_days"
    THIS_WEEK = "this_week"
    LAST_WEEK = "last_week"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_YEAR = "this_year"
    LAST_365 = "last_365_days"
    CUSTOM = "custom"

    CHOICES = [
        (TODAY, _("Today")),
        (YESTERDAY, _("Yesterday")),
        (LAST_7, _("Last 7 days")),
        (LAST_30, _("Last 30 days")),
        (LAST_90, _("Last 90 days")),
        (THIS_WEEK, _("This week")),
        (LAST_WEEK, _("Last week")),
        (THIS_MONTH, _("This month")),
        (LAST_MONTH, _("Last month")),
        (THIS_YEAR, _("This year")),
        (LAST_365, _("Last 365 days")),
        (CUSTOM, _("Custom dates")),
    ]


def local_today() -> dt.date:
    """Today in the merchant's time zone."""
    return timezone.now().astimezone(local_tz()).date()


def resolve_period(period: str, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The inclusive local date range of a relative period, as of `today`."""
    today = today or local_today()
    week_start = today - dt.timedelta(days=today.weekday())
    month_start = today.replace(day=1)
    last_month_end = month_start - dt.timedelta(days=1)
    ranges = {
        Period.TODAY: (today, today),
        Period.YESTERDAY: (today - dt.timedelta(days=1),) * 2,
        Period.LAST_7: (today - dt.timedelta(days=6), today),
        Period.LAST_30: (today - dt.timedelta(days=29), today),
        Period.LAST_90: (today - dt.timedelta(days=89), today),
        Period.THIS_WEEK: (week_start, today),
        Period.LAST_WEEK: (week_start - dt.timedelta(days=7), week_start - dt.timedelta(days=1)),
        Period.THIS_MONTH: (month_start, today),
        Period.LAST_MONTH: (last_month_end.replace(day=1), last_month_end),
        Period.THIS_YEAR: (today.replace(month=1, day=1), today),
        Period.LAST_365: (today - dt.timedelta(days=364), today),
    }
    return ranges[period]


@dataclass
class ReportParams:
    """Validated parameters of one report run."""

    date_from: dt.date
    date_to: dt.date
    channels: list[Channel] = field(default_factory=list)
    warehouses: list[Warehouse] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    #: (label, value) pairs describing the filters, for the page and the workbook header.
    labels: list[tuple[str, str]] = field(default_factory=list)

    @property
    def days(self) -> int:
        """Number of days in the range (inclusive)."""
        return (self.date_to - self.date_from).days + 1

    def describe(self) -> list[tuple[str, str]]:
        """Human-readable filters."""
        if self.labels:
            return self.labels
        return [
            (str(_("Period")), f"{self.date_from:%Y-%m-%d} – {self.date_to:%Y-%m-%d}"),
            (str(_("Channels")), ", ".join(str(c) for c in self.channels) or str(_("All"))),
            (str(_("Warehouses")), ", ".join(str(w) for w in self.warehouses) or str(_("All"))),
        ]


class ReportForm(forms.Form):
    """Filters common to every report: period, channels and warehouses."""

    period = forms.ChoiceField(
        label=_("Period"), choices=Period.CHOICES, initial=Period.LAST_30, widget=UnfoldAdminSelectWidget
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_WIDGET)
    date_to = forms.DateField(label=_("To"), required=False, widget=DATE_WIDGET)
    channel = forms.ModelMultipleChoiceField(
        label=_("Channels"),
        queryset=Channel.objects.all(),
        required=False,
        help_text=_("Leave empty for all channels."),
        widget=UnfoldAdminSelectMultipleWidget(attrs={"size": 4}),
    )
    warehouse = forms.ModelMultipleChoiceField(
        label=_("Warehouses"),
        queryset=Warehouse.objects.all(),
        required=False,
        help_text=_("Leave empty for all warehouses."),
        widget=UnfoldAdminSelectMultipleWidget(attrs={"size": 4}),
    )

    #: Maximum span a manager may ask for, so a typo cannot scan a decade.
    max_days = 3 * 366

    def __init__(self, *args, today: dt.date | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict[str, Any]:
        """Resolve the period into dates and check the custom range."""
        data = super().clean()
        period = data.get("period") or Period.LAST_30
        if period == Period.CUSTOM:
            date_from, date_to = data.get("date_from"), data.get("date_to")
            if not date_from or not date_to:
                raise forms.ValidationError(_("Enter both dates for a custom period."), code="dates_required")
        else:
            date_from, date_to = resolve_period(period, self.today)
        if date_from > date_to:
            raise forms.ValidationError(_("The start date is after the end date."), code="dates_reversed")
        if (date_to - date_from).days + 1 > self.max_days:
            raise forms.ValidationError(
                _("A report covers at most %(days)s days.") % {"days": self.max_days}, code="range_too_long"
            )
        data["resolved_from"], data["resolved_to"] = date_from, date_to
        return data

    def option_fields(self) -> list[str]:
        """Names of the report-specific fields (beyond the common filters)."""
        return [name for name in self.fields if name not in ReportForm.base_fields]

    def to_params(self) -> ReportParams:
        """The validated parameters (call after is_valid())."""
        data = self.cleaned_data
        options = {name: data.get(name) for name in self.option_fields()}
        params = ReportParams(
            date_from=data["resolved_from"],
            date_to=data["resolved_to"],
            channels=list(data.get("channel") or []),
            warehouses=list(data.get("warehouse") or []),
            options=options,
        )
        labels = params.describe()
        for name in self.option_fields():
            value = data.get(name)
            if value in (None, "") or value == []:
                continue
            field_ = self.fields[name]
            if isinstance(field_, forms.ChoiceField):
                choices = dict(field_.choices)
                if isinstance(value, list | tuple):
                    value = ", ".join(str(choices.get(item, item)) for item in value)
                else:
                    value = choices.get(value, value)
            labels.append((str(field_.label), str(value)))
        params.labels = labels
        return params

    def to_json(self) -> dict[str, Any]:
        """The cleaned parameters as JSON (ids, ISO dates), for saved reports and subscriptions."""
        data = self.cleaned_data
        result: dict[str, Any] = {"period": data.get("period") or Period.LAST_30}
        if result["period"] == Period.CUSTOM:
            result["date_from"] = data["resolved_from"].isoformat()
            result["date_to"] = data["resolved_to"].isoformat()
        result["channel"] = [c.pk for c in data.get("channel") or []]
        result["warehouse"] = [w.pk for w in data.get("warehouse") or []]
        for name in self.option_fields():
            value = data.get(name)
            result[name] = value.isoformat() if hasattr(value, "isoformat") else value
        return result


def form_from_json(
    form_class: type[ReportForm], params: dict[str, Any], *, period: str | None = None
) -> ReportForm:
    """Bind a form to stored JSON parameters, optionally overriding the period (subscriptions do)."""
    data: dict[str, Any] = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    if period:
        data["period"] = period
    data.setdefault("period", Period.LAST_30)
    return form_class(data=data)


class GrainForm(ReportForm):
    """Adds the time bucket: day, week or month."""

    grain = forms.ChoiceField(
        label=_("Group by"),
        choices=[("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
        initial="day",
        required=False,
        widget=UnfoldAdminSelectWidget,
    )

    def clean_grain(self) -> str:
        """Default to days."""
        return self.cleaned_data.get("grain") or "day"


class SalesForm(GrainForm):
    """Sales over time, compared with an earlier period."""

    compare = forms.ChoiceField(
        label=_("Compare with"),
        choices=[("previous", _("Previous period")), ("last_year", _("Same period last year"))],
        initial="previous",
        required=False,
        widget=UnfoldAdminSelectWidget,
    )

    def clean_compare(self) -> str:
        """Default to the previous period."""
        return self.cleaned_data.get("compare") or "previous"


class TopForm(ReportForm):
    """Adds how many rows a ranking shows."""

    limit = forms.IntegerField(
        label=_("Rows"),
        min_value=5,
        max_value=500,
        initial=20,
        required=False,
        widget=UnfoldAdminIntegerFieldWidget,
    )

    def clean_limit(self) -> int:
        """Default to 20 rows."""
        return self.cleaned_data.get("limit") or 20


class CustomerForm(TopForm):
    """Customer analysis options: the RFM thresholds."""

    recent_days = forms.IntegerField(
        label=_("Recent within (days)"),
        min_value=1,
        max_value=365,
        initial=30,
        required=False,
        help_text=_("A customer whose last order is this recent counts as recent."),
        widget=UnfoldAdminIntegerFieldWidget,
    )
    lapsed_days = forms.IntegerField(
        label=_("Lapsed after (days)"),
        min_value=2,
        max_value=730,
        initial=90,
        required=False,
        help_text=_("A customer with no order for this long counts as lapsed."),
        widget=UnfoldAdminIntegerFieldWidget,
    )
    frequent_orders = forms.IntegerField(
        label=_("Frequent from (orders)"),
        min_value=2,
        max_value=100,
        initial=3,
        required=False,
        widget=UnfoldAdminIntegerFieldWidget,
    )

    def clean(self) -> dict[str, Any]:
        """Fill defaults and check that 'recent' is shorter than 'lapsed'."""
        data = super().clean()
        data["recent_days"] = data.get("recent_days") or 30
        data["lapsed_days"] = data.get("lapsed_days") or 90
        data["frequent_orders"] = data.get("frequent_orders") or 3
        if data["recent_days"] >= data["lapsed_days"]:
            raise forms.ValidationError(_("'Recent' must be shorter than 'lapsed'."), code="rfm_thresholds")
        return data


class MediansForm(ReportForm):
    """Adds the choice of exact medians, which sort every order they cover (slow over long periods)."""

    medians = forms.BooleanField(
        label=_("Exact medians"),
        required=False,
        help_text=_(
            "Also compute the medians (PostgreSQL only; empty otherwise). Slower over long periods: "
            "each median sorts every order it covers."
        ),
    )


class FulfilmentForm(MediansForm):
    """Fulfilment options: the paid → shipped target, exact percentiles."""

    target_hours = forms.IntegerField(
        label=_("Target (hours from payment to shipment)"),
        min_value=1,
        max_value=24 * 30,
        initial=48,
        required=False,
        widget=UnfoldAdminIntegerFieldWidget,
    )

    def clean_target_hours(self) -> int:
        """Default to 48 hours."""
        return self.cleaned_data.get("target_hours") or 48
