"""Every built-in report over 1,000,000×scale orders on PostgreSQL (target ≤ 1 s each), and the Excel export of
the largest report. The comparison figure is a bare `SELECT count(*), sum(total)` over the same period: the
floor any report scanning those orders has to pay.

Data: generated in the database with INSERT … SELECT generate_series (a million orders in well under a
minute; the demo generator makes richer data but at ~1,000 orders/s). Distributions: 6 channels,
4 warehouses, 2,000 SKUs, 200,000×scale customers, a year of orders, ~1.5 lines per order, 5 % cancelled,
80 % paid, 70 % shipped, 3 % refunded, 20 % settled after shipment (COD), 5 % exceptions, 3 % holds.

Iterating: `BENCH_KEEP_DB=oms_reports_bench` uses (and keeps) that database next to DATABASE_URL instead of a
throwaway one. The first run creates, migrates and fills it; later runs only migrate (so new indexes apply)
and reuse the orders, skipping the ~5 minute load. Drop it by hand when done (`DROP DATABASE …`).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from bench.common import BenchResult, bench_database, migrate, postgres_admin_url, setup_django

TARGET_ORDERS = 1_000_000
TARGET_SECONDS = 1.0
RUNS = 3


def _order_columns() -> tuple[list[str], list[str]]:
    """Column names and SQL expressions for orders_order, from the model (so new columns get defaults)."""
    from django.db import models

    from orders.models import Order

    known = {
        "number": "'B' || lpad(g::text, 10, '0')",
        "channel_id": "(SELECT id FROM channels_channel ORDER BY id OFFSET (g % 6) LIMIT 1)",
        "warehouse_id": "(SELECT id FROM orders_warehouse ORDER BY id OFFSET (g % 4) LIMIT 1)",
        "customer_id": "c.min_id + (hashint(g, 1) % c.n)",
        "order_type": "'normal'",
        "status": (
            "CASE WHEN r.cancel THEN 'cancelled' WHEN r.shipped THEN 'completed' WHEN r.paid THEN "
            "(CASE WHEN g % 50 = 0 THEN 'on_hold' ELSE 'awaiting_shipment' END) ELSE 'pending_payment' END"
        ),
        "payment_status": "CASE WHEN r.paid THEN 'paid' ELSE 'unpaid' END",
        "fulfillment_status": "CASE WHEN r.shipped THEN 'fulfilled' ELSE 'unfulfilled' END",
        "stock_status": "CASE WHEN r.shipped THEN 'deducted' ELSE 'reserved' END",
        "hold_kind": "CASE WHEN r.paid AND NOT r.shipped AND NOT r.cancel AND g % 50 = 0 THEN 'review' ELSE '' END",
        "currency": "'CNY'",
        "subtotal": "r.total",
        "total": "r.total",
        "paid_amount": "CASE WHEN r.paid THEN r.total ELSE 0 END",
        "refunded_amount": "CASE WHEN r.paid AND g % 33 = 0 THEN round(r.total / 2, 2) ELSE 0 END",
        "province": "(ARRAY['浙江省','广东省','江苏省','上海市','北京市','四川省'])[1 + g % 6]",
        "placed_at": "r.placed",
        "paid_at": "CASE WHEN r.paid THEN r.placed + (hashint(g, 2) % 7200) * interval '1 second' END",
        "shipped_at": (
            "CASE WHEN r.shipped THEN r.placed + (hashint(g, 2) % 7200) * interval '1 second' "
            "+ (hashint(g, 3) % 120) * interval '1 hour' END"
        ),
        "cancelled_at": "CASE WHEN r.cancel THEN r.placed + interval '2 hours' END",
        "exception_reason": "CASE WHEN g % 20 = 0 AND g % 25 <> 0 THEN 'address_incomplete' ELSE '' END",
        "created_at": "r.placed",
        "updated_at": "r.placed",
    }
    names, expressions = [], []
    for field in Order._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(field.column)
        if field.column in known:
            expressions.append(known[field.column])
        elif field.null:
            expressions.append("NULL")
        elif isinstance(field, models.DecimalField | models.IntegerField):
            expressions.append("0")
        elif isinstance(field, models.BooleanField):
            expressions.append("false")
        elif isinstance(field, models.DateTimeField):
            expressions.append("r.placed")
        else:
            expressions.append("''")
    return names, expressions


def generate(count: int, customers: int, today: dt.date) -> None:
    """Insert the bench data set with set-based SQL."""
    from django.db import connection

    from channels.models import Channel
    from orders.models import Customer, Product, StockLevel, Warehouse

    warehouses = [Warehouse.objects.create(code=f"w{i}", name=f"Warehouse {i}") for i in range(4)]
    for i in range(6):
        Channel.objects.create(code=f"c{i}", name=f"Shop {i}", platform="tmall")
    Product.objects.bulk_create(
        Product(sku=f"SKU{i:05d}", name=f"Product {i}", category=f"Cat {i % 25}", price=10 + i % 300)
        for i in range(2000)
    )
    products = list(Product.objects.values_list("pk", flat=True))
    StockLevel.objects.bulk_create(
        StockLevel(product_id=pk, warehouse=w, on_hand=(pk * 7 + i) % 500)
        for pk in products
        for i, w in enumerate(warehouses)
    )
    Customer.objects.bulk_create(
        (
            Customer(name=f"C{i}", phone=f"139{i:08d}", dedupe_key=f"phone:139{i:08d}")
            for i in range(customers)
        ),
        batch_size=5000,
    )
    names, expressions = _order_columns()
    start = dt.datetime.combine(today - dt.timedelta(days=365), dt.time.min, tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION hashint(g bigint, salt int) RETURNS bigint "
            "LANGUAGE sql IMMUTABLE AS $$ SELECT abs(hashtextextended(g::text, salt)) $$"
        )
        cursor.execute(
            f"""
            INSERT INTO orders_order ({", ".join(names)})
            SELECT {", ".join(e.replace("%", "%%") for e in expressions)}
            FROM generate_series(1, %s) AS g
            CROSS JOIN (SELECT min(id) AS min_id, count(*) AS n FROM orders_customer) AS c
            CROSS JOIN LATERAL (
                SELECT %s::timestamptz + (hashint(g, 4) %% (365 * 86400)) * interval '1 second' AS placed,
                       (10 + hashint(g, 5) %% 990)::numeric(14, 2) AS total,
                       g %% 20 = 0 AS cancel,
                       g %% 20 <> 0 AND g %% 5 <> 1 AS paid,
                       g %% 20 <> 0 AND g %% 5 <> 1 AND g %% 8 <> 3 AS shipped
            ) AS r
            """,
            [count, start],
        )
        product_min, product_n = min(products), len(products)
        cursor.execute(
            """
            INSERT INTO orders_orderline (order_id, product_id, sku, name, quantity, unit_price, discount, total,
                                          quantity_reserved, quantity_shipped, external_line_id)
            SELECT o.id, p.id, p.sku, p.name, q.qty, p.price, 0, p.price * q.qty, 0, 0, ''
            FROM orders_order o
            CROSS JOIN LATERAL generate_series(1, 1 + (o.id %% 2)::int) AS n
            CROSS JOIN LATERAL (SELECT 1 + hashint(o.id * 3 + n, 6) %% 3 AS qty) AS q
            JOIN orders_product p ON p.id = %s + (hashint(o.id * 7 + n, 7) %% %s)
            """,
            [product_min, product_n],
        )
        cursor.execute(
            """
            INSERT INTO orders_payment (order_id, kind, method, amount, currency, transaction_id, status, paid_at,
                                        created_at)
            SELECT id, 'payment', CASE WHEN id %% 5 = 2 AND shipped_at IS NOT NULL THEN 'cod' ELSE 'alipay' END,
                   total, 'CNY', '', 'succeeded',
                   CASE WHEN id %% 5 = 2 AND shipped_at IS NOT NULL
                        THEN shipped_at + (hashint(id, 8) %% 240) * interval '1 hour' ELSE paid_at END,
                   paid_at
            FROM orders_order WHERE paid_at IS NOT NULL AND total > 0
            """,
            [],
        )
        cursor.execute(
            """
            INSERT INTO orders_orderevent (order_id, type, actor_kind, actor_label, message, data, created_at)
            SELECT id, 'exception_flagged', 'system', '', '', '{"reason": "address_incomplete"}'::jsonb, placed_at
                   + interval '10 minutes' FROM orders_order WHERE id %% 20 = 0
            UNION ALL
            SELECT id, 'exception_resolved', 'system', '', '', '{"reason": "address_incomplete"}'::jsonb, placed_at
                   + (1 + hashint(id, 9) %% 96) * interval '1 hour' FROM orders_order WHERE id %% 20 = 0 AND id %% 25 <> 0
            UNION ALL
            SELECT id, 'hold_set', 'system', '', '', '{"kind": "finance"}'::jsonb, placed_at + interval '1 hour'
            FROM orders_order WHERE id %% 33 = 1
            UNION ALL
            SELECT id, 'hold_released', 'system', '', '', '{"kind": "finance"}'::jsonb, placed_at
                   + (2 + hashint(id, 10) %% 48) * interval '1 hour' FROM orders_order WHERE id %% 33 = 1 AND id %% 4 <> 0
            """,
            [],
        )
        # The reports' indexes and planner statistics come with migrate (orders migration 0006, reports
        # migration 0002); this fills the statistics and the visibility map that index-only scans rely on.
        cursor.execute("VACUUM ANALYZE")


@contextmanager
def kept_database(name: str) -> Iterator[bool]:
    """Use the database `name` (created if missing, never dropped); yield whether it still needs data."""
    import psycopg

    admin = postgres_admin_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    previous = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    try:
        setup_django()
        migrate()
        from orders.models import Order

        yield not Order.objects.exists()
    finally:
        from django.db import connections

        connections.close_all()
        os.environ["DATABASE_URL"] = previous


@contextmanager
def _database() -> Iterator[bool]:
    """The kept database named by BENCH_KEEP_DB, or a throwaway one; yields whether to generate data."""
    name = os.environ.get("BENCH_KEEP_DB")
    if name:
        with kept_database(name) as empty:
            yield empty
    else:
        with bench_database():
            yield True


def _time(function) -> tuple[float, object]:
    """Best of RUNS wall-clock seconds and the last result."""
    best, result = float("inf"), None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def run(scale: float) -> list[BenchResult]:
    """Generate the orders, then time each built-in report over the last 365 days and the largest export."""
    count = max(10_000, int(TARGET_ORDERS * scale))
    customers = max(2_000, int(200_000 * scale))
    today = dt.date.today()
    results: list[BenchResult] = []
    with _database() as empty:
        from django.db import connection

        from reports.builder import BuilderForm, run_custom
        from reports.excel import workbook_bytes
        from reports.registry import all_reports

        started = time.perf_counter()
        if empty:
            generate(count, customers, today)
        load_seconds = time.perf_counter() - started if empty else None
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM orders_order")
            orders = cursor.fetchone()[0]

        def floor_query():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*), sum(total) FROM orders_order WHERE placed_at >= %s",
                    [dt.datetime.combine(today - dt.timedelta(days=364), dt.time.min, tzinfo=dt.UTC)],
                )
                return cursor.fetchone()

        floor, _rows = _time(floor_query)
        for spec in all_reports():
            form = spec.form_class(data={"period": "last_365_days"})
            assert form.is_valid(), form.errors
            params = form.to_params()
            seconds, result = _time(lambda spec=spec, params=params: spec.run(params))
            rows = sum(len(section.rows) for section in result.sections)
            results.append(
                BenchResult(
                    f"report_{spec.code}",
                    round(seconds, 3),
                    "s",
                    "count(*) + sum(total) over the same year of orders",
                    round(floor, 3),
                    f"≤ {TARGET_SECONDS} s at {TARGET_ORDERS:,} orders",
                    f"{orders:,} orders, last 365 days, {rows} rows shown",
                )
            )

        form = BuilderForm(
            data={
                "period": "last_365_days",
                "dimension_1": "day",
                "dimension_2": "sku",
                "measures": ["orders", "units", "revenue"],
                "chart": "line",
                "limit": 5000,
            }
        )
        assert form.is_valid(), form.errors
        params = form.to_params()
        query_seconds, largest = _time(lambda: run_custom(params, "Day × SKU"))
        export_seconds, content = _time(lambda: workbook_bytes(largest))
        results.append(
            BenchResult(
                "report_export_largest_xlsx",
                round(export_seconds, 3),
                "s",
                "the report's query alone",
                round(query_seconds, 3),
                "",
                f"custom day × SKU report, {len(largest.sections[0].rows):,} rows, {len(content):,} bytes",
            )
        )
        if load_seconds is not None:
            results.append(
                BenchResult(
                    "report_bench_data_load",
                    round(load_seconds, 1),
                    "s",
                    "",
                    None,
                    "",
                    f"{orders:,} orders generated with INSERT … SELECT generate_series",
                )
            )
    return results
