"""The customers report's PostgreSQL path (one pass over the period plus a semi-join for earlier orders) against
the portable ORM path, on order books built for the edge cases of "new customer" and of local-time buckets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from conftest import require_postgresql
from orders.choices import OrderStatus
from orders.tests.factories import ChannelFactory, CustomerFactory, OrderFactory, WarehouseFactory
from reports.forms import ReportParams
from reports.queries import day_start
from reports.specs.customers import _figures_portable, _figures_postgres, cell_length
from reports.tests.conftest import at

pytestmark = pytest.mark.django_db
S = OrderStatus


@pytest.fixture
def edge_book():
    """March 2025 is the period. Customers:

    - early: first sales order in February, two in March (returning in March);
    - ties: two orders at the same first time in March, on different channels (both new), one later;
    - filtered: first order on channel B, a later one on channel A (new, but not with the channel A filter);
    - cancelled_first: a cancelled order in February, first sales order in March (new);
    - only_cancelled: cancelled orders only (not a customer of the report);
    - late: first order in March and one in April (April is outside the period).
    """
    a, b = ChannelFactory(code="a"), ChannelFactory(code="b")
    w1, w2 = WarehouseFactory(code="w1"), WarehouseFactory(code="w2")
    early, ties, filtered, cancelled_first, only_cancelled, late = (
        CustomerFactory(name=name)
        for name in ("early", "ties", "filtered", "cancelled_first", "only_cancelled", "late")
    )

    def order(customer, when, total, channel=a, warehouse=w1, status=S.COMPLETED):
        return OrderFactory(
            customer=customer,
            placed_at=at(when),
            total=Decimal(total),
            channel=channel,
            warehouse=warehouse,
            status=status,
        )

    order(early, "2025-02-10 10:00", "50")
    order(early, "2025-03-02 10:00", "70", channel=b)
    order(early, "2025-03-20 10:00", "90", warehouse=w2)
    order(ties, "2025-03-05 12:00", "10")
    order(ties, "2025-03-05 12:00", "20", channel=b)
    order(ties, "2025-03-25 12:00", "30", warehouse=w2)
    order(filtered, "2025-03-08 08:00", "40", channel=b)
    order(filtered, "2025-03-09 08:00", "45")
    order(cancelled_first, "2025-02-01 08:00", "99", status=S.CANCELLED)
    order(cancelled_first, "2025-03-12 08:00", "60", channel=b, warehouse=w2)
    order(only_cancelled, "2025-03-03 08:00", "15", status=S.CANCELLED)
    order(only_cancelled, "2025-03-04 08:00", "16", status=S.CLOSED)
    order(late, "2025-03-31 23:00", "25")
    order(late, "2025-04-02 09:00", "35")
    return {"a": a, "b": b, "w1": w1, "w2": w2}


def _params(book, *, channels=(), warehouses=(), date_from=dt.date(2025, 3, 1), date_to=dt.date(2025, 3, 31)):
    return ReportParams(
        date_from=date_from,
        date_to=date_to,
        channels=[book[key] for key in channels],
        warehouses=[book[key] for key in warehouses],
        options={"recent_days": 7, "lapsed_days": 20, "frequent_orders": 2},
    )


def _comparable(figures):
    """The figures with cells keyed by (bucket, is_new), empty cells dropped, averages rounded."""
    top, top_totals, rfm, cells = figures
    cells = {
        (cell["bucket"], cell["is_new"]): (cell["orders"], Decimal(cell["revenue"]))
        for cell in cells
        if cell["orders"]
    }
    rfm = {key: round(value, 9) if isinstance(value, float) else value for key, value in rfm.items()}
    top_totals = {
        key: round(value, 9) if isinstance(value, float) else value for key, value in top_totals.items()
    }
    top = [{key: round(v, 9) if isinstance(v, float) else v for key, v in row.items()} for row in top]
    return top, top_totals, rfm, cells


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"channels": ["a"]},
        {"channels": ["b"]},
        {"warehouses": ["w2"]},
        {"channels": ["a"], "warehouses": ["w1"]},
        {"date_from": dt.date(2025, 3, 6), "date_to": dt.date(2025, 4, 30)},
        {"date_from": dt.date(2025, 1, 1), "date_to": dt.date(2025, 12, 31)},
    ],
    ids=["all", "channel-a", "channel-b", "warehouse-w2", "a-w1", "straddling", "whole-year"],
)
@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_postgres_path_matches_portable(edge_book, filters, grain):
    require_postgresql()
    params = _params(edge_book, **filters)
    assert _comparable(_figures_postgres(params, grain, 20)) == _comparable(
        _figures_portable(params, grain, 20)
    )


def test_new_orders_in_march(edge_book):
    """By hand: new are ties' two first orders, filtered's, cancelled_first's and late's; returning are early's two, ties' and filtered's later ones."""
    require_postgresql()
    _top, _totals, _rfm, cells = _figures_postgres(_params(edge_book), "month", 20)
    march = {cell["is_new"]: (cell["orders"], cell["revenue"]) for cell in cells}
    assert march[True] == (5, Decimal("155"))
    assert march[False] == (4, Decimal("235"))


@pytest.fixture
def daylight_saving_book(settings):
    """A merchant in Berlin (CET/CEST), orders around local midnight next to the clock changes of 2025-03-30
    (a 23-hour day) and 2025-10-26 (a 25-hour day); the period is March to November 2025. Customers:

    - spring: orders either side of the short day's two midnights (the first new);
    - autumn: orders either side of the long day's midnights;
    - repeated_hour: two orders at 02:30 on 2025-10-26, the hour that happens twice (both new);
    - before: an order at 23:30 the day before the period, one at 00:30 on its first day (returning);
    - last: a first order at 23:30 on the period's last day.
    """
    settings.TIME_ZONE = "Europe/Berlin"
    a, b = ChannelFactory(code="a"), ChannelFactory(code="b")
    w1 = WarehouseFactory(code="w1")
    spring, autumn, repeated_hour, before, last = (
        CustomerFactory(name=name) for name in ("spring", "autumn", "repeated_hour", "before", "last")
    )
    orders = [
        (spring, "2025-03-29 23:30", "10", a),
        (spring, "2025-03-30 00:30", "11", b),
        (spring, "2025-03-30 23:30", "12", a),
        (spring, "2025-03-31 00:30", "13", a),
        (autumn, "2025-10-25 23:30", "20", b),
        (autumn, "2025-10-26 00:30", "21", a),
        (autumn, "2025-10-26 23:30", "22", a),
        (autumn, "2025-10-27 00:30", "23", b),
        (repeated_hour, "2025-10-26 02:30", "30", a),
        (repeated_hour, "2025-10-26 02:30", "31", b),
        (before, "2025-02-28 23:30", "40", a),
        (before, "2025-03-01 00:30", "41", a),
        (last, "2025-11-30 23:30", "50", b),
    ]
    for customer, when, total, channel in orders:
        OrderFactory(
            customer=customer,
            placed_at=at(when),
            total=Decimal(total),
            channel=channel,
            warehouse=w1,
            status=S.COMPLETED,
        )
    return {"a": a, "b": b, "w1": w1}


@pytest.mark.parametrize("channels", [(), ("a",)], ids=["all", "channel-a"])
@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_postgres_path_matches_portable_across_clock_changes(daylight_saving_book, channels, grain):
    require_postgresql()
    params = _params(
        daylight_saving_book, channels=channels, date_from=dt.date(2025, 3, 1), date_to=dt.date(2025, 11, 30)
    )
    assert _comparable(_figures_postgres(params, grain, 20)) == _comparable(
        _figures_portable(params, grain, 20)
    )


@pytest.mark.parametrize(
    ("zone", "starts", "expected"),
    [
        ("Asia/Shanghai", [dt.date(2025, 3, 1), dt.date(2025, 3, 2)], dt.timedelta(days=1)),
        ("Asia/Shanghai", [dt.date(2025, 3, 3), dt.date(2025, 3, 10)], dt.timedelta(days=7)),
        (
            "Asia/Shanghai",
            [dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)],
            dt.timedelta(days=1),
        ),
        (
            "Europe/Berlin",
            [dt.date(2025, 3, 29), dt.date(2025, 3, 30), dt.date(2025, 3, 31)],
            dt.timedelta(hours=1),
        ),
        ("Asia/Shanghai", [dt.date(2025, 3, 1)], dt.timedelta(days=31)),
    ],
    ids=["days", "weeks", "months", "clock-change", "one-bucket"],
)
def test_cell_length_divides_every_bucket(settings, zone, starts, expected):
    """Cells of this length from the first bucket start never straddle a bucket boundary."""
    settings.TIME_ZONE = zone
    bounds = [day_start(day) for day in starts]
    assert cell_length(bounds, day_start(dt.date(2025, 4, 1))) == expected
