"""Every built-in report's figures on the hand-made order book of conftest.py, computed by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from reports.registry import all_reports
from reports.tests.conftest import run_report

pytestmark = pytest.mark.django_db
approx = pytest.approx
D = Decimal
PG = connection.vendor == "postgresql"


def by(rows, key):
    """Rows indexed by one column."""
    return {row[key]: row for row in rows}


def test_registry_lists_the_eight_reports():
    codes = [spec.code for spec in all_reports()]
    assert codes == [
        "sales",
        "channels",
        "products",
        "customers",
        "heatmap",
        "payment_cycle",
        "exceptions",
        "fulfilment",
    ]
    for spec in all_reports():
        for section in spec.sections:
            if section.chart:
                keys = {column.key for column in section.columns}
                assert section.chart.x in keys
                assert set(section.chart.series) <= keys


class TestSales:
    def test_by_month_with_previous_month(self, book):
        section = run_report("sales", grain="month")["periods"]
        assert len(section.rows) == 1
        row = section.rows[0]
        # O1 100 + O2 200 + O3 300 + O5 120 (23:50 local on 31 March); O4 cancelled, O7 is April locally.
        assert row["period"] == dt.date(2025, 3, 1)
        assert (row["orders"], row["revenue"], row["refunds"], row["net_revenue"]) == (
            4,
            D("720"),
            D("50"),
            D("670"),
        )
        assert row["aov"] == approx(180)
        # Previous period by month: February (O6, 60).
        assert row["prev_period"] == dt.date(2025, 2, 1)
        assert (row["prev_orders"], row["prev_revenue"]) == (1, D("60"))
        assert row["orders_change"] == approx(3.0)
        assert row["revenue_change"] == approx(11.0)
        totals = section.totals
        assert (totals["orders"], totals["revenue"], totals["net_revenue"]) == (4, D("720"), D("670"))
        assert totals["aov"] == approx(180)
        assert (totals["prev_orders"], totals["prev_revenue"]) == (1, D("60"))

    def test_by_day_counts_local_days_and_fills_gaps(self, book):
        rows = by(run_report("sales", grain="day")["periods"].rows, "period")
        assert len(rows) == 31
        assert (rows[dt.date(2025, 3, 3)]["orders"], rows[dt.date(2025, 3, 3)]["revenue"]) == (2, D("300"))
        # O3 is 16 March 00:30 local (15 March in UTC); O5 31 March 23:50 local.
        assert rows[dt.date(2025, 3, 15)]["orders"] == 0
        assert (rows[dt.date(2025, 3, 16)]["orders"], rows[dt.date(2025, 3, 16)]["revenue"]) == (1, D("300"))
        assert rows[dt.date(2025, 3, 31)]["revenue"] == D("120")
        assert rows[dt.date(2025, 3, 10)]["orders"] == 0  # O4 is cancelled
        # Previous period by day: the 31 days before (29 Jan – 28 Feb); O6 on 20 Feb lines up with 23 March.
        assert rows[dt.date(2025, 3, 1)]["prev_period"] == dt.date(2025, 1, 29)
        assert rows[dt.date(2025, 3, 23)]["prev_period"] == dt.date(2025, 2, 20)
        assert rows[dt.date(2025, 3, 23)]["prev_revenue"] == D("60")

    def test_by_week_starts_on_monday(self, book):
        rows = by(run_report("sales", grain="week")["periods"].rows, "period")
        assert list(rows) == [
            dt.date(2025, 2, 24),
            dt.date(2025, 3, 3),
            dt.date(2025, 3, 10),
            dt.date(2025, 3, 17),
            dt.date(2025, 3, 24),
            dt.date(2025, 3, 31),
        ]
        assert (rows[dt.date(2025, 3, 3)]["orders"], rows[dt.date(2025, 3, 3)]["revenue"]) == (2, D("300"))
        assert rows[dt.date(2025, 3, 10)]["revenue"] == D("300")
        assert rows[dt.date(2025, 3, 31)]["revenue"] == D("120")

    def test_same_period_last_year_and_filters(self, book):
        section = run_report("sales", grain="month", compare="last_year", channel=[book.a.pk])["periods"]
        assert section.rows[0]["prev_period"] == dt.date(2024, 3, 1)
        assert section.rows[0]["prev_orders"] == 0
        assert section.rows[0]["revenue_change"] is None
        assert (section.totals["orders"], section.totals["revenue"]) == (2, D("300"))
        by_warehouse = run_report("sales", grain="month", warehouse=[book.w2.pk])["periods"]
        assert by_warehouse.totals["revenue"] == D("300")


def test_channels(book):
    section = run_report("channels", medians=True)["channels"]
    assert [row["channel_name"] for row in section.rows] == ["Shop A", "Shop B", "(No channel)"]
    rows = by(section.rows, "channel_name")
    a, b, none = rows["Shop A"], rows["Shop B"], rows["(No channel)"]
    assert (a["placed"], a["orders"], a["revenue"], a["cancelled"], a["refunded_orders"]) == (
        2,
        2,
        D("300"),
        0,
        1,
    )
    assert a["aov"] == approx(150)
    assert a["share"] == approx(300 / 720)
    assert a["cancellation_rate"] == approx(0)
    assert a["refund_rate"] == approx(0.5)
    assert a["refunds"] == D("50")
    assert a["ship_hours_avg"] == approx(48)  # O1 24 h, O2 72 h
    assert (b["placed"], b["orders"], b["revenue"], b["cancelled"]) == (2, 1, D("300"), 1)
    assert b["cancellation_rate"] == approx(0.5)
    assert b["refund_rate"] == approx(0)
    assert b["ship_hours_avg"] is None
    assert none["share"] == approx(120 / 720)
    totals = section.totals
    assert (totals["placed"], totals["orders"], totals["revenue"], totals["cancelled"]) == (5, 4, D("720"), 1)
    assert totals["aov"] == approx(180)
    assert totals["share"] == approx(1)
    assert totals["cancellation_rate"] == approx(0.2)
    assert totals["refund_rate"] == approx(0.25)  # 1 of 4 paid sales orders
    assert totals["ship_hours_avg"] == approx(48)
    if PG:
        assert a["ship_hours_median"] == approx(48)
    else:
        assert a["ship_hours_median"] is None


def test_products(book):
    sections = run_report("products")
    best = sections["best"]
    assert [row["sku"] for row in best.rows] == ["P2", "P1"]
    p2, p1 = best.rows
    assert (p2["units"], p2["orders"], p2["revenue"], p2["on_hand"], p2["available"]) == (
        9,
        2,
        D("450"),
        6,
        6,
    )
    assert p2["units_per_day"] == approx(9 / 31)
    assert p2["days_of_cover"] == approx(6 / (9 / 31))
    assert (p1["units"], p1["orders"], p1["revenue"], p1["on_hand"], p1["available"]) == (
        4,
        3,
        D("270"),
        40,
        35,
    )
    assert p1["days_of_cover"] == approx(310)
    assert (best.totals["units"], best.totals["revenue"], best.totals["on_hand"]) == (13, D("720"), 96)
    slow = sections["slow"]
    assert [row["sku"] for row in slow.rows] == ["P3", "P1", "P2"]
    assert (slow.rows[0]["units"], slow.rows[0]["on_hand"], slow.rows[0]["days_of_cover"]) == (0, 50, None)


def test_products_in_one_warehouse(book):
    sections = run_report("products", warehouse=[book.w2.pk])
    # Only O3 (P2 × 6) ships from Shanghai; Shanghai holds no P2.
    assert [(r["sku"], r["units"], r["on_hand"], r["days_of_cover"]) for r in sections["best"].rows] == [
        ("P2", 6, 0, 0.0)
    ]
    assert [row["sku"] for row in sections["slow"].rows] == ["P3", "P1"]


def test_customers(book):
    sections = run_report("customers", recent_days=7, lapsed_days=20, frequent_orders=2, grain="month")
    summary = sections["summary"].rows[0]
    assert summary == {
        "customers": 2,
        "repeat_customers": 2,
        "repeat_rate": 1.0,
        "new_customers": 1,  # Bob's first order ever is O3; Alice bought in February
        "returning_customers": 1,
        "orders_per_customer": 2.0,
    }
    top = sections["top"].rows
    assert [(r["customer_name"], r["orders"], r["revenue"]) for r in top] == [
        ("Bob", 2, D("420")),
        ("Alice", 2, D("300")),
    ]
    assert top[0]["aov"] == approx(210)
    rfm = by(sections["rfm"].rows, "segment")
    champions = next(v for k, v in rfm.items() if k.startswith("Champions"))
    at_risk = next(v for k, v in rfm.items() if k.startswith("At risk"))
    # Bob's last order is 10 minutes before the period ends; Alice's 28 days 2 h 45 min before.
    assert (champions["customers"], champions["orders"], champions["revenue"]) == (1, 2, D("420"))
    assert champions["recency"] == approx(10 / 60 / 24, abs=1e-6)
    assert (at_risk["customers"], at_risk["orders"], at_risk["revenue"]) == (1, 2, D("300"))
    assert at_risk["recency"] == approx(28 + (2 * 60 + 45) / 1440, abs=1e-6)
    assert sum(row["customers"] for row in sections["rfm"].rows) == 2
    months = sections["new_returning"].rows
    assert months == [
        {
            "period": dt.date(2025, 3, 1),
            "new_orders": 1,
            "returning_orders": 3,
            "new_revenue": D("300"),
            "returning_revenue": D("420"),
        }
    ]


def test_heatmap_uses_local_hour_and_weekday(book):
    sections = run_report("heatmap")
    orders = by(sections["orders"].rows, "hour")
    assert orders["09:00"]["d1"] == 1  # O1 Monday 09:30
    assert orders["21:00"]["d1"] == 1  # O2
    assert orders["23:00"]["d1"] == 1  # O5 Monday 31 March 23:50
    assert orders["00:00"]["d7"] == 1  # O3 Sunday 00:30 local (Saturday 16:30 in UTC)
    assert orders["16:00"]["d6"] == 0
    assert sections["orders"].totals["d1"] == 3
    assert sections["orders"].totals["total"] == 4
    revenue = by(sections["revenue"].rows, "hour")
    assert revenue["00:00"]["d7"] == D("300")
    assert revenue["21:00"]["total"] == D("200")
    assert sections["revenue"].totals["total"] == D("720")


def test_payment_cycle(book):
    sections = run_report("payment_cycle", medians=True)
    payment = sections["payment"]
    rows = by(payment.rows, "channel_name")
    assert [row["channel_name"] for row in payment.rows] == ["(No channel)", "Shop A", "Shop B"]
    a = rows["Shop A"]
    assert a["count"] == 2
    assert a["days_avg"] == approx((10 / 60 + 24) / 2 / 24)
    assert (a["lt_1d"], a["d1_3"], a["d3_7"]) == (1, 1, 0)
    assert rows["Shop B"]["days_avg"] == approx(2 / 24)
    assert rows["(No channel)"]["lt_1d"] == 1
    assert payment.totals["count"] == 4
    assert payment.totals["days_avg"] == approx((10 / 60 + 24 + 2 + 1) / 4 / 24)
    settlement = sections["settlement"]
    assert [(r["channel_name"], r["count"], r["d1_3"]) for r in settlement.rows] == [("Shop A", 1, 1)]
    assert settlement.rows[0]["days_avg"] == approx(2.0)
    assert settlement.totals["count"] == 1
    if PG:
        assert settlement.rows[0]["days_median"] == approx(2.0)


def test_payment_cycle_says_when_there_is_no_settlement(book):
    section = run_report("payment_cycle", channel=[book.b.pk])["settlement"]
    assert section.rows == []
    assert "No settlement recorded" in str(section.note)


def test_exceptions_and_holds(book):
    sections = run_report("exceptions")
    exceptions = sections["exceptions"]
    assert [r["reason"] for r in exceptions.rows] == ["Incomplete address", "Stock short"]
    address, short = exceptions.rows
    assert (address["flagged"], address["resolved"], address["open"]) == (2, 2, 0)
    assert address["hours_avg"] == approx(16.5)  # 3 h and 30 h
    assert (address["lt_4h"], address["h4_24"], address["h24_48"]) == (1, 0, 1)
    assert (short["flagged"], short["resolved"], short["open"], short["hours_avg"]) == (1, 0, 1, None)
    assert (exceptions.totals["flagged"], exceptions.totals["resolved"], exceptions.totals["open"]) == (
        3,
        2,
        1,
    )
    holds = by(sections["holds"].rows, "reason")
    assert (holds["Finance review"]["resolved"], holds["Finance review"]["hours_avg"]) == (1, approx(4))
    assert holds["Finance review"]["h4_24"] == 1  # 4 h falls in [4, 24)
    assert (holds["Review"]["flagged"], holds["Review"]["open"]) == (1, 1)
    if PG:
        assert address["hours_median"] == approx(16.5)


def test_fulfilment_against_target(book):
    section = run_report("fulfilment", target_hours=48, medians=True)["warehouses"]
    rows = by(section.rows, "warehouse_name")
    assert list(rows) == ["Hangzhou", "Shanghai"]  # O5 is paid on 1 April local: not in March
    hz, sh = rows["Hangzhou"], rows["Shanghai"]
    assert (hz["paid"], hz["shipped"], hz["on_time"], hz["late"], hz["overdue"]) == (2, 2, 1, 1, 0)
    assert hz["late_rate"] == approx(0.5)
    assert hz["hours_avg"] == approx(48)
    assert (hz["h24_48"], hz["d3_7"]) == (1, 1)
    assert (sh["paid"], sh["shipped"], sh["overdue"], sh["late_rate"]) == (1, 0, 1, None)
    assert (section.totals["paid"], section.totals["late"], section.totals["overdue"]) == (3, 1, 1)
    relaxed = by(run_report("fulfilment", target_hours=72)["warehouses"].rows, "warehouse_name")
    assert (relaxed["Hangzhou"]["on_time"], relaxed["Hangzhou"]["late"]) == (2, 0)  # 72 h is on time
    if PG:
        assert hz["hours_median"] == approx(48)


def test_medians_only_when_asked_for(book):
    """Exact medians sort every order they cover: the reports over orders compute them on request only."""
    channels = run_report("channels")["channels"]
    assert {row["ship_hours_median"] for row in channels.rows} == {None}
    assert channels.totals["ship_hours_median"] is None
    assert channels.totals["ship_hours_avg"] == approx(48)
    settlement = run_report("payment_cycle")["settlement"]
    assert settlement.rows[0]["days_median"] is None
    fulfilment = run_report("fulfilment", target_hours=48)["warehouses"]
    assert (fulfilment.totals["hours_median"], fulfilment.totals["hours_p90"]) == (None, None)
