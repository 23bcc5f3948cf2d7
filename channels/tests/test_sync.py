"""Sync against the fake Taobao server over real HTTP: upsert, idempotency, crash and resume, lease, mapping."""

from __future__ import annotations

import datetime as dt
from datetime import UTC

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.utils import timezone

from channels.adapters.errors import AdapterError
from channels.choices import SyncRunStatus, SyncTrigger
from channels.models import Channel, ChannelOrder, StatusMapping, SyncRun
from channels.services import SyncAlreadyRunning, configure_sync_schedule, set_credentials, sync_channel
from channels.services import sync as sync_module
from channels.services.sync import LEASE_TTL
from channels.tests.fake_platform import ACCESS_TOKEN, APP_KEY, APP_SECRET
from oms.actors import ActorKind
from orders.choices import EventType, ExceptionReason, OrderStatus
from orders.models import Order, OrderEvent, Product

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def credentials_key(settings):
    """Tests run with DEBUG off, so the credentials key must come from settings as in production."""
    settings.OMS_CREDENTIALS_KEY = KEY


def fmt(moment: dt.datetime) -> str:
    """A time in Taobao's GMT+8 wall-clock format."""
    return (moment + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def taobao(fake_platform):
    """The fake Taobao server with 120 generated orders modified 10 minutes apart from T0 (3 pages of 50)."""
    server = fake_platform("taobao")
    server.behaviour.add_orders(120, T0 + dt.timedelta(minutes=1), dt.timedelta(minutes=10))
    return server


@pytest.fixture
def channel(taobao) -> Channel:
    """A Taobao channel pointed at the fake server, with the credentials the fake accepts."""
    channel = Channel.objects.create(
        code="tb", name="Taobao shop", platform="taobao", api_base_url=taobao.base_url
    )
    set_credentials(channel, app_key=APP_KEY, app_secret=APP_SECRET, access_token=ACCESS_TOKEN)
    return channel


def trade(server, index: int) -> dict:
    """The generated trade number `index` in the fake's store."""
    return next(t for t in server.behaviour.orders if t["tid"] == 900000 + index)


def run_sync(channel: Channel, until: dt.datetime | None = None, **kwargs) -> SyncRun:
    channel.refresh_from_db()
    return sync_channel(
        channel, since=kwargs.pop("since", T0), until=until or T0 + dt.timedelta(days=1), **kwargs
    )


def test_first_sync_creates_orders_with_raw_payload_and_channel_actor(channel, taobao):
    run = run_sync(channel)
    assert run.status == SyncRunStatus.SUCCEEDED
    assert (run.created, run.updated, run.failed, run.pages) == (120, 0, 0, 3)
    assert Order.objects.filter(channel=channel).count() == 120
    co = ChannelOrder.objects.get(channel=channel, external_id="900000")
    assert co.raw["tid"] == 900000 and co.platform_status == "WAIT_SELLER_SEND_GOODS"
    assert co.order.status == OrderStatus.AWAITING_SHIPMENT
    event = co.order.events.get()
    assert (event.type, event.actor_kind, event.actor_label) == (EventType.SYNCED, ActorKind.CHANNEL, "tb")
    channel.refresh_from_db()
    assert channel.sync_cursor == T0 + dt.timedelta(days=1)
    assert run.progress == 100 and run.finished_at and run.duration is not None


def test_unknown_sku_becomes_a_product(channel, taobao):
    run_sync(channel)
    product = Product.objects.get(sku="81893848")  # the sample's outer_sku_id
    assert product.name == "山寨版测试机器" and product.price > 0


def test_same_window_three_times_is_idempotent(channel, taobao):
    for _ in range(3):
        run = run_sync(channel)
    assert (run.created, run.updated, run.unchanged) == (0, 0, 120)
    assert Order.objects.count() == ChannelOrder.objects.count() == 120
    assert OrderEvent.objects.count() == 120


def test_crash_mid_sync_then_resume_loses_nothing_and_duplicates_nothing(channel, taobao, monkeypatch):
    real = sync_module.upsert_orders
    full_pages = []

    def crash_on_second_page(channel, orders, **kwargs):
        # The first page read has 20 orders, the next two 50. Decided on entry: pipelined, the third page's
        # upsert starts only once the second's orders are written, so the second always enters first.
        crash = len(orders) == 50 and not full_pages
        if len(orders) == 50:
            full_pages.append(orders)
        # The page's writes happen, then the worker "dies" before commit.
        result = real(channel, orders, **kwargs)
        if crash:
            raise RuntimeError("worker killed")
        return result

    monkeypatch.setattr(sync_module, "upsert_orders", crash_on_second_page)
    with pytest.raises(RuntimeError):
        run_sync(channel)
    failed = SyncRun.objects.get()
    assert failed.status == SyncRunStatus.FAILED and failed.pages == 1
    assert Order.objects.count() == 20  # the first page read (TOP pages last-to-first: 20 orders) committed
    channel.refresh_from_db()
    assert channel.sync_cursor is None  # the window was not finished: the cursor did not move
    monkeypatch.setattr(sync_module, "upsert_orders", real)
    run = run_sync(channel)
    assert run.status == SyncRunStatus.SUCCEEDED
    assert (run.created, run.unchanged) == (100, 20)
    assert Order.objects.count() == 120
    assert OrderEvent.objects.count() == 120
    assert set(ChannelOrder.objects.values_list("external_id", flat=True)) == {
        str(900000 + i) for i in range(120)
    }


def test_dead_worker_lease_expires_and_next_sync_takes_over(channel, taobao):
    stale = timezone.now() - LEASE_TTL - dt.timedelta(seconds=1)
    dead = SyncRun.objects.create(channel=channel, started_at=stale, heartbeat_at=stale)
    run = run_sync(channel)
    dead.refresh_from_db()
    assert dead.status == SyncRunStatus.FAILED and dead.errors[0]["code"] == "lease_expired"
    assert run.status == SyncRunStatus.SUCCEEDED


def test_two_syncs_of_one_channel_never_run_at_once(channel, taobao):
    now = timezone.now()
    SyncRun.objects.create(channel=channel, started_at=now, heartbeat_at=now)
    with pytest.raises(SyncAlreadyRunning):
        run_sync(channel)
    assert Order.objects.count() == 0


def test_platform_cancel_goes_through_the_state_machine(channel, taobao):
    run_sync(channel)
    trade_ = trade(taobao, 5)
    trade_.update(status="TRADE_CLOSED_BY_TAOBAO", modified=fmt(T0 + dt.timedelta(hours=23)))
    run = run_sync(channel)
    assert (run.updated, run.unchanged) == (1, 119)
    order = Order.objects.get(external_id=str(trade_["tid"]))
    assert order.status == OrderStatus.CANCELLED
    change = order.events.get(type=EventType.STATUS_CHANGED)
    assert (change.actor_kind, change.actor_label) == (ActorKind.CHANNEL, "tb")
    assert change.data["target"] == OrderStatus.CANCELLED
    run = run_sync(channel)
    assert run.updated == 0 and order.events.filter(type=EventType.STATUS_CHANGED).count() == 1


def test_refused_platform_move_is_flagged_never_forced(channel, taobao):
    run_sync(channel)
    trade_ = trade(taobao, 7)
    trade_.update(
        status="TRADE_CLOSED", modified=fmt(T0 + dt.timedelta(hours=23))
    )  # closed: not from awaiting
    run = run_sync(channel)
    assert run.conflicts == 1 and run.errors[0]["code"] == "sync_conflict"
    order = Order.objects.get(external_id=str(trade_["tid"]))
    assert order.status == OrderStatus.AWAITING_SHIPMENT
    assert order.exception_reason == ExceptionReason.SYNC_CONFLICT
    assert "TRADE_CLOSED" in order.exception_detail


def test_unmapped_status_keeps_the_payload_and_is_retried(channel, taobao):
    trade(taobao, 0)["status"] = "SOMETHING_NEW"
    run = run_sync(channel)
    assert (run.created, run.failed) == (119, 1) and run.errors[0]["code"] == "unmapped_status"
    kept = ChannelOrder.objects.get(external_id="900000")
    assert kept.order is None and "SOMETHING_NEW" in kept.last_error and kept.raw["status"] == "SOMETHING_NEW"
    StatusMapping.objects.create(
        platform="taobao", platform_status="SOMETHING_NEW", internal_status="pending_review"
    )
    run = run_sync(channel)
    assert (run.created, run.failed) == (1, 0)
    kept.refresh_from_db()
    assert kept.order.status == OrderStatus.PENDING_REVIEW and kept.last_error == ""


def test_channel_status_mapping_overrides_the_platform_default(channel, taobao):
    StatusMapping.objects.create(
        platform="taobao",
        channel=channel,
        platform_status="WAIT_SELLER_SEND_GOODS",
        internal_status="pending_review",
    )
    run_sync(channel)
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PENDING_REVIEW}


def test_sync_channel_command(channel, taobao):
    call_command(
        "sync_channel", "tb", "--since", T0.isoformat(), "--until", (T0 + dt.timedelta(days=1)).isoformat()
    )
    run = SyncRun.objects.get()
    assert run.trigger == SyncTrigger.COMMAND and run.created == 120


def test_schedule_follows_sync_settings(channel):
    from django_q.models import Schedule

    assert configure_sync_schedule(channel) is None
    channel.sync_enabled, channel.sync_interval_minutes = True, 5
    channel.save()
    schedule = configure_sync_schedule(channel)
    assert (schedule.func, schedule.minutes, schedule.args) == (
        "channels.tasks.sync_channel_task",
        5,
        f"({channel.pk},)",
    )
    channel.sync_interval_minutes = 30
    configure_sync_schedule(channel)
    assert Schedule.objects.get(name="channel-sync:tb").minutes == 30
    channel.sync_enabled = False
    configure_sync_schedule(channel)
    assert not Schedule.objects.filter(name="channel-sync:tb").exists()


def test_platform_error_fails_the_run_and_keeps_the_cursor(channel, taobao):
    set_credentials(channel, app_secret="wrong")
    with pytest.raises(AdapterError):
        run_sync(channel)
    run = SyncRun.objects.get()
    assert run.status == SyncRunStatus.FAILED and run.errors
    assert "wrong" not in str(run.errors)
    channel.refresh_from_db()
    assert channel.sync_cursor is None


def test_pages_take_a_fixed_number_of_queries(channel, taobao, monkeypatch):
    """Existing rows, products and customers are read per page and everything is written in bulk: the count
    depends on the pages, not on the orders (a per-order path needs several queries per order)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(sync_module, "PAGE_WRITERS", 1)  # every query on this connection, to be captured

    with CaptureQueriesContext(connection) as ctx:
        run = run_sync(channel)
    assert (run.pages, run.created) == (3, 120)
    assert len(ctx.captured_queries) <= 35 * run.pages, len(ctx.captured_queries)  # SQLite splits big inserts
    with CaptureQueriesContext(connection) as ctx:
        run = run_sync(channel)
    assert run.unchanged == 120 and len(ctx.captured_queries) <= 10 * run.pages


def test_creation_hooks_run_once_per_page_with_rules_and_webhooks(channel, taobao, monkeypatch):
    from oms import webhooks
    from oms.models import WebhookDelivery, WebhookSubscription
    from orders import hooks
    from rules.models import Rule, RuleRun
    from rules.services import save_rule

    every = save_rule(
        Rule(name="every", enabled=True, actions=[{"type": "add_note", "params": {"text": "x"}}])
    )
    synced = save_rule(
        Rule(
            name="big ones",
            enabled=True,
            trigger="order_synced",
            conditions={"all": [{"fact": "order.total", "op": "gt", "value": "0"}]},
            actions=[{"type": "add_tag", "params": {"tag": "synced"}}],
        )
    )
    WebhookSubscription.objects.create(
        name="ERP",
        url="http://127.0.0.1:9/none",
        secret="s",
        events=[WebhookSubscription.Event.ORDER_CREATED],
    )
    monkeypatch.setattr(webhooks, "deliver_webhooks_task", lambda ids: 0)
    batches = []
    dispatch = hooks.dispatch
    monkeypatch.setattr(
        hooks,
        "dispatch",
        lambda event, **kw: batches.append((event, len(kw.get("order_ids", [])))) or dispatch(event, **kw),
    )
    run = run_sync(channel)
    assert [event for event, _n in batches] == ["orders_created"] * run.pages
    assert sum(n for _event, n in batches) == 120
    assert RuleRun.objects.filter(rule=every).count() == RuleRun.objects.filter(rule=synced).count() == 120
    assert WebhookDelivery.objects.filter(event="order.created").count() == 120
    run_sync(channel)
    assert RuleRun.objects.count() == 240 and WebhookDelivery.objects.count() == 120, "nothing twice"


def test_a_growing_backfill_refreshes_the_lookup_statistics_at_doubling_counts(channel, taobao, monkeypatch):
    """A first sync grows the channel-order table from nothing: its statistics are refreshed as it grows, so the
    per-page lookup by external id keeps probing the unique index instead of reading all of the channel's orders
    (at 100,000 orders the stale plan read every one of them for each page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conftest import require_postgresql

    require_postgresql()
    monkeypatch.setattr(sync_module, "ANALYZE_FIRST_AT", 15)
    monkeypatch.setattr(sync_module, "PAGE_WRITERS", 1)  # every query on this connection, to be captured
    with CaptureQueriesContext(connection) as queries:
        run = run_sync(channel)
    assert run.created == 120
    analyzed = [q["sql"] for q in queries if q["sql"].startswith("ANALYZE")]
    # Pages of 20, 50 and 50 orders: refreshed after 20 (≥ 15) and 70 (≥ 40), not after 120 (< 140).
    assert analyzed == ['ANALYZE "channels_channelorder"', 'ANALYZE "orders_customer"'] * 2


class _RepeatingAdapter:
    """The channel's real adapter, except that the second page also carries the first page's first order again,
    closed by the buyer meanwhile (a platform that moved an order while it was being paged)."""

    def __init__(self, real) -> None:
        self.real = real
        self.overlap = real.overlap
        self.repeated: str = ""

    def iter_windows(self, start, end):
        return self.real.iter_windows(start, end)

    def fetch_orders(self, start, end):
        from dataclasses import replace

        first = None
        for number, page in enumerate(self.real.fetch_orders(start, end)):
            if number == 0:
                first = page.orders[0]
            elif number == 1:
                closed = replace(
                    first,
                    platform_status="TRADE_CLOSED_BY_TAOBAO",
                    updated_at=first.updated_at + dt.timedelta(minutes=1),
                    raw={**first.raw, "status": "TRADE_CLOSED_BY_TAOBAO"},
                )
                self.repeated = closed.external_id
                page = replace(page, orders=[*page.orders, closed])
            yield page

    def close(self) -> None:
        self.real.close()


def test_pages_are_written_on_two_connections_and_committed_in_order(channel, taobao, monkeypatch):
    """PostgreSQL: a page is written while the one before it commits, on a connection of its own; commits (and
    with them the run's counters and the cursor) still follow the page order."""
    import threading

    from conftest import require_postgresql

    require_postgresql()
    recorded, heartbeat = [], sync_module._heartbeat

    def recording_heartbeat(run, **fields):
        recorded.append((threading.current_thread().name, fields["pages"], fields["created"]))
        heartbeat(run, **fields)

    monkeypatch.setattr(sync_module, "_heartbeat", recording_heartbeat)
    run = run_sync(channel)
    assert (run.status, run.pages, run.created) == (SyncRunStatus.SUCCEEDED, 3, 120)
    assert [(pages, created) for _thread, pages, created in recorded] == [(1, 20), (2, 70), (3, 120)]
    assert {thread for thread, *_ in recorded} == {"sync-writer-0", "sync-writer-1"}
    channel.refresh_from_db()
    assert channel.sync_cursor == run.window_end
    assert Order.objects.count() == ChannelOrder.objects.count() == OrderEvent.objects.count() == 120


def test_an_order_on_two_pages_written_at_once_is_created_once_then_moved(channel, taobao):
    """The second page waits for the first to commit before looking its orders up when it holds one of them:
    the order is created by the first page and cancelled by the second, never created twice."""
    from channels.services.sync import build_adapter

    adapter = _RepeatingAdapter(build_adapter(channel))
    run = run_sync(channel, adapter=adapter)
    assert (run.status, run.created, run.updated, run.failed) == (SyncRunStatus.SUCCEEDED, 120, 1, 0)
    order = Order.objects.get(external_id=adapter.repeated)
    assert order.status == OrderStatus.CANCELLED
    assert order.events.filter(type=EventType.STATUS_CHANGED).count() == 1
    assert Order.objects.count() == ChannelOrder.objects.count() == 120
    adapter.close()


def test_a_failed_page_rolls_back_the_page_written_beside_it(channel, taobao, monkeypatch):
    """The page after a failed one may already be written on the other connection: it is rolled back, not
    committed, so no page commits after a gap and the cursor stays put."""
    real = sync_module.upsert_orders
    sizes = []

    def fail_the_first_page(channel, orders, **kwargs):
        result = real(channel, orders, **kwargs)
        sizes.append(len(orders))
        if len(orders) == 20:  # the first page read
            raise RuntimeError("constraint violated")
        return result

    monkeypatch.setattr(sync_module, "upsert_orders", fail_the_first_page)
    with pytest.raises(RuntimeError, match="constraint violated"):
        run_sync(channel)
    failed = SyncRun.objects.get()
    assert failed.status == SyncRunStatus.FAILED and failed.pages == 0
    assert failed.errors[-1]["code"] == "RuntimeError"
    assert Order.objects.count() == ChannelOrder.objects.count() == 0
    channel.refresh_from_db()
    assert channel.sync_cursor is None
