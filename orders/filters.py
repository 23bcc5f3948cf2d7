"""List filters of the order changelist: index-friendly (plain column comparisons, no date casts)."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.core.validators import EMPTY_VALUES
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import RangeDateFilter
from unfold.utils import parse_date_str

from orders.models import Shipment


def local_day_start(day: dt.date) -> dt.datetime:
    """The aware datetime at which `day` starts in the merchant's time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())


class LocalDateRangeFilter(RangeDateFilter):
    """A from/to date range on a datetime column, both days included, in the merchant's time zone.

    Unfold's RangeDateFilter compares a datetime with a bare date, which drops the last day; this one
    turns the days into [start of `from`, start of the day after `to`) so the column's index is used.
    """

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        """Filter by the half-open datetime range the chosen days cover."""
        filters = {}
        try:
            value_from = self.used_parameters.get(f"{self.parameter_name}_from")
            if value_from not in EMPTY_VALUES and isinstance(value_from, str):
                filters[f"{self.field_path}__gte"] = local_day_start(parse_date_str(value_from))
            value_to = self.used_parameters.get(f"{self.parameter_name}_to")
            if value_to not in EMPTY_VALUES and isinstance(value_to, str):
                day_after = parse_date_str(value_to) + dt.timedelta(days=1)
                filters[f"{self.field_path}__lt"] = local_day_start(day_after)
        except (TypeError, ValueError):
            return None
        return queryset.filter(**filters) if filters else queryset


class YesNoFilter(admin.SimpleListFilter):
    """A yes/no filter; subclasses say what 'yes' means with `yes_queryset`/`no_queryset`."""

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return self.yes_queryset(queryset)
        if self.value() == "no":
            return self.no_queryset(queryset)
        return queryset

    def yes_queryset(self, queryset: QuerySet) -> QuerySet:  # pragma: no cover - abstract
        raise NotImplementedError

    def no_queryset(self, queryset: QuerySet) -> QuerySet:  # pragma: no cover - abstract
        raise NotImplementedError


class HasExceptionFilter(YesNoFilter):
    """Orders needing attention (any exception reason); the 'Exceptions' work queue links here."""

    title = _("has exception")
    parameter_name = "has_exception"

    def yes_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.exclude(exception_reason="")

    def no_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(exception_reason="")


class HasTrackingFilter(YesNoFilter):
    """Orders with (or without) at least one shipment carrying a tracking number."""

    title = _("has tracking number")
    parameter_name = "has_tracking"

    @staticmethod
    def _tracked():
        return Exists(Shipment.objects.filter(order=OuterRef("pk")).exclude(tracking_number=""))

    def yes_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(self._tracked())

    def no_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(~self._tracked())


class IsHeldFilter(YesNoFilter):
    """Orders on hold of any kind."""

    title = _("on hold")
    parameter_name = "held"

    def yes_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.exclude(hold_kind="")

    def no_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(hold_kind="")
