"""Portable query building blocks shared by every report: filters, time buckets, durations, ratios, buckets.

Everything here builds ORM expressions so that each figure is computed by the database, on SQLite and
PostgreSQL alike. Dates are the merchant's local dates (settings.TIME_ZONE).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateField,
    DecimalField,
    Expression,
    F,
    FloatField,
    Func,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, NullIf, Trunc
from django.db.models.lookups import GreaterThanOrEqual, IsNull, LessThan
from django.utils.translation import gettext_lazy as _

from orders.choices import OrderStatus

MONEY_FIELD = DecimalField(max_digits=16, decimal_places=2)
#: Orders that count as sales: everything except cancelled and closed (unpaid, timed out) orders.
NOT_SALES = (OrderStatus.CANCELLED, OrderStatus.CLOSED)
SALES = ~Q(status__in=NOT_SALES)
CANCELLED = Q(status__in=NOT_SALES)

GRAINS = {"day": "day", "week": "week", "month": "month"}


def local_tz() -> zoneinfo.ZoneInfo:
    """The merchant's time zone, in which days, weeks and hours are counted."""
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def is_postgres() -> bool:
    """Whether the default database is PostgreSQL (exact percentiles are available there)."""
    return connection.vendor == "postgresql"


def day_start(day: dt.date) -> dt.datetime:
    """The aware datetime at which a local calendar day starts."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=local_tz())


def date_bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) aware datetimes covering the local days date_from..date_to inclusive."""
    return day_start(date_from), day_start(date_to + dt.timedelta(days=1))


def trunc_local(field: str, grain: str) -> Trunc:
    """Truncate a datetime field to the local day, ISO week (Monday) or month, as a date."""
    return Trunc(field, GRAINS[grain], output_field=DateField(), tzinfo=local_tz())


def bucket_starts(date_from: dt.date, date_to: dt.date, grain: str) -> list[dt.date]:
    """Every bucket start (day, Monday or 1st of month) touching the range, so empty buckets show as zero."""
    if grain == "day":
        first, step = date_from, None
    elif grain == "week":
        first, step = date_from - dt.timedelta(days=date_from.weekday()), None
    else:
        first, step = date_from.replace(day=1), "month"
    starts, current = [], first
    while current <= date_to:
        starts.append(current)
        if step == "month":
            current = (current.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            current += dt.timedelta(days=1 if grain == "day" else 7)
    return starts


class HoursBetween(Func):
    """Hours from `start` to `end` as a float, computed by the database (NULL when either is NULL)."""

    output_field = FloatField()
    arity = 2

    def __init__(self, end: str | Expression, start: str | Expression, **extra) -> None:
        super().__init__(end, start, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        """SQLite stores UTC text timestamps: julianday() difference, rounded to the millisecond so that
        whole hours stay whole (4 h must not become 3.9999999 h and fall into the wrong bucket)."""
        return self.as_sql(
            compiler,
            connection,
            template="(ROUND((julianday(%(expressions)s)) * 86400.0, 3) / 3600.0)",
            arg_joiner=") - julianday(",
            **extra_context,
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        """PostgreSQL: epoch seconds of the interval, divided by 3600, in double precision (date_part, not
        EXTRACT, which returns the much slower numeric type)."""
        return self.as_sql(
            compiler,
            connection,
            template="(date_part('epoch', %(expressions)s) / 3600.0)",
            arg_joiner=" - ",
            **extra_context,
        )


class Percentile(Aggregate):
    """PostgreSQL's exact percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile(expression, fraction: float, *, filter: Q | None = None):
    """An exact percentile on PostgreSQL; NULL elsewhere (portable reports show the bucket counts instead)."""
    if is_postgres():
        return Percentile(expression, fraction, filter=filter)
    return Max(Value(None, output_field=FloatField()))


def ratio(numerator, denominator) -> Expression:
    """numerator / denominator as a float computed in the database; NULL when the denominator is 0."""
    return Cast(numerator, FloatField()) / NullIf(Cast(denominator, FloatField()), Value(0.0))


def money_sum(field: str, *, filter: Q | None = None) -> Expression:
    """Sum of a money column, 0 rather than NULL when nothing matched."""
    return Coalesce(Sum(field, filter=filter), Value(0), output_field=MONEY_FIELD)


def money_avg(field: str, *, filter: Q | None = None, count_filter: Q | None = None) -> Expression:
    """Average money per counted row (sum / count), NULL when nothing is counted."""
    return Cast(
        Sum(field, filter=filter) / NullIf(Count("pk", filter=count_filter or filter), 0),
        MONEY_FIELD,
    )


@dataclass(frozen=True)
class Bucket:
    """One bin of a distribution: values in [low, high) hours; None means unbounded."""

    key: str
    label: str
    low: float | None
    high: float | None


#: Duration bins (hours) used by every distribution, so that buckets compare across reports.
HOUR_BUCKETS: tuple[Bucket, ...] = (
    Bucket("lt_4h", _("< 4 h"), None, 4),
    Bucket("h4_24", _("4–24 h"), 4, 24),
    Bucket("h24_48", _("24–48 h"), 24, 48),
    Bucket("h48_72", _("48–72 h"), 48, 72),
    Bucket("d3_7", _("3–7 days"), 72, 168),
    Bucket("gt_7d", _("> 7 days"), 168, None),
)
DAY_BUCKETS: tuple[Bucket, ...] = (
    Bucket("lt_1d", _("< 1 day"), None, 24),
    Bucket("d1_3", _("1–3 days"), 24, 72),
    Bucket("d3_7", _("3–7 days"), 72, 168),
    Bucket("d7_15", _("7–15 days"), 168, 360),
    Bucket("d15_30", _("15–30 days"), 360, 720),
    Bucket("gt_30d", _("> 30 days"), 720, None),
)


def bucket_counts(
    expression: Expression, buckets: Sequence[Bucket], *, prefix: str = "", filter: Q | None = None
) -> dict[str, Expression]:
    """Conditional counts, one per bucket, of rows whose `expression` (hours) falls in the bucket."""
    result = {}
    for bucket in buckets:
        condition = bucket_condition(expression, bucket)
        if filter is not None:
            condition &= filter
        result[f"{prefix}{bucket.key}"] = Count(Case(When(condition, then=Value(1))))
    return result


def bucket_condition(expression: Expression, bucket: Bucket) -> Q:
    """A Q testing that `expression` is within the bucket's bounds (NULL is in no bucket)."""
    parts = [IsNull(expression, False)]
    if bucket.low is not None:
        parts.append(GreaterThanOrEqual(expression, bucket.low))
    if bucket.high is not None:
        parts.append(LessThan(expression, bucket.high))
    return Q(*parts)


def duration_summary(
    inner: QuerySet, *, group: str | None, value: str, buckets: Sequence[Bucket]
) -> list[dict[str, object]]:
    """Count, resolved (non-NULL `value`), open, average, median and bucket counts of an hours column.

    `inner` is a values() queryset with the columns `group` and `value`. It becomes a derived table, so an
    expensive per-row expression (a correlated subquery) is evaluated once per row rather than once per
    aggregate that mentions it. Grouped by `group`, or one totals row when `group` is None.
    """
    from django.db import connections

    compiler = inner.query.get_compiler(using=inner.db)
    sql, params = compiler.as_sql()
    db = connections[inner.db]
    qn = db.ops.quote_name
    v = qn(value)
    parts = [
        "COUNT(*)",
        f"COUNT({v})",
        f"COUNT(*) - COUNT({v})",
        f"AVG({v})",
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {v})" if db.vendor == "postgresql" else "NULL",
    ]
    names = ["flagged", "resolved", "open", "hours_avg", "hours_median"]
    for bucket in buckets:
        checks = [f"{v} IS NOT NULL"]
        if bucket.low is not None:
            checks.append(f"{v} >= {float(bucket.low)}")
        if bucket.high is not None:
            checks.append(f"{v} < {float(bucket.high)}")
        parts.append(f"COALESCE(SUM(CASE WHEN {' AND '.join(checks)} THEN 1 ELSE 0 END), 0)")
        names.append(bucket.key)
    select = ", ".join(parts)
    # An optimisation fence: without it PostgreSQL pulls the derived table up and copies the per-row
    # expression into every aggregate again.
    sql = f"{sql} LIMIT -1 OFFSET 0" if db.vendor == "sqlite" else f"{sql} OFFSET 0"
    if group:
        query = (
            f"SELECT {qn(group)}, {select} FROM ({sql}) report_rows GROUP BY {qn(group)} ORDER BY 2 DESC, 1"
        )
        names = [group, *names]
    else:
        query = f"SELECT {select} FROM ({sql}) report_rows"
    with db.cursor() as cursor:
        cursor.execute(query, params)
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def filter_orders(
    qs: QuerySet,
    *,
    prefix: str = "",
    channels: Sequence = (),
    warehouses: Sequence = (),
) -> QuerySet:
    """Restrict a queryset of orders (or of rows pointing at orders via `prefix`) to channels and warehouses."""
    if channels:
        qs = qs.filter(**{f"{prefix}channel__in": list(channels)})
    if warehouses:
        qs = qs.filter(**{f"{prefix}warehouse__in": list(warehouses)})
    return qs


__all__ = [
    "CANCELLED",
    "DAY_BUCKETS",
    "HOUR_BUCKETS",
    "MONEY_FIELD",
    "SALES",
    "Bucket",
    "F",
    "HoursBetween",
    "Percentile",
    "bucket_condition",
    "bucket_counts",
    "duration_summary",
    "bucket_starts",
    "date_bounds",
    "filter_orders",
    "is_postgres",
    "local_tz",
    "money_avg",
    "money_sum",
    "percentile",
    "ratio",
    "trunc_local",
]
