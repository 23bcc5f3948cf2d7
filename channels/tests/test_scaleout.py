"""Scale-out: two `qcluster` processes on the Redis broker share many channels' syncs over one PostgreSQL; the
same channel never syncs twice at once and every order lands exactly once. Needs PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.db import connection

from channels.models import Channel, ChannelOrder, SyncRun
from channels.services import set_credentials
from channels.tests.fake_platform import APP_SECRET
from conftest import redis_reachable, require, require_postgresql
from orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db(transaction=True)

KEY = Fernet.generate_key().decode()
CHANNELS = 8
ORDERS = 150
SYNCS_PER_CHANNEL = 3
REDIS_DB = 13
ROOT = Path(django_settings.BASE_DIR)


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = db.get("HOST") or ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


def _descendants(pid: int) -> set[int]:
    """The pid and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(children.get(current, []))
    return found


@pytest.fixture
def clusters(settings):
    """Two qcluster processes on Redis db 13 against the test database; stopped (SIGTERM) afterwards."""
    require_postgresql()
    require(redis_reachable(), "needs Redis on 127.0.0.1:6379")
    import redis

    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    settings.OMS_CREDENTIALS_KEY = KEY
    env = {k: v for k, v in os.environ.items() if k != "OMS_Q_SYNC"}
    env.update(
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_url,
        OMS_CREDENTIALS_KEY=KEY,
        SECRET_KEY=django_settings.SECRET_KEY,
        OMS_Q_NAME=django_settings.Q_CLUSTER["name"],
        OMS_Q_WORKERS="2",
        DB_CONN_MAX_AGE="0",
        LOG_LEVEL="WARNING",
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    yield procs, redis_url
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    redis.Redis.from_url(redis_url).flushdb()


def test_syncs_spread_over_two_clusters_and_never_overlap_per_channel(clusters, fake_platform):
    import redis
    from django_q.brokers.redis_broker import Redis
    from django_q.models import Task
    from django_q.tasks import async_task

    procs, redis_url = clusters
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=4)  # one platform window back
    server = fake_platform("website")
    server.behaviour.add_orders(ORDERS, t0 + dt.timedelta(minutes=1), dt.timedelta(minutes=1))
    handle = server.behaviour.handle

    def slow(request):  # a platform that takes a moment per page, so syncs overlap in time
        time.sleep(0.1)
        return handle(request)

    server.behaviour.handle = slow
    channels = []
    for n in range(CHANNELS):
        channel = Channel.objects.create(
            code=f"web{n}", name=f"Web {n}", platform="website", api_base_url=server.base_url
        )
        set_credentials(channel, app_key="site", app_secret=APP_SECRET)
        channels.append(channel)
    broker = Redis(list_key=django_settings.Q_CLUSTER["name"])
    broker.connection = redis.Redis.from_url(redis_url)
    since = t0.isoformat()
    for _ in range(SYNCS_PER_CHANNEL):
        for channel in channels:
            async_task("channels.tasks.sync_channel_task", channel.pk, since=since, broker=broker, sync=False)
    expected = CHANNELS * SYNCS_PER_CHANNEL
    deadline = time.monotonic() + 50
    syncs = Task.objects.filter(func="channels.tasks.sync_channel_task")  # not the data migrations' schedules
    while time.monotonic() < deadline and syncs.count() < expected:
        assert all(p.poll() is None for p in procs), procs[0].stderr.read().decode()[-2000:]
        time.sleep(0.5)
    results = list(syncs.values_list("success", "result"))
    timings = [(t.started.time(), t.stopped.time(), t.result) for t in syncs.order_by("started")]
    assert len(results) == expected, f"only {len(results)} of {expected} tasks finished: {timings}"
    assert all(success for success, _ in results), results

    for channel in channels:
        assert Order.objects.filter(channel=channel).count() == ORDERS
        assert ChannelOrder.objects.filter(channel=channel).count() == ORDERS
        runs = list(SyncRun.objects.filter(channel=channel).order_by("started_at"))
        assert runs and all(run.status == "succeeded" for run in runs)
        for earlier, later in zip(runs, runs[1:], strict=False):
            assert later.started_at >= earlier.finished_at, (
                f"{channel.code}: runs {earlier.pk} and {later.pk} overlap"
            )
    assert OrderEvent.objects.count() == CHANNELS * ORDERS

    pids = {int(r.split("[pid ")[1].rstrip("]")) for ok, r in results if r and "[pid " in str(r)}
    per_cluster = [pids & _descendants(proc.pid) for proc in procs]
    assert all(per_cluster), f"syncs did not spread over both clusters: {per_cluster}"
