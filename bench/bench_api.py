"""Concurrent order intake through the REST API under gunicorn on PostgreSQL, competing for 20 SKUs.

1,000×scale orders, each one create (POST /api/v1/orders/), pay (/pay/) and confirm (/confirm/, which
reserves stock), sent by a pool of 50 threads with one httpx client each against `gunicorn oms.wsgi -w 4`
(DEBUG=0, token auth, an integrator-role user, an Idempotency-Key on every POST as documented). Stock covers
about 60% of the demand, so confirms race for the last units. Afterwards the database is checked: no SKU has
reserved > on hand, and the units reserved equal the units of the orders whose confirm answered 200.

The comparison is the same flow sent by one client on SKUs with ample stock (no queueing, no contention).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.common import ROOT, BenchResult, bench_database, percentile

TARGET_ORDERS = 1000
CLIENTS = 50
WORKERS = 4
SKUS = 20
STOCK_SHARE = 0.6
"""Stock on hand per SKU as a share of the units the orders ask for."""
TARGET_P95_MS = 1200
BASELINE_ORDERS = 30
PHONE_PREFIX = {"BASE": "137", "HOT": "138", "RAW": "139"}
"""Buyer phones per workload: one buyer per order, none shared between workloads."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _venv_bin(name: str) -> str:
    """An executable next to this Python (the venv's gunicorn), else on PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


class Gunicorn:
    """`gunicorn oms.wsgi` on a free port against the bench database; stopped (whole process group) on exit."""

    def __init__(self, database: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{database}"))
        self.log_fd, log_path = tempfile.mkstemp(prefix="bench_api_gunicorn_", suffix=".log")
        self.log_path = Path(log_path)
        self.process: subprocess.Popen | None = None
        self.previous_sigterm = None

    def __enter__(self) -> Gunicorn:
        env = dict(
            os.environ,
            DATABASE_URL=self.database_url,
            DEBUG="0",
            SECRET_KEY="bench-" + uuid.uuid4().hex,
            ALLOWED_HOSTS="127.0.0.1",
            OMS_API_RATE="100000/min",
            SECURE_SSL_REDIRECT="0",
            DB_CONN_MAX_AGE="60",
            LOG_LEVEL="WARNING",
        )
        # A SIGTERM to the bench becomes SystemExit, so the finally blocks stop gunicorn and drop the database.
        self.previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            self._start(env)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, env: dict) -> None:
        self.process = subprocess.Popen(
            [
                _venv_bin("gunicorn"),
                "oms.wsgi",
                "-w",
                str(WORKERS),
                "-b",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None and self.log_fd is not None:
            print(f"gunicorn log (last lines):\n{self.tail()}", file=sys.stderr)
        self.stop()

    def _wait_ready(self, timeout: float = 90) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.tail()}")
            try:
                httpx.get(f"{self.url}/api/v1/orders/", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        """The last lines of gunicorn's log."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the process group (master and workers), SIGKILL after 15 s; remove the log."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if self.previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self.previous_sigterm)
            self.previous_sigterm = None
        if self.log_fd is not None:
            os.close(self.log_fd)
            self.log_fd = None
            self.log_path.unlink(missing_ok=True)


def _token() -> str:
    """An API token of a user in the integrator role (create, pay, confirm), not a superuser."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from orders.models import Warehouse

    Warehouse.objects.create(code="bench", name="Bench")
    user = get_user_model().objects.create_user("bench-integrator", password=uuid.uuid4().hex)
    user.groups.add(Group.objects.get(name="integrator"))
    return Token.objects.create(user=user).key


def _workload(label: str, count: int, skus: int, share: float | None, rng: random.Random):
    """`skus` SKUs named after `label` with stock for `share` of the demand (None: ample), `count` payloads.

    Returns (order payloads, on hand per SKU).
    """
    from decimal import Decimal

    from orders.models import Product, StockLevel, Warehouse

    warehouse = Warehouse.objects.get(code="bench")
    codes = [f"{label}{i:02d}" for i in range(skus)]
    products = Product.objects.bulk_create(
        [Product(sku=sku, name=f"商品 {sku}", price=Decimal("19.90")) for sku in codes]
    )

    phone = PHONE_PREFIX[label]

    def payload(index: int) -> dict:
        chosen = rng.sample(codes, rng.choice([1, 1, 2]))
        return {
            "external_id": f"{label}-{index:07d}",
            "lines": [{"sku": sku, "quantity": rng.choice([1, 1, 2])} for sku in chosen],
            "buyer_name": "张三",
            "buyer_phone": f"{phone}{index:08d}",
            "receiver_name": "张三",
            "receiver_phone": f"{phone}{index:08d}",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "street": f"文三路{index % 500 + 1}号",
        }

    orders = [payload(i) for i in range(count)]
    demand: dict[str, int] = defaultdict(int)
    for order in orders:
        for line in order["lines"]:
            demand[line["sku"]] += line["quantity"]
    on_hand = {sku: int(demand[sku] * share) if share is not None else 2 * demand[sku] + 10 for sku in codes}
    StockLevel.objects.bulk_create(
        [StockLevel(product=p, warehouse=warehouse, on_hand=on_hand[p.sku]) for p in products]
    )
    return orders, on_hand


def _flow(
    client, payload: dict, latencies: dict[str, list[float]], lock: threading.Lock, keyed: bool
) -> dict:
    """Create, pay and confirm one order; the outcome of each step and the confirmed units per SKU."""

    def post(step: str, path: str, body: dict | None = None):
        started = time.perf_counter()
        headers = {"Idempotency-Key": uuid.uuid4().hex} if keyed else {}
        response = client.post(path, json=body or {}, headers=headers)
        took = time.perf_counter() - started
        with lock:
            latencies[step].append(took)
        return response

    created = post("create", "/api/v1/orders/", payload)
    if created.status_code != 201:
        return {"outcome": f"create {created.status_code} {created.json().get('code', '')}"}
    order = created.json()
    number = order["number"]
    paid = post("pay", f"/api/v1/orders/{number}/pay/", {"amount": order["total"], "method": "alipay"})
    if paid.status_code != 200:
        return {"outcome": f"pay {paid.status_code} {paid.json().get('code', '')}"}
    confirmed = post("confirm", f"/api/v1/orders/{number}/confirm/")
    if confirmed.status_code == 200:
        units: dict[str, int] = defaultdict(int)
        for line in payload["lines"]:
            units[line["sku"]] += line["quantity"]
        return {"outcome": "confirmed", "number": number, "units": dict(units)}
    return {
        "outcome": f"confirm {confirmed.status_code} {confirmed.json().get('code', '')}",
        "number": number,
    }


def _send(base_url: str, token: str, payloads: list[dict], clients: int, keyed: bool = True) -> dict:
    """Run every flow from `clients` threads (one httpx client each); latencies per step and outcomes."""
    import httpx

    latencies: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    local = threading.local()
    opened: list[httpx.Client] = []

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(
                base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=120
            )
            with lock:
                opened.append(local.client)
        return local.client

    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=clients)
    try:
        results = list(pool.map(lambda p: _flow(client(), p, latencies, lock, keyed), payloads))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on failure: drop queued flows, finish running ones
        for c in opened:
            c.close()
    elapsed = time.perf_counter() - started
    every = [t for step in latencies.values() for t in step]
    outcomes: dict[str, int] = defaultdict(int)
    for result in results:
        outcomes[result["outcome"]] += 1
    return {
        "elapsed": elapsed,
        "requests": len(every),
        "rps": len(every) / elapsed,
        "p50": percentile(every, 50) * 1000,
        "p95": percentile(every, 95) * 1000,
        "steps": {
            step: (percentile(v, 50) * 1000, percentile(v, 95) * 1000) for step, v in latencies.items()
        },
        "outcomes": dict(outcomes),
        "results": results,
    }


def _check_stock(label: str, results: list[dict], on_hand: dict[str, int]) -> dict:
    """Oversold units (reserved beyond on hand), and reserved units the 200 confirms do not account for."""
    from django.db.models import Sum

    from orders.choices import OrderStatus, StockStatus
    from orders.models import Order, OrderLine, StockLevel

    levels = {
        row["product__sku"]: (row["on_hand"], row["reserved"])
        for row in StockLevel.objects.filter(product__sku__in=on_hand).values(
            "product__sku", "on_hand", "reserved"
        )
    }
    oversold = sum(max(0, reserved - hand) for hand, reserved in levels.values())
    confirmed_units: dict[str, int] = defaultdict(int)
    confirmed = [r for r in results if r["outcome"] == "confirmed"]
    for result in confirmed:
        for sku, units in result["units"].items():
            confirmed_units[sku] += units
    mismatch = sum(abs(levels[sku][1] - confirmed_units.get(sku, 0)) for sku in levels)
    reserved_orders = Order.objects.filter(
        external_id__startswith=f"{label}-",
        status=OrderStatus.AWAITING_SHIPMENT,
        stock_status=StockStatus.RESERVED,
    ).count()
    line_units = (
        OrderLine.objects.filter(
            order__external_id__startswith=f"{label}-",
            order__stock_status=StockStatus.RESERVED,
            sku__in=on_hand,
        ).aggregate(units=Sum("quantity_reserved"))["units"]
        or 0
    )
    return {
        "oversold": oversold,
        "mismatch": mismatch,
        "confirmed": len(confirmed),
        "reserved_orders": reserved_orders,
        "reserved_units": sum(reserved for _hand, reserved in levels.values()),
        "line_units": line_units,
        "confirmed_units": sum(confirmed_units.values()),
        "on_hand": sum(on_hand.values()),
    }


def _consistent(stock: dict) -> bool:
    """No unit oversold, and reserved units = confirmed units = reserved line units, per confirmed order."""
    return (
        stock["oversold"] == 0
        and stock["mismatch"] == 0
        and stock["confirmed"] == stock["reserved_orders"]
        and stock["reserved_units"] == stock["line_units"] == stock["confirmed_units"]
    )


def _stock_note(stock: dict) -> str:
    return (
        f"{'consistent' if _consistent(stock) else 'INCONSISTENT'}: {stock['confirmed']} confirms answered 200, "
        f"{stock['reserved_orders']} orders reserved in the database; units reserved {stock['reserved_units']} "
        f"of {stock['on_hand']} on hand, confirmed units {stock['confirmed_units']}, reserved line units "
        f"{stock['line_units']}; oversold {stock['oversold']}"
    )


def run(scale: float) -> list[BenchResult]:
    """1,000×scale create → pay → confirm flows from 50 clients against gunicorn, with and without
    Idempotency-Key; one client on ample stock as comparison."""
    count = max(100, int(TARGET_ORDERS * scale))
    rng = random.Random(9)
    with bench_database() as database:
        from django.db import connections

        token = _token()
        warmup, _ = _workload("BASE", BASELINE_ORDERS, 5, None, rng)
        keyed_orders, keyed_stock = _workload("HOT", count, SKUS, STOCK_SHARE, rng)
        plain_orders, plain_stock = _workload("RAW", count, SKUS, STOCK_SHARE, rng)
        connections.close_all()
        with Gunicorn(database) as server:
            baseline = _send(server.url, token, warmup, clients=1)
            keyed = _send(server.url, token, keyed_orders, clients=CLIENTS, keyed=True)
            plain = _send(server.url, token, plain_orders, clients=CLIENTS, keyed=False)
        keyed_check = _check_stock("HOT", keyed["results"], keyed_stock)
        plain_check = _check_stock("RAW", plain["results"], plain_stock)

    def outcomes(figures: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(figures["outcomes"].items()))

    def steps(figures: dict) -> str:
        return "; ".join(
            f"{step} p50 {p50:.0f} / p95 {p95:.0f} ms"
            for step, (p50, p95) in sorted(figures["steps"].items())
        )

    setting = (
        f"{count:,} orders × (create, pay, confirm) from {CLIENTS} clients, gunicorn -w {WORKERS}, "
        f"{SKUS} SKUs with stock for ~{STOCK_SHARE:.0%} of demand"
    )
    target = f"≤ {TARGET_P95_MS} ms"
    return [
        BenchResult(
            "api_order_flow_throughput",
            round(keyed["rps"], 1),
            "requests/s",
            "1 client, ample stock",
            round(baseline["rps"], 1),
            "",
            f"{setting}, Idempotency-Key on every POST; {keyed['requests']:,} requests in "
            f"{keyed['elapsed']:.1f} s; outcomes: {outcomes(keyed)}",
        ),
        BenchResult(
            "api_order_flow_p50",
            round(keyed["p50"], 1),
            "ms",
            "1 client p50",
            round(baseline["p50"], 1),
            "",
            steps(keyed),
        ),
        BenchResult(
            "api_order_flow_p95",
            round(keyed["p95"], 1),
            "ms",
            "1 client p95",
            round(baseline["p95"], 1),
            target,
            f"every request (create, pay, confirm) from {CLIENTS} clients with Idempotency-Key, queueing included",
        ),
        BenchResult(
            "api_order_flow_no_key_throughput",
            round(plain["rps"], 1),
            "requests/s",
            "with Idempotency-Key",
            round(keyed["rps"], 1),
            "",
            f"same flow without Idempotency-Key; {plain['requests']:,} requests in {plain['elapsed']:.1f} s; "
            f"outcomes: {outcomes(plain)}",
        ),
        BenchResult(
            "api_order_flow_no_key_p95",
            round(plain["p95"], 1),
            "ms",
            "with Idempotency-Key p95",
            round(keyed["p95"], 1),
            target,
            f"p50 {plain['p50']:.0f} ms; {steps(plain)}",
        ),
        BenchResult(
            "api_order_flow_oversold_units",
            keyed_check["oversold"] + plain_check["oversold"],
            "units",
            "units on hand",
            keyed_check["on_hand"] + plain_check["on_hand"],
            "0 (and reserved = confirmed units)",
            f"with key: {_stock_note(keyed_check)}. Without key: {_stock_note(plain_check)}",
        ),
    ]
