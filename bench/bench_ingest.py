"""Channel ingest: 100,000×scale orders (with lines) synced from a local fake website platform into PostgreSQL.

The sync runs the real path (adapter over HTTP → mapping → `upsert_orders` → `orders.services.bulk`), page by
page with the SyncRun lease, heartbeat and cursor. The comparison is a bare COPY of the very same order and line
rows into copies of the two tables (same indexes and constraints, foreign keys included), in the same run,
right after the sync it is compared with (a shared machine's speed drifts over a run).
Target: ≥ 1/3 of COPY's rate.

The fake platform runs in a separate process, still real HTTP on 127.0.0.1 with the request signature checked.
Its orders are generated and JSON-encoded before timing starts, and a page is those bytes joined: a real
platform's CPU is not ours, and in-process its serialising would compete with the sync for the GIL.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import time

from bench.common import BenchResult, bench_database

SKUS = 200


def _feed_orders(count: int, start: dt.datetime) -> list[dict]:
    """The platform's orders: generated once, sorted by modified time (two lines each, 200 SKUs)."""
    from channels.tests.fake_platform_handlers import website_order

    step = dt.timedelta(seconds=max(1, int(20 * 3600 / max(count, 1))) if count < 70000 else 1)
    orders = []
    for index in range(count):
        order = website_order(index, start + step * index)
        phone = f"139{index:08d}"
        order["customer"] = {"id": f"c{index}", "name": f"买家{index}", "phone": phone, "email": ""}
        order["shipping_address"] = {**order["shipping_address"], "name": f"收件人{index}", "phone": phone}
        order["lines"] = [
            {
                "id": f"L{index}-{n}",
                "sku": f"SKU-{(index * 7 + n) % SKUS}",
                "name": f"商品 {n}",
                "quantity": 1 + n,
                "unit_price": "99.00",
                "discount": "0.00",
                "total": f"{99 * (1 + n)}.00",
                "status": None,
            }
            for n in range(2)
        ]
        order.update(
            subtotal="297.00", discount="0.00", shipping="8.00", total="305.00", paid_amount="305.00"
        )
        orders.append(order)
    return orders


def _serve_feed(count: int, start: dt.datetime, pipe) -> None:
    """Child process: the website platform, every order pre-serialised; sends its base URL, serves until told.

    Pages are answered from a pre-sorted list (bisect + offset) of pre-encoded order JSON, joined per page, so
    the platform side costs little; the request signature and timestamp are still checked.
    """
    import base64
    import json

    from channels.tests.fake_platform import FakePlatformServer, FakeResponse
    from channels.tests.fake_platform_handlers import WebsiteFake

    orders = _feed_orders(count, start)
    times = [dt.datetime.fromisoformat(o["updated_at"]) for o in orders]
    encoded = [json.dumps(o, ensure_ascii=False).encode() for o in orders]

    class PreencodedWebsiteFake(WebsiteFake):
        def handle(self, request):
            if request.path.endswith("/orders") and request.method == "GET":
                refusal = self.refusal(request)
                if refusal is not None:
                    return refusal
                low = dt.datetime.fromisoformat(request.query["updated_from"])
                high = dt.datetime.fromisoformat(request.query["updated_to"])
                first = bisect.bisect_left(times, low)
                last = bisect.bisect_right(times, high)
                limit = int(request.query.get("limit", 100))
                cursor = request.query.get("cursor")
                offset = first + (int(base64.urlsafe_b64decode(cursor).decode()) if cursor else 0)
                end = min(offset + limit, last)
                token = base64.urlsafe_b64encode(str(end - first).encode()).decode() if end < last else None
                tail = json.dumps({"next_cursor": token, "total": last - first})[1:].encode()
                return FakeResponse(b'{"orders": [' + b", ".join(encoded[offset:end]) + b"], " + tail)
            return super().handle(request)

    server = FakePlatformServer(PreencodedWebsiteFake(None))
    pipe.send(server.base_url)
    pipe.recv()  # anything: stop
    server.stop()


class _FeedProcess:
    """The fake platform in a process of its own (spawned, so no Django state is inherited): its pages are
    generated and encoded before this returns, and its CPU is not the sync's (a real platform's never is)."""

    def __init__(self, count: int, start: dt.datetime) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve_feed, args=(count, start, child_end), daemon=True)
        self._process.start()
        self.base_url: str = self._pipe.recv()

    def stop(self) -> None:
        """Ask the server to shut down and wait for its process."""
        self._pipe.send("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


ORDER_TABLES = ("orders_order", "orders_orderline")
"""What the issue's yardstick copies: the orders with their lines."""
PER_ORDER_TABLES = ("orders_payment", "orders_orderevent", "channels_channelorder")
"""The other tables each sync writes a row per order to (for the second yardstick: every row the sync wrote)."""
CUSTOMER_TABLES = ("orders_customer", "orders_customeraddress")
"""Written by the first sync only: the second finds the same buyers (same phones) and reuses them."""


def _copy_baseline(tables: tuple[str, ...] = ORDER_TABLES) -> float:
    """Seconds for a bare COPY of `tables`' rows (as the sync left them) into same-shaped tables (their indexes,
    CHECK and foreign-key constraints), commit included; exporting the rows first is not timed."""
    from django.db import connection

    with connection.cursor() as cursor:
        raw = cursor.connection
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS bench_copy_{table}")
            cursor.execute(
                f"CREATE TABLE bench_copy_{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
            )
            # LIKE copies CHECK constraints only: the foreign keys (deferred to commit, as Django declares them)
            # come from the original's definitions, so the copy checks each row's parents as the sync's writes do.
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
                [table],
            )
            for (definition,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE bench_copy_{table} ADD {definition}")
        dumps = {}
        for table in tables:
            buffer = io.BytesIO()
            with raw.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                for chunk in copy:
                    buffer.write(chunk)
            dumps[table] = buffer.getvalue()
        started = time.perf_counter()
        with raw.cursor() as pg:
            for table in tables:
                with pg.copy(f"COPY bench_copy_{table} FROM STDIN") as copy:
                    copy.write(dumps[table])
        raw.commit() if not raw.autocommit else None
        elapsed = time.perf_counter() - started
        for table in tables:
            cursor.execute(f"DROP TABLE bench_copy_{table}")
    return elapsed


CREATION_EVENTS = ("order_created", "orders_created")
"""The hook events of order creation: per order (create_order) and per page (the bulk path)."""


def _restore(hooks, saved: dict) -> None:
    """Put back the creation handlers taken out of the hook tables."""
    tables = (hooks._handlers, hooks._in_transaction)
    for (table_index, event), handlers in saved.items():
        if handlers:
            tables[table_index][event] = handlers


def run(scale: float) -> list[BenchResult]:
    """Sync 100,000×scale orders from the fake platform, then COPY the same rows; orders/s for both."""
    count = max(1000, int(100_000 * scale))
    with bench_database():
        from cryptography.fernet import Fernet
        from django.conf import settings

        settings.OMS_CREDENTIALS_KEY = Fernet.generate_key().decode()
        settings.DEBUG = False  # as a production worker runs: no query log kept per statement
        from channels.models import Channel
        from channels.services import set_credentials, sync_channel
        from channels.tests.fake_platform import APP_SECRET
        from orders import hooks
        from orders.models import Order, OrderLine

        start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
        timings, copies = {}, {}
        for label, code in (("full", "bench"), ("no_hooks", "bench-nohooks")):
            server = _FeedProcess(count, start)
            saved = {
                (table_index, event): table.pop(event, None)
                for table_index, table in enumerate((hooks._handlers, hooks._in_transaction))
                for event in CREATION_EVENTS
            }
            if label == "full":
                _restore(hooks, saved)
            try:
                channel = Channel.objects.create(
                    code=code, name=code, platform="website", api_base_url=server.base_url
                )
                set_credentials(channel, app_key="bench", app_secret=APP_SECRET)
                began = time.perf_counter()
                run_ = sync_channel(
                    channel, since=start - dt.timedelta(minutes=1), until=start + dt.timedelta(days=2)
                )
                timings[label] = time.perf_counter() - began
            finally:
                _restore(hooks, saved)
                server.stop()
            assert run_.created == count and run_.failed == 0, (run_.created, count, run_.errors[:3])
            # The yardstick right after the sync it is compared with (the machine's speed drifts over a run):
            # after the first, the tables hold exactly its rows; after the second, twice as many, timed per half.
            share = 1 if label == "full" else 2
            copies[label] = _copy_baseline() / share
            if label == "full":
                copy_all_seconds = (
                    copies[label] + _copy_baseline(PER_ORDER_TABLES) + _copy_baseline(CUSTOMER_TABLES)
                )
        ingest_seconds, bare_seconds = timings["full"], timings["no_hooks"]
        orders = Order.objects.count() // 2
        lines = OrderLine.objects.count() // 2
        copy_seconds = copies["full"]
    ingest_rate = orders / ingest_seconds
    copy_rate = orders / copy_seconds
    copy_rate_second = orders / copies["no_hooks"]
    return [
        BenchResult(
            "ingest_orders_per_s",
            round(ingest_rate, 1),
            "orders/s",
            "bare COPY of the same order+line rows",
            round(copy_rate, 1),
            "≥ 1/3 of COPY",
            f"{orders:,} orders, {lines:,} lines, {run_.pages} pages over HTTP from a fake platform in its own "
            f"process (pages pre-encoded); sync {ingest_seconds:.1f}s, "
            f"COPY {copy_seconds:.2f}s (orders and lines only; sync also writes customers, payments, events, "
            f"channel orders; creation hooks (rules, webhooks) run once per page)",
        ),
        BenchResult(
            "ingest_orders_per_s_without_order_hooks",
            round(orders / bare_seconds, 1),
            "orders/s",
            "bare COPY of the same order+line rows",
            round(copy_rate_second, 1),
            "≥ 1/3 of COPY",
            f"same sync with the creation hooks unregistered, into tables holding the first sync's rows, beside "
            f"the COPY measured after it ({bare_seconds:.1f}s)",
        ),
        BenchResult(
            "ingest_orders_per_s_vs_copy_of_all_written_rows",
            round(ingest_rate, 1),
            "orders/s",
            "bare COPY of every row the full sync wrote (7 tables)",
            round(orders / copy_all_seconds, 1),
            "",
            f"second yardstick, not the issue's: orders, lines, payments, events, channel orders (raw payloads), "
            f"customers and addresses, COPY {copy_all_seconds:.2f}s; what the sync costs beyond writing its data",
        ),
    ]


if __name__ == "__main__":
    from bench.common import bench_scale

    for result in run(bench_scale()):
        print(result.as_dict())
