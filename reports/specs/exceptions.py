"""Exceptions and holds by reason, and how long they took to resolve (from the order timeline)."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from orders.choices import EventType, ExceptionReason, HoldKind
from orders.models import OrderEvent
from reports.forms import ReportForm, ReportParams
from reports.queries import HOUR_BUCKETS, HoursBetween, duration_summary_with_totals
from reports.registry import Chart, Column, ReportSpec, SectionData, SectionSpec, register
from reports.specs.base import related_in_range


def episodes(params: ReportParams, start_type: str, end_type: str, key: str):
    """Start events in the range, each with the first matching end event of the same order after it."""
    ended_at = Subquery(
        OrderEvent.objects.filter(
            order=OuterRef("order"), type=end_type, created_at__gte=OuterRef("created_at")
        )
        .order_by("created_at", "pk")
        .values("created_at")[:1]
    )
    return related_in_range(OrderEvent.objects.filter(type=start_type), params, "created_at").annotate(
        reason=KeyTextTransform(key, "data"), ended_at=ended_at
    )


def _section(params: ReportParams, start_type: str, end_type: str, key: str, labels: dict) -> SectionData:
    """Per reason: started, resolved, still open, average and median hours, hour buckets."""
    episodes_qs = episodes(params, start_type, end_type, key).values(
        "reason", hours=HoursBetween("ended_at", "created_at")
    )
    rows, totals = duration_summary_with_totals(
        episodes_qs, group="reason", value="hours", buckets=HOUR_BUCKETS
    )
    for row in rows:
        row["reason"] = str(labels.get(row["reason"], row["reason"] or gettext("(Unspecified)")))
    totals["reason"] = gettext("Total")
    return SectionData(rows, totals)


def query(params: ReportParams) -> dict[str, SectionData]:
    """Exceptions by reason and holds by kind."""
    return {
        "exceptions": _section(
            params,
            EventType.EXCEPTION_FLAGGED,
            EventType.EXCEPTION_RESOLVED,
            "reason",
            dict(ExceptionReason.choices),
        ),
        "holds": _section(
            params, EventType.HOLD_SET, EventType.HOLD_RELEASED, "kind", dict(HoldKind.choices)
        ),
    }


def _columns(reason_label, started_label, ended_label) -> tuple[Column, ...]:
    """Reason, counts, durations and one column per hour bucket."""
    return (
        Column("reason", reason_label),
        Column("flagged", started_label, "int"),
        Column("resolved", ended_label, "int"),
        Column("open", _("Still open"), "int"),
        Column("hours_avg", _("Time to resolve, average (h)"), "hours"),
        Column("hours_median", _("Time to resolve, median (h)"), "hours"),
        *(Column(bucket.key, bucket.label, "int") for bucket in HOUR_BUCKETS),
    )


register(
    ReportSpec(
        code="exceptions",
        title=_("Exceptions and holds"),
        description=_("Exceptions and holds by reason, and how long they took to resolve."),
        form_class=ReportForm,
        query=query,
        order=70,
        sections=(
            SectionSpec(
                "exceptions",
                _("Exceptions by reason"),
                _columns(_("Reason"), _("Flagged"), _("Resolved")),
                chart=Chart("stacked_bar", "reason", tuple(b.key for b in HOUR_BUCKETS)),
            ),
            SectionSpec(
                "holds",
                _("Holds by kind"),
                _columns(_("Hold kind"), _("Held"), _("Released")),
                chart=Chart("stacked_bar", "reason", tuple(b.key for b in HOUR_BUCKETS)),
            ),
        ),
        notes=(
            _(
                "From the order timeline: each 'exception flagged' (or 'hold set') event in the period, paired "
                "with the first 'exception resolved' (or 'hold released') event of the same order after it. "
                "Time to resolve is measured between the two; episodes not yet resolved count as still open."
            ),
        ),
    )
)
