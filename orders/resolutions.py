"""Suggested resolutions for exception orders, ranked from how similar past exceptions were resolved.

History is the EXCEPTION_RESOLVED events (data: reason, resolution). The database does the counting
(`resolution_history`: one aggregate query grouped by resolution and by which features match the current
order); a small pure function (`rank_resolutions`) turns those counts into at most three suggestions.
A resolution "worked" when the order was not flagged again afterwards and was not cancelled afterwards
(unless cancelling was the resolution).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Sum, Value, When
from django.db.models.fields.json import KT
from django.utils.translation import gettext_lazy as _

from orders.choices import EventType, OrderStatus


class Resolution(models.TextChoices):
    """How a clerk resolved an exception (stored in the EXCEPTION_RESOLVED event's data)."""

    RELEASE = "release", _("Released as is")
    EDIT_ADDRESS = "edit_address", _("Corrected the address")
    CONTACT_CUSTOMER = "contact_customer", _("Contacted the customer")
    WAIT_FOR_STOCK = "wait_for_stock", _("Waited for / moved stock")
    CHANGE_WAREHOUSE = "change_warehouse", _("Changed the warehouse")
    SPLIT = "split", _("Split the order")
    MERGE = "merge", _("Merged with the duplicate")
    CANCEL = "cancel", _("Cancelled the order")
    OTHER = "other", _("Other")


AMOUNT_BANDS = (Decimal("0"), Decimal("100"), Decimal("500"), Decimal("2000"), Decimal("10000"))
"""Lower bounds of the amount bands orders are compared in."""

HISTORY_LIMIT = 2000
"""How many of the most recent resolutions of the same reason are considered."""

WEIGHTS = {"channel": 1.0, "region": 0.75, "band": 0.75, "notes": 1.5}
"""How much each matching feature adds to a past case's similarity (a bare same-reason case counts 1)."""

_TOKEN = re.compile(r"[A-Za-z0-9]+|[\u4e00-\u9fff]")


def amount_band(amount: Decimal | None) -> tuple[Decimal, Decimal | None]:
    """The [low, high) band an order total falls in (high None for the top band)."""
    amount = amount or Decimal("0")
    low, high = AMOUNT_BANDS[0], None
    for index, bound in enumerate(AMOUNT_BANDS):
        if amount >= bound:
            low = bound
            high = AMOUNT_BANDS[index + 1] if index + 1 < len(AMOUNT_BANDS) else None
    return low, high


def tokens(text: str) -> frozenset[str]:
    """Lower-cased word tokens (latin words, digits, single CJK characters) for note overlap."""
    return frozenset(token.lower() for token in _TOKEN.findall(text or ""))


def token_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap of two token sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class HistoryBucket:
    """Past resolutions of one kind sharing the same matching features with the current order."""

    resolution: str
    same_channel: bool
    same_region: bool
    same_band: bool
    cases: int
    worked: int


@dataclass(frozen=True)
class Suggestion:
    """One ranked suggestion: what to do, how often it was done for similar cases and how often it held."""

    resolution: str
    label: str
    cases: int
    worked: int
    similar_cases: int
    score: float

    @property
    def success_rate(self) -> float:
        """Share of past uses that worked (0..1)."""
        return self.worked / self.cases if self.cases else 0.0

    @property
    def success_percent(self) -> int:
        """Success rate as a whole percentage."""
        return round(self.success_rate * 100)


def rank_resolutions(
    buckets: Iterable[HistoryBucket], note_overlap: dict[str, float] | None = None, *, limit: int = 3
) -> list[Suggestion]:
    """Rank resolutions: similarity-weighted support × smoothed success rate. Pure; no database.

    Each past case weighs 1 plus the weights of the features it shares (channel, region, amount band);
    `note_overlap` (resolution → mean token overlap of the notes, 0..1) adds its weight per resolution.
    The success rate is Laplace-smoothed so one lucky case does not outrank a long good record.
    """
    note_overlap = note_overlap or {}
    totals: dict[str, dict[str, float]] = defaultdict(
        lambda: {"cases": 0, "worked": 0, "weight": 0.0, "similar": 0}
    )
    for bucket in buckets:
        row = totals[bucket.resolution]
        similarity = 1.0
        similarity += WEIGHTS["channel"] if bucket.same_channel else 0.0
        similarity += WEIGHTS["region"] if bucket.same_region else 0.0
        similarity += WEIGHTS["band"] if bucket.same_band else 0.0
        row["cases"] += bucket.cases
        row["worked"] += bucket.worked
        row["weight"] += similarity * bucket.cases
        if bucket.same_channel or bucket.same_region or bucket.same_band:
            row["similar"] += bucket.cases
    suggestions = []
    for resolution, row in totals.items():
        if not row["cases"]:
            continue
        smoothed = (row["worked"] + 1) / (row["cases"] + 2)
        support = row["weight"] * (1.0 + WEIGHTS["notes"] * note_overlap.get(resolution, 0.0))
        label = Resolution(resolution).label if resolution in Resolution.values else resolution
        suggestions.append(
            Suggestion(
                resolution=resolution,
                label=str(label),
                cases=int(row["cases"]),
                worked=int(row["worked"]),
                similar_cases=int(row["similar"]),
                score=round(support * smoothed, 6),
            )
        )
    suggestions.sort(key=lambda s: (-s.score, -s.cases, s.resolution))
    return suggestions[:limit]


def _history(order):
    """Recent EXCEPTION_RESOLVED events of the same reason on other orders, with `worked` annotated."""
    from orders.models import OrderEvent

    reflagged = OrderEvent.objects.filter(
        order=OuterRef("order"), type=EventType.EXCEPTION_FLAGGED, created_at__gt=OuterRef("created_at")
    )
    recent = (
        OrderEvent.objects.filter(type=EventType.EXCEPTION_RESOLVED, data__reason=order.exception_reason)
        .exclude(order=order)
        .order_by("-created_at", "-id")
        .values("pk")[:HISTORY_LIMIT]
    )
    return (
        OrderEvent.objects.filter(pk__in=recent)
        .annotate(resolution=KT("data__resolution"))
        .annotate(
            worked=Case(
                When(Exists(reflagged), then=Value(0)),
                When(
                    Q(order__status=OrderStatus.CANCELLED) & ~Q(data__resolution=Resolution.CANCEL),
                    then=Value(0),
                ),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
    )


def resolution_history(order) -> list[HistoryBucket]:
    """Count past resolutions of `order`'s exception reason, grouped by which features match `order`."""
    low, high = amount_band(order.total)
    band = Q(order__total__gte=low) & (Q(order__total__lt=high) if high is not None else Q())
    rows = (
        _history(order)
        .annotate(
            same_channel=Case(
                When(order__channel_id=order.channel_id, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
            if order.channel_id
            else Value(0, output_field=IntegerField()),
            same_region=Case(
                When(order__province=order.province, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
            if order.province
            else Value(0, output_field=IntegerField()),
            same_band=Case(When(band, then=Value(1)), default=Value(0), output_field=IntegerField()),
        )
        .values("resolution", "same_channel", "same_region", "same_band")
        .annotate(cases=Count("id"), worked_count=Sum("worked"))
        .order_by()
    )
    return [
        HistoryBucket(
            resolution=row["resolution"] or Resolution.OTHER,
            same_channel=bool(row["same_channel"]),
            same_region=bool(row["same_region"]),
            same_band=bool(row["same_band"]),
            cases=row["cases"],
            worked=row["worked_count"] or 0,
        )
        for row in rows
    ]


def note_overlaps(order, *, sample: int = 200) -> dict[str, float]:
    """Mean token overlap between `order`'s notes and each resolution's past notes (recent `sample`)."""
    current = tokens(" ".join([order.exception_detail, order.buyer_note, order.seller_note]))
    if not current:
        return {}
    rows = _history(order).values_list("resolution", "message", "order__buyer_note", "order__seller_note")[
        :sample
    ]
    sums: dict[str, list[float]] = defaultdict(list)
    for resolution, message, buyer_note, seller_note in rows:
        past = tokens(" ".join([message or "", buyer_note or "", seller_note or ""]))
        sums[resolution or Resolution.OTHER].append(token_overlap(current, past))
    return {resolution: sum(values) / len(values) for resolution, values in sums.items()}


def suggest_resolutions(order, *, limit: int = 3) -> list[Suggestion]:
    """Up to `limit` ranked suggestions for `order`'s exception; empty when there is no history."""
    if not order.exception_reason:
        return []
    buckets = resolution_history(order)
    if not buckets:
        return []
    return rank_resolutions(buckets, note_overlaps(order), limit=limit)
