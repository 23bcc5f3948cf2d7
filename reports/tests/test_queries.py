"""The query building blocks behind the reports' speed at a million orders: each must give the same figures as
the plain query it replaces."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.db import connection

from conftest import require_postgresql
from orders.models import Order
from orders.tests.factories import OrderFactory
from reports.queries import HoursBetween, bucket_counts, estimated_rows
from reports.tests.conftest import at, run_report

pytestmark = pytest.mark.django_db
PG = connection.vendor == "postgresql"


def _figures(sections) -> dict:
    """Rows, totals and notes of every section, for comparing two runs."""
    return {key: (s.rows, s.totals, str(s.note)) for key, s in sections.items()}


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"warehouse": "w2"},
        {"channel": "a"},
        {"period": "custom", "date_from": "2025-03-04", "date_to": "2025-03-16"},
        {"period": "custom", "date_from": "2025-02-01", "date_to": "2025-04-30"},
    ],
)
def test_products_by_exclusion_gives_the_same_figures(book, filters):
    """Lines chosen by excluding the other orders (wide reports) equal lines joined to the counted orders."""
    data = dict(filters)
    if "warehouse" in data:
        data["warehouse"] = [getattr(book, data["warehouse"]).pk]
    if "channel" in data:
        data["channel"] = [getattr(book, data["channel"]).pk]
    results = []
    for by_exclusion in (False, True):
        with mock.patch("reports.specs.products.most_orders_count", return_value=by_exclusion):
            results.append(_figures(run_report("products", **data)))
    assert results[0] == results[1]
    assert results[0]["best"][0], "the comparison must cover some sales"


def test_products_excluded_orders_include_those_without_a_channel(book):
    """O5 has no channel: with a channel filter it is one of the orders left out, not silently kept (a NULL
    channel makes `channel IN (…)` unknown, and NOT unknown is not true)."""
    with mock.patch("reports.specs.products.most_orders_count", return_value=True):
        best = run_report("products", channel=[book.b.pk])["best"]
    # Shop B: O3 (P2 × 6) only; O4 is cancelled and O5 (P1 × 1, no channel) must not count.
    assert [(row["sku"], row["units"]) for row in best.rows] == [("P2", 6)]


def test_estimated_rows_asks_the_planner(book):
    require_postgresql("planner estimates are a PostgreSQL feature")
    estimate = estimated_rows(Order.objects.all())
    assert estimate is not None and estimate > 0


@pytest.mark.skipif(PG, reason="SQLite has no row estimates")
def test_estimated_rows_is_none_without_postgres(book):
    assert estimated_rows(Order.objects.all()) is None


def test_bucket_counts_at_the_bounds():
    """Buckets are [low, high): a duration equal to a bound falls in the upper bucket; NULL in none."""
    from reports.queries import DAY_BUCKETS

    placed = at("2025-03-03 00:00")
    hours = [0, 23.99, 24, 71.5, 72, 168, 360, 719, 720, 2000, None]
    for n, value in enumerate(hours):
        OrderFactory(
            number=f"B{n}",
            placed_at=placed,
            paid_at=None if value is None else placed + dt.timedelta(hours=value),
        )
    figures = Order.objects.aggregate(**bucket_counts(HoursBetween("paid_at", "placed_at"), DAY_BUCKETS))
    assert figures == {"lt_1d": 2, "d1_3": 2, "d3_7": 1, "d7_15": 1, "d15_30": 2, "gt_30d": 2}
    assert sum(figures.values()) == len(hours) - 1
