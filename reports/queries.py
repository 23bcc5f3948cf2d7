"""Portable query building blocks shared by every report: filters, time buckets, durations, ratios, buckets.

Everything here builds ORM expressions so that each figure is computed by the database, on SQLite and
PostgreSQL alike. Dates are the merchant's local dates (settings.TIME_ZONE).
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateField,
    DecimalField,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
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


#: Settings for the reports' queries on PostgreSQL. JIT compiles each big aggregate anew (~150 ms a query)
#: for no gain at this size; sorts for exact medians and hash aggregates per customer fit in memory instead of
#: spilling to disk at the default 4 MB.
POSTGRES_REPORT_SETTINGS = {"jit": "off", "work_mem": "64MB"}


@contextmanager
def report_session() -> Iterator[None]:
    """Run a report's queries in one transaction (one consistent snapshot); on PostgreSQL with the settings
    above, applied with SET LOCAL so that they end with the transaction."""
    with transaction.atomic():
        if is_postgres():
            with connection.cursor() as cursor:
                for name, value in POSTGRES_REPORT_SETTINGS.items():
                    cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        yield


def prefer_covering_indexes() -> None:
    """Within a report_session() on PostgreSQL, let the planner read orders from the covering indexes of reports
    migration 0002 (a third of the table's pages) rather than from the table.

    The default random_page_cost (4) prices index pages as if read from a spinning disk, so even an index-only
    scan of a year of orders loses to a sequential scan of the table; 1.1 is the usual figure for cached data
    and SSDs. Per report, not in POSTGRES_REPORT_SETTINGS: over order events (exceptions report) it makes the
    planner trade a cheap sequential scan for a slower index scan. SET LOCAL: it ends with the transaction.
    """
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('random_page_cost', '1.1', true)")


def estimated_rows(qs: QuerySet) -> float | None:
    """The planner's estimate of the rows `qs` returns (PostgreSQL; None elsewhere): a plan, not a count, so it
    costs a millisecond whatever the table's size. For choosing between equivalent queries, never for figures."""
    if not is_postgres():
        return None
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


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

    def duration(self) -> Expression:
        """`end - start` as a duration: comparing it with a timedelta is exact and far cheaper per row than
        computing the hours (epoch seconds of an interval go through numeric on PostgreSQL)."""
        end, start = self.get_source_expressions()
        return ExpressionWrapper(end - start, output_field=DurationField())

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


def percentile(expression, fraction: float, *, filter: Q | None = None, enabled: bool = True):
    """An exact percentile on PostgreSQL when `enabled`; NULL otherwise (the bucket counts show the spread).

    Reports over orders ask for it only when the user ticks "exact medians": an exact percentile sorts every
    row it covers, which at a million orders costs more than all the report's other figures together.
    """
    if enabled and is_postgres():
        return Percentile(expression, fraction, filter=filter)
    return Max(Cast(Value(None), FloatField()))


class Grouping(Aggregate):
    """PostgreSQL's GROUPING(expression): 1 on the row of a grouping set that leaves it out (the totals)."""

    function = "GROUPING"
    output_field = IntegerField()
    allow_distinct = False


TOTAL_FLAG = "report_is_total"


def grouped_with_totals(
    base: QuerySet,
    by: Sequence[str],
    aggregates: dict[str, Expression],
    *,
    labels: dict[str, Expression] | None = None,
    order_by: Sequence[str] = (),
    distinct_within_groups: bool = False,
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Rows of `base` grouped by `by` (with `labels`, per-group expressions) and the totals row: the same
    aggregates over every row of `base`. `distinct_within_groups` says that a value counted distinctly
    belongs to one group only (an order's payments, grouped by the order's channel), so that distinct counts
    add up too.

    On PostgreSQL this is one scan of the rows for both. When every aggregate adds up across groups (counts,
    sums, minimums, maximums, averages as sum ÷ count) the totals are computed from the groups' partial
    aggregates in the same statement (window sums over the few grouped rows), which keeps the grouping
    parallel and hashed; otherwise (distinct counts, medians) the statement groups by GROUPING SETS
    ((by, labels), ()). Elsewhere the totals come from a second aggregate() query. `order_by` orders the
    grouped rows (no LIMIT: the totals would count against it).
    """
    grouped = base.order_by().values(*by).annotate(**(labels or {}), **aggregates).order_by(*order_by)
    if not is_postgres():
        return list(grouped), base.order_by().aggregate(**aggregates)
    query = grouped.query
    partials: dict[str, Expression] = {}
    try:
        totals_of = {
            key: _total_from_partials(query.annotations[key], partials, distinct_within_groups)
            for key in aggregates
        }
    except _NotAdditive:
        return _grouping_sets_query(grouped, by[0], aggregates)
    for alias, partial in partials.items():
        query.add_annotation(partial, alias, select=True)
    compiler = query.get_compiler(using=grouped.db)
    plain_as_sql = compiler.as_sql
    compiled_totals = [compiler.compile(expression) for expression in totals_of.values()]

    def as_sql(*args, **kwargs):
        sql, params = plain_as_sql(*args, **kwargs)
        inner, order_sep, order = sql.rpartition(" ORDER BY ") if " ORDER BY " in sql else (sql, "", "")
        columns = ", ".join(
            f"{total_sql} AS report_total_{i}" for i, (total_sql, _p) in enumerate(compiled_totals)
        )
        total_params = [param for _sql, total_params in compiled_totals for param in total_params]
        # ORDER BY refers to select positions, which report_groups.* keeps.
        return (
            f"SELECT report_groups.*, {columns} FROM ({inner}) report_groups{order_sep}{order}",
            (*total_params, *params),
        )

    compiler.as_sql = as_sql
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    rows, totals = [], None
    for values in compiler.results_iter(chunked_fetch=False):
        row = dict(zip(names, values[: len(names)], strict=True))
        for key in partials:
            del row[key]
        rows.append(row)
        totals = dict(zip(totals_of, values[len(names) :], strict=True))
    if totals is None:  # no row at all: the totals of nothing
        totals = base.order_by().aggregate(**aggregates)
    return rows, totals


class _NotAdditive(Exception):
    """An aggregate whose total cannot be computed from the groups' partial aggregates."""


def _total_from_partials(expression, partials: dict[str, Expression], distinct_adds_up: bool = False):
    """A resolved aggregate expression rewritten over the grouped rows: each aggregate becomes a window sum
    (or min, max) of a partial aggregate added to `partials`, an average the sum of its partial sums ÷ the sum
    of its partial counts; the expressions around the aggregates stay as they are."""
    from django.db.models import Avg, Count, Min, Sum
    from django.db.models.expressions import RawSQL

    if isinstance(expression, Aggregate):
        if (expression.distinct and not distinct_adds_up) or type(expression) not in (
            Count,
            Sum,
            Min,
            Max,
            Avg,
        ):
            raise _NotAdditive
        if isinstance(expression, Avg):
            value, condition = expression.source_expressions[0], expression.filter
            total = _total_from_partials(Sum(value, filter=condition, output_field=FloatField()), partials)
            count = _total_from_partials(Count(value, filter=condition), partials)
            return Cast(total, FloatField()) / NullIf(Cast(count, FloatField()), Value(0.0))
        alias = f"report_part_{len(partials)}"
        partials[alias] = expression
        if isinstance(expression, Count):
            return RawSQL(f'(SUM(report_groups."{alias}") OVER ())::bigint', [], output_field=IntegerField())
        window = "SUM" if isinstance(expression, Sum) else type(expression).__name__.upper()
        return RawSQL(f'{window}(report_groups."{alias}") OVER ()', [], output_field=expression.output_field)
    sources = expression.get_source_expressions() if hasattr(expression, "get_source_expressions") else []
    if not sources:
        if getattr(expression, "contains_aggregate", False):
            raise _NotAdditive
        return expression
    copy = expression.copy()
    copy.set_source_expressions(
        [
            None if source is None else _total_from_partials(source, partials, distinct_adds_up)
            for source in sources
        ]
    )
    return copy


def _grouping_sets_query(
    grouped: QuerySet, first: str, aggregates: dict[str, Expression]
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """The grouped rows and the totals from one GROUP BY GROUPING SETS ((group), ()) statement."""
    grouped = grouped.annotate(**{TOTAL_FLAG: Grouping(first)})
    query = grouped.query
    compiler = query.get_compiler(using=grouped.db)
    plain_as_sql = compiler.as_sql

    def as_sql(*args, **kwargs):
        sql, params = plain_as_sql(*args, **kwargs)
        return _grouping_sets(sql), params

    # The compiler still converts the values (dates, decimals) as for any values() queryset.
    compiler.as_sql = as_sql
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    rows, totals = [], {}
    for values in compiler.results_iter(chunked_fetch=False):
        row = dict(zip(names, values, strict=True))
        if row.pop(TOTAL_FLAG):
            totals = {key: row[key] for key in aggregates}
        else:
            rows.append(row)
    return rows, totals


def _grouping_sets(sql: str) -> str:
    """`… GROUP BY a, b [ORDER BY …]` as `… GROUP BY GROUPING SETS ((a, b), ()) [ORDER BY …]`."""
    head, sep, group = sql.rpartition(" GROUP BY ")
    if not sep:
        raise ValueError("not a grouped query")
    group, order_sep, order = group.partition(" ORDER BY ")
    if " HAVING " in group or " LIMIT " in order or " OFFSET " in order:
        raise ValueError("grouping sets need a query without HAVING, LIMIT or OFFSET")
    return f"{head} GROUP BY GROUPING SETS (({group}), ()){order_sep}{order}"


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
    """Conditional counts, one per bucket, of rows whose `expression` (hours) falls in the bucket.

    A bucket [low, high) counts as (rows below high) − (rows below low): one comparison per bound instead of
    two per bucket, and since neighbouring buckets share a bound, PostgreSQL computes that shared count once
    (identical aggregates are evaluated once per row). At a million rows the comparisons are most of the cost.
    """

    def count(low: float | None, high: float | None) -> Count:
        condition = bucket_condition(expression, Bucket("", "", low, high))
        if filter is not None:
            condition &= filter
        return Count(Case(When(condition, then=Value(1))))

    result = {}
    for bucket in buckets:
        upper = count(None, bucket.high)
        result[f"{prefix}{bucket.key}"] = upper if bucket.low is None else upper - count(None, bucket.low)
    return result


def bucket_condition(expression: Expression, bucket: Bucket) -> Q:
    """A Q testing that `expression` (hours) is within the bucket's bounds (NULL is in no bucket); the
    duration itself is compared when `expression` is HoursBetween."""
    bounds = [bucket.low, bucket.high]
    if isinstance(expression, HoursBetween):
        if bounds == [None, None]:  # any duration: both ends are set (no subtraction needed)
            return Q(*(IsNull(end, False) for end in expression.get_source_expressions()))
        expression = expression.duration()
        bounds = [None if hours is None else dt.timedelta(hours=hours) for hours in bounds]
    low, high = bounds
    parts = []
    if low is not None:
        parts.append(GreaterThanOrEqual(expression, low))
    if high is not None:
        parts.append(LessThan(expression, high))
    # A comparison with NULL is not true, so a bounded bucket needs no IS NOT NULL test of its own.
    return Q(*parts) if parts else Q(IsNull(expression, False))


def duration_summary(
    inner: QuerySet,
    *,
    group: str | None,
    value: str,
    buckets: Sequence[Bucket],
    with_totals: bool = False,
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
    if group and with_totals:
        # PostgreSQL only (see duration_summary_with_totals): the totals row is the empty grouping set.
        query = (
            f"SELECT {qn(group)}, {select}, GROUPING({qn(group)}) FROM ({sql}) report_rows "
            f"GROUP BY GROUPING SETS (({qn(group)}), ()) ORDER BY {len(names) + 2}, 2 DESC, 1"
        )
        names = [group, *names, TOTAL_FLAG]
    elif group:
        query = (
            f"SELECT {qn(group)}, {select} FROM ({sql}) report_rows GROUP BY {qn(group)} ORDER BY 2 DESC, 1"
        )
        names = [group, *names]
    else:
        query = f"SELECT {select} FROM ({sql}) report_rows"
    with db.cursor() as cursor:
        cursor.execute(query, params)
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def duration_summary_with_totals(
    inner: QuerySet, *, group: str, value: str, buckets: Sequence[Bucket]
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """duration_summary() per `group` and its totals row: one scan (GROUPING SETS) on PostgreSQL."""
    if not is_postgres():
        rows = duration_summary(inner, group=group, value=value, buckets=buckets)
        return rows, duration_summary(inner, group=None, value=value, buckets=buckets)[0]
    rows, totals = [], {}
    for row in duration_summary(inner, group=group, value=value, buckets=buckets, with_totals=True):
        if row.pop(TOTAL_FLAG):
            totals = {key: item for key, item in row.items() if key != group}
        else:
            rows.append(row)
    return rows, totals


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
    "Grouping",
    "HoursBetween",
    "Percentile",
    "bucket_condition",
    "bucket_counts",
    "duration_summary",
    "duration_summary_with_totals",
    "estimated_rows",
    "bucket_starts",
    "date_bounds",
    "filter_orders",
    "grouped_with_totals",
    "is_postgres",
    "local_tz",
    "money_avg",
    "money_sum",
    "percentile",
    "prefer_covering_indexes",
    "ratio",
    "report_session",
    "trunc_local",
]
