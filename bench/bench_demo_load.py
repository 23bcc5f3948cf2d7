"""Demo data load rate on PostgreSQL, against a bare COPY of the same order rows (the ceiling)."""

from __future__ import annotations

import datetime as dt
import time

from bench.common import BenchResult, bench_database

TARGET_ORDERS, TARGET_SECONDS = 100_000, 120


def run(scale: float) -> list[BenchResult]:
    """Load 100,000×scale demo orders into a fresh database, then COPY the orders table into a scratch copy."""
    count = max(1000, int(TARGET_ORDERS * scale))
    with bench_database():
        from django.db import connection

        from orders.demo import DemoGenerator

        started = time.perf_counter()
        stats = DemoGenerator(orders=count, seed=2024, today=dt.date(2025, 6, 1)).run()
        elapsed = time.perf_counter() - started
        rows = sum(n for name, n in stats.items() if ":" not in name)

        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy("COPY orders_order TO STDOUT") as copy:
                chunks = [bytes(chunk) for chunk in copy]
            cursor.execute("CREATE TABLE bench_orders_copy (LIKE orders_order INCLUDING ALL)")
            copy_started = time.perf_counter()
            with raw.copy("COPY bench_orders_copy FROM STDIN") as copy:
                for chunk in chunks:
                    copy.write(chunk)
            copy_elapsed = time.perf_counter() - copy_started
            cursor.execute("SELECT count(*) FROM bench_orders_copy")
            copied = cursor.fetchone()[0]
            cursor.execute("DROP TABLE bench_orders_copy")

    target = f"{TARGET_ORDERS:,} orders < {TARGET_SECONDS} s"
    projected = TARGET_ORDERS / (count / elapsed)
    detail = f"{count:,} orders, {rows:,} rows in all tables"
    return [
        BenchResult(
            "demo_load_rate",
            round(count / elapsed, 1),
            "orders/s",
            "COPY of the same order rows (ceiling)",
            round(copied / copy_elapsed, 1),
            target,
            detail,
        ),
        BenchResult(
            "demo_load_time",
            round(elapsed, 2),
            "s",
            "COPY of the same order rows",
            round(copy_elapsed, 2),
            target,
            f"{count:,} orders; projected {projected:.0f} s for {TARGET_ORDERS:,}",
        ),
        BenchResult(
            "demo_load_rows",
            round(rows / elapsed, 1),
            "rows/s",
            "COPY rows/s (orders table only)",
            round(copied / copy_elapsed, 1),
            "",
            "orders, lines, payments, shipments, events, tags, customers",
        ),
    ]
