"""The sync's pipeline: the next page is prepared (encoded, mapped, staged) in the fetching thread without the
database, and the interpreter is tuned for the sync only while it runs."""

from __future__ import annotations

import datetime as dt
import gc
import sys
import threading

import pytest

from channels.adapters.base import Credentials
from channels.adapters.website import WebsiteAdapter
from channels.mapping import load_mapping
from channels.models import ChannelOrder
from channels.services import sync as sync_module
from channels.services.upsert import prepare_orders, upsert_orders
from channels.tests.fake_platform_handlers import website_order
from conftest import is_postgresql
from oms.actors import Actor
from orders.models import Order
from orders.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def website_orders():
    adapter = WebsiteAdapter(Credentials(app_key="k", app_secret="s"), "http://127.0.0.1:9")
    try:
        raws = [website_order(n, T0 + dt.timedelta(minutes=n)) for n in range(3)]
        raws[2]["status"] = "no-such-status"
        yield [adapter.parse_order(raw) for raw in raws]
    finally:
        adapter.close()


def test_preparing_a_page_needs_no_database_and_the_written_page_uses_it(
    website_orders, django_assert_num_queries
):
    channel = ChannelFactory(code="web", platform="website")
    mapping = load_mapping(channel)
    channel.default_warehouse  # noqa: B018  (as the sync reads it before starting the thread)
    with django_assert_num_queries(0):
        prepared = prepare_orders(website_orders, channel=channel, mapping=mapping)
    assert [item.mapped is not None for item in prepared] == [True, True, False]
    assert prepared[2].refusal.code == "unmapped_status"
    if is_postgresql():  # staged for the set-based writer as well
        assert [item.staged is not None for item in prepared] == [True, True, False]
    result = upsert_orders(channel, prepared, mapping=mapping, actor=Actor.channel("web"))
    assert (result.created, result.failed) == (2, 1)
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["W10000", "W10001"]
    assert ChannelOrder.objects.get(channel=channel, external_id="W10002").last_error.startswith(
        "unmapped_status"
    )


def test_the_interpreter_is_tuned_while_any_sync_runs_and_restored_after():
    before = (gc.get_threshold(), sys.getswitchinterval())
    inner_entered, release = threading.Event(), threading.Event()

    def other_sync():
        with sync_module.throughput_tuning():
            inner_entered.set()
            release.wait(5)

    with sync_module.throughput_tuning():
        assert gc.get_threshold()[0] == sync_module.SYNC_GC_THRESHOLD
        assert sys.getswitchinterval() == pytest.approx(sync_module.SYNC_SWITCH_INTERVAL)
        thread = threading.Thread(target=other_sync)
        thread.start()
        inner_entered.wait(5)
    assert gc.get_threshold()[0] == sync_module.SYNC_GC_THRESHOLD, "the other sync still runs"
    release.set()
    thread.join(5)
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
