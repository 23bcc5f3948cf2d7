"""Customers: top customers, repeat-purchase rate, RFM segments, new vs returning orders."""

from __future__ import annotations

import datetime as dt
import math

from django.db import connection
from django.db.models import (
    Avg,
    BooleanField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils.translation import gettext_lazy as _

from orders.models import Order
from reports.forms import CustomerForm, GrainForm, ReportParams
from reports.queries import (
    NOT_SALES,
    SALES,
    HoursBetween,
    bucket_starts,
    date_bounds,
    day_start,
    is_postgres,
    money_sum,
    ratio,
    trunc_local,
)
from reports.registry import Chart, Column, ReportSpec, SectionData, SectionSpec, register
from reports.specs.base import orders_in_range


class CustomerReportForm(CustomerForm, GrainForm):
    """Customer report options: RFM thresholds, rows shown and the new-vs-returning time bucket."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["period"].initial = "last_365_days"
        self.fields["grain"].initial = "month"


#: RFM segments: (key, label, condition on recency days `r`, order count `f` given the thresholds).
SEGMENTS = (
    ("champions", _("Champions: recent and frequent")),
    ("loyal", _("Loyal: repeat buyers, not lapsed")),
    ("new", _("New: one recent order")),
    ("attention", _("Needs attention: one order, cooling")),
    ("at_risk", _("At risk: repeat buyers who lapsed")),
    ("lost", _("Lost: one order, lapsed")),
)


def segment_conditions(recent: int, lapsed: int, frequent: int) -> dict[str, Q]:
    """Conditions on the per-customer annotations `recency` (days) and `frequency` (orders)."""
    recent_q = Q(recency__lte=recent)
    live_q = Q(recency__lte=lapsed)
    return {
        "champions": recent_q & Q(frequency__gte=frequent),
        "loyal": live_q & Q(frequency__gte=2) & ~(recent_q & Q(frequency__gte=frequent)),
        "new": recent_q & Q(frequency=1),
        "attention": live_q & ~recent_q & Q(frequency=1),
        "at_risk": ~live_q & Q(frequency__gte=2),
        "lost": ~live_q & Q(frequency=1),
    }


def per_customer(params: ReportParams):
    """Sales orders in the range grouped by customer: recency (days before the period end), frequency, monetary."""
    _start, end = date_bounds(params.date_from, params.date_to)
    return (
        orders_in_range(params)
        .filter(SALES, customer__isnull=False)
        .values("customer_id")
        .annotate(
            frequency=Count("pk"),
            monetary=money_sum("total"),
            last_order=Max("placed_at"),
            recency=HoursBetween(Value(end), Max("placed_at")) / 24.0,
        )
    )


def _thresholds(params: ReportParams) -> tuple[int, int, int]:
    """Recent days, lapsed days and orders that make a frequent buyer (RFM thresholds)."""
    return (
        params.options.get("recent_days") or 30,
        params.options.get("lapsed_days") or 90,
        params.options.get("frequent_orders") or 3,
    )


def _figures_portable(params: ReportParams, grain: str, limit: int):
    """Top customers, their totals, RFM aggregates and (bucket, is_new) cells with ORM aggregate queries."""
    base = orders_in_range(params).filter(SALES, customer__isnull=False)
    top = list(
        base.values("customer_id")
        .annotate(
            customer_name=Coalesce(NullIf("customer__name", Value("")), Max("buyer_name")),
            phone=Max("customer__phone"),
            orders=Count("pk"),
            revenue=money_sum("total"),
            aov=ratio(money_sum("total"), Count("pk")),
            first_order=Min("placed_at"),
            last_order=Max("placed_at"),
        )
        .order_by("-revenue", "customer_id")[:limit]
    )
    top_totals = base.aggregate(
        orders=Count("pk"), revenue=money_sum("total"), aov=ratio(Sum("total"), Count("pk"))
    )
    conditions = segment_conditions(*_thresholds(params))
    aggregates = {
        "customers": Count("customer_id"),
        "repeat_customers": Count("customer_id", filter=Q(frequency__gte=2)),
    }
    for key, condition in conditions.items():
        aggregates[f"{key}__customers"] = Count("customer_id", filter=condition)
        aggregates[f"{key}__orders"] = Coalesce(Sum("frequency", filter=condition), 0)
        aggregates[f"{key}__revenue"] = money_sum("monetary", filter=condition)
        aggregates[f"{key}__recency"] = Avg("recency", filter=condition)
    rfm = per_customer(params).aggregate(**aggregates)

    is_new = ~Exists(
        Order.objects.filter(SALES, customer=OuterRef("customer"), placed_at__lt=OuterRef("placed_at"))
    )
    # One GROUP BY (bucket, flag): the EXISTS probe runs once per order (a FILTER per measure would repeat it).
    cells = list(
        base.annotate(is_new=is_new, bucket=trunc_local("placed_at", grain))
        .values("bucket", "is_new")
        .annotate(orders=Count("pk"), revenue=money_sum("total"))
    )
    return top, top_totals, rfm, cells


#: The table the PostgreSQL path fills per report run (dropped at the end of the run's transaction).
PERIOD_TABLE = "report_customer_period"


class DateBin(Func):
    """PostgreSQL's date_bin(stride, source, origin): the start of the stride-long cell holding `source`."""

    function = "date_bin"
    output_field = DateTimeField()


def cell_length(bounds: list[dt.datetime], end: dt.datetime) -> dt.timedelta:
    """The longest length that divides every bucket start's distance from the first (a day for days and months,
    an hour where daylight saving moves midnight), so that cells of it from the first start lie in one bucket."""
    # In UTC: Python subtracts datetimes of the same zone as wall-clock times, ignoring a clock change between.
    first = bounds[0].astimezone(dt.UTC)
    distances = [bound.astimezone(dt.UTC) - first for bound in bounds[1:]] or [end.astimezone(dt.UTC) - first]
    micros = 0
    for distance in distances:
        micros = math.gcd(micros, distance // dt.timedelta(microseconds=1))
    return dt.timedelta(microseconds=micros)


def _figures_postgres(params: ReportParams, grain: str, limit: int):
    """The same figures from one pass over the period's sales orders in (customer, time) order (index
    order_customer_sales_placed, orders migration 0006) into a temporary table of one row per customer and one
    per time cell (GROUPING SETS), which the sections then aggregate.

    An order is new when placed at its customer's first sales order time ever (ties are all new, as with the
    EXISTS test elsewhere). A window over the index order gives each customer's first time in the period over
    all their sales orders (channel and warehouse filters apply to the figures, not to that time); the orders at
    it count as new per customer and per cell, except for customers who ordered before the period (a semi-join
    with those orders, which are never read in bulk).

    Cells are date_bin() of the order time, cheaper per order than its local date; each lies in one bucket
    (cell_length()), found once per cell with width_bucket().
    """
    start, end = date_bounds(params.date_from, params.date_to)
    starts = bucket_starts(params.date_from, params.date_to, grain)
    bounds = [day_start(day) for day in starts]
    in_filters = Q()
    if params.channels:
        in_filters &= Q(channel__in=params.channels)
    if params.warehouses:
        in_filters &= Q(warehouse__in=params.warehouses)
    stream = (
        Order.objects.filter(SALES, customer__isnull=False, placed_at__gte=start, placed_at__lt=end)
        .order_by()
        .annotate(
            in_filters=ExpressionWrapper(in_filters, output_field=BooleanField())
            if in_filters
            else Value(True, output_field=BooleanField()),
            cell=DateBin(Value(cell_length(bounds, end)), "placed_at", Value(bounds[0])),
            first_in_period=Window(Min("placed_at"), partition_by=[F("customer_id")]),
        )
        .values("customer_id", "placed_at", "total", "in_filters", "cell", "first_in_period")
    )
    stream_sql, stream_params = stream.query.sql_with_params()
    # Without filters every order counts: no FILTER clause to test on each of them.
    counted = "FILTER (WHERE in_filters)" if in_filters else ""
    new = f"FILTER (WHERE {'in_filters AND ' if in_filters else ''}placed_at = first_in_period)"
    not_sales = ", ".join(["%s"] * len(NOT_SALES))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {PERIOD_TABLE}")
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {PERIOD_TABLE} ON COMMIT DROP AS
            SELECT GROUPING(customer_id) = 1 AS is_cell, customer_id, cell,
                   COUNT(*) {counted} AS orders,
                   COALESCE(SUM(total) {counted}, 0) AS revenue,
                   MIN(placed_at) {counted} AS first_order,
                   MAX(placed_at) {counted} AS last_order,
                   (date_part('epoch', %s::timestamptz - MAX(placed_at) {counted}) / 3600.0) / 24.0 AS recency,
                   COUNT(*) {new} AS new_orders,
                   COALESCE(SUM(total) {new}, 0) AS new_revenue
            FROM ({stream_sql}) customer_orders
            GROUP BY GROUPING SETS ((customer_id), (cell))
            HAVING COUNT(*) {counted} > 0
            """,
            [end, *stream_params],
        )
        # The average order value of the rows shown only: in the same SELECT as the sort, PostgreSQL computes it
        # for every customer first (a numeric to float conversion each).
        cursor.execute(
            f"""
            SELECT customer_id, orders, revenue, revenue::float8 / NULLIF(orders::float8, 0), first_order,
                   last_order
            FROM (
                SELECT customer_id, orders, revenue, first_order, last_order FROM {PERIOD_TABLE}
                WHERE NOT is_cell ORDER BY revenue DESC, customer_id LIMIT %s
            ) top ORDER BY revenue DESC, customer_id
            """,
            [limit],
        )
        names = ["customer_id", "orders", "revenue", "aov", "first_order", "last_order"]
        top = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        rfm, top_totals = _rfm_postgres(cursor, *_thresholds(params))
        # The cells count the orders at each customer's first time in the period as new; for customers who
        # ordered before the period, those orders (at their first_order) are returning after all.
        cursor.execute(
            f"""
            SELECT cells.bucket, cells.orders, cells.revenue, cells.new_orders - COALESCE(not_new.orders, 0),
                   cells.new_revenue - COALESCE(not_new.revenue, 0)
            FROM (
                SELECT width_bucket(cell, %s::timestamptz[]) AS bucket, SUM(orders) AS orders,
                       SUM(revenue) AS revenue, SUM(new_orders) AS new_orders, SUM(new_revenue) AS new_revenue
                FROM {PERIOD_TABLE} WHERE is_cell GROUP BY 1
            ) cells
            LEFT JOIN (
                SELECT width_bucket(first_order, %s::timestamptz[]) AS bucket, SUM(new_orders) AS orders,
                       SUM(new_revenue) AS revenue
                FROM {PERIOD_TABLE} c
                WHERE NOT is_cell AND new_orders > 0 AND EXISTS (
                    SELECT 1 FROM orders_order o
                    WHERE o.customer_id = c.customer_id AND o.placed_at < %s AND o.status NOT IN ({not_sales})
                )
                GROUP BY 1
            ) not_new USING (bucket)
            """,
            [bounds, bounds, start, *(status.value for status in NOT_SALES)],
        )
        cells = []
        # width_bucket() is the number of bucket starts up to the cell: 1 for the first bucket.
        for index, orders, revenue, new_orders, new_revenue in cursor.fetchall():
            bucket = starts[index - 1]
            cells.append({"bucket": bucket, "is_new": True, "orders": new_orders, "revenue": new_revenue})
            cells.append(
                {
                    "bucket": bucket,
                    "is_new": False,
                    "orders": orders - new_orders,
                    "revenue": revenue - new_revenue,
                }
            )
        cursor.execute(f"DROP TABLE {PERIOD_TABLE}")
    names = (
        orders_in_range(params)
        .filter(SALES, customer_id__in=[row["customer_id"] for row in top])
        .values("customer_id")
        .annotate(
            customer_name=Coalesce(NullIf("customer__name", Value("")), Max("buyer_name")),
            phone=Max("customer__phone"),
        )
    )
    by_customer = {row["customer_id"]: row for row in names}
    for row in top:
        label = by_customer.get(row["customer_id"], {})
        row.update(customer_name=label.get("customer_name"), phone=label.get("phone"))
    return top, top_totals, rfm, cells


def _rfm_postgres(cursor, recent: int, lapsed: int, frequent: int) -> tuple[dict, dict]:
    """RFM aggregates and the top customers' totals over the per-customer rows: the conditions of
    segment_conditions() on `recency` (days, computed as HoursBetween(end, last order) / 24) and `orders`."""
    segments = {
        "champions": f"recency <= {recent} AND orders >= {frequent}",
        "loyal": f"recency <= {lapsed} AND orders >= 2 AND NOT (recency <= {recent} AND orders >= {frequent})",
        "new": f"recency <= {recent} AND orders = 1",
        "attention": f"recency <= {lapsed} AND NOT recency <= {recent} AND orders = 1",
        "at_risk": f"NOT recency <= {lapsed} AND orders >= 2",
        "lost": f"NOT recency <= {lapsed} AND orders = 1",
    }
    parts = ["COUNT(*)", "COUNT(*) FILTER (WHERE orders >= 2)"]
    names = ["customers", "repeat_customers"]
    for key in segments:
        parts += [
            f"COUNT(*) FILTER (WHERE is_{key})",
            f"COALESCE(SUM(orders) FILTER (WHERE is_{key}), 0)",
            f"COALESCE(SUM(revenue) FILTER (WHERE is_{key}), 0)",
            f"AVG(recency) FILTER (WHERE is_{key})",
        ]
        names += [f"{key}__customers", f"{key}__orders", f"{key}__revenue", f"{key}__recency"]
    parts += [
        "COALESCE(SUM(orders), 0)",
        "COALESCE(SUM(revenue), 0)",
        "SUM(revenue)::float8 / NULLIF(SUM(orders)::float8, 0)",
    ]
    flags = ", ".join(f"{condition} AS is_{key}" for key, condition in segments.items())
    # OFFSET 0 keeps the subquery apart, so that each condition is tested once per customer, not per aggregate.
    cursor.execute(
        f"""
        SELECT {", ".join(parts)}
        FROM (SELECT orders, revenue, recency, {flags} FROM {PERIOD_TABLE} WHERE NOT is_cell OFFSET 0) customers
        """
    )
    values = cursor.fetchone()
    rfm = dict(zip(names, values[: len(names)], strict=True))
    top_totals = dict(zip(["orders", "revenue", "aov"], values[len(names) :], strict=True))
    return rfm, top_totals


def query(params: ReportParams) -> dict[str, SectionData]:
    """Four sections: on PostgreSQL from one pass over the customers' orders index, elsewhere from a handful of
    aggregate queries."""
    limit = params.options.get("limit") or 20
    grain = params.options.get("grain") or "month"
    figures = _figures_postgres if is_postgres() else _figures_portable
    top, top_totals, rfm, cells = figures(params, grain, limit)
    top_totals["customer_name"] = str(_("All customers"))
    new_row = {
        "orders": sum(c["orders"] for c in cells if c["is_new"]),
        "revenue": sum((c["revenue"] for c in cells if c["is_new"]), 0),
    }
    returning_row = {
        "orders": sum(c["orders"] for c in cells if not c["is_new"]),
        "revenue": sum((c["revenue"] for c in cells if not c["is_new"]), 0),
    }
    orders_count = new_row["orders"] + returning_row["orders"]
    # Every new customer has exactly one first order, so new customers = orders flagged new.
    new_customers = new_row["orders"]
    summary_row = {
        "customers": rfm["customers"],
        "repeat_customers": rfm["repeat_customers"],
        "repeat_rate": (rfm["repeat_customers"] / rfm["customers"]) if rfm["customers"] else None,
        "new_customers": new_customers,
        "returning_customers": rfm["customers"] - new_customers,
        "orders_per_customer": (orders_count / rfm["customers"]) if rfm["customers"] else None,
    }

    segment_rows = [
        {
            "segment": str(label),
            "customers": rfm[f"{key}__customers"],
            "share": (rfm[f"{key}__customers"] / rfm["customers"]) if rfm["customers"] else None,
            "orders": rfm[f"{key}__orders"],
            "revenue": rfm[f"{key}__revenue"],
            "revenue_per_customer": (rfm[f"{key}__revenue"] / rfm[f"{key}__customers"])
            if rfm[f"{key}__customers"]
            else None,
            "recency": rfm[f"{key}__recency"],
        }
        for key, label in SEGMENTS
    ]

    by_period: dict = {}
    for cell in cells:
        prefix = "new" if cell["is_new"] else "returning"
        entry = by_period.setdefault(cell["bucket"], {})
        entry[f"{prefix}_orders"], entry[f"{prefix}_revenue"] = cell["orders"], cell["revenue"]
    empty = {"new_orders": 0, "returning_orders": 0, "new_revenue": 0, "returning_revenue": 0}
    period_rows = [
        {"period": start, **{k: by_period.get(start, {}).get(k, v) for k, v in empty.items()}}
        for start in bucket_starts(params.date_from, params.date_to, grain)
    ]
    period_totals = {
        "new_orders": new_row.get("orders", 0),
        "returning_orders": returning_row.get("orders", 0),
        "new_revenue": new_row.get("revenue", 0),
        "returning_revenue": returning_row.get("revenue", 0),
    }
    return {
        "summary": SectionData([summary_row]),
        "top": SectionData(top, top_totals),
        "rfm": SectionData(segment_rows, {"segment": str(_("Total")), "customers": rfm["customers"]}),
        "new_returning": SectionData(period_rows, period_totals),
    }


register(
    ReportSpec(
        code="customers",
        title=_("Customers"),
        description=_(
            "Top customers, repeat-purchase rate, RFM segments and new versus returning customers."
        ),
        form_class=CustomerReportForm,
        query=query,
        order=40,
        sections=(
            SectionSpec(
                "summary",
                _("Summary"),
                (
                    Column("customers", _("Customers"), "int"),
                    Column("repeat_customers", _("Repeat customers"), "int"),
                    Column("repeat_rate", _("Repeat-purchase rate"), "percent"),
                    Column("new_customers", _("New customers"), "int"),
                    Column("returning_customers", _("Returning customers"), "int"),
                    Column("orders_per_customer", _("Orders per customer"), "float"),
                ),
            ),
            SectionSpec(
                "top",
                _("Top customers"),
                (
                    Column("customer_name", _("Customer")),
                    Column("phone", _("Phone")),
                    Column("orders", _("Orders"), "int"),
                    Column("revenue", _("Revenue"), "money"),
                    Column("aov", _("Average order value"), "money"),
                    Column("first_order", _("First order"), "datetime"),
                    Column("last_order", _("Last order"), "datetime"),
                ),
                chart=Chart("bar", "customer_name", ("revenue",)),
            ),
            SectionSpec(
                "rfm",
                _("RFM segments"),
                (
                    Column("segment", _("Segment")),
                    Column("customers", _("Customers"), "int"),
                    Column("share", _("Share of customers"), "percent"),
                    Column("orders", _("Orders"), "int"),
                    Column("revenue", _("Revenue"), "money"),
                    Column("revenue_per_customer", _("Revenue per customer"), "money"),
                    Column("recency", _("Days since last order, average"), "float"),
                ),
                chart=Chart("bar", "segment", ("customers",), secondary=("revenue",)),
            ),
            SectionSpec(
                "new_returning",
                _("New and returning customers' orders"),
                (
                    Column("period", _("Period"), "date"),
                    Column("new_orders", _("Orders from new customers"), "int"),
                    Column("returning_orders", _("Orders from returning customers"), "int"),
                    Column("new_revenue", _("Revenue from new customers"), "money"),
                    Column("returning_revenue", _("Revenue from returning customers"), "money"),
                ),
                chart=Chart("stacked_bar", "period", ("new_orders", "returning_orders")),
            ),
        ),
        notes=(
            _(
                "Counts sales orders (not cancelled or closed) placed in the period by known customers. Repeat "
                "customers ordered at least twice in the period. A new customer's order is their first sales "
                "order ever; later orders are returning. RFM: recency = days from the last order to the end of "
                "the period, frequency = orders in the period, monetary = revenue in the period; segments use "
                "the thresholds in the filters."
            ),
        ),
    )
)
