"""Incremental sync mechanics against the fakes: window limits, overlap, paging direction, boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from channels.adapters import available_platforms, get_adapter_class
from channels.adapters.base import Credentials

GMT8 = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 1, 0, 0, tzinfo=GMT8)


@pytest.mark.parametrize("platform", sorted(set(available_platforms())))
def test_windows_cover_the_range_within_the_limit_with_overlap(platform):
    adapter = get_adapter_class(platform)(Credentials(shop_id="s.myshopify.com"), "http://unused")
    end = T0 + adapter.max_window * 3 + timedelta(minutes=7)
    windows = list(adapter.iter_windows(T0, end))
    assert windows[0][0] == T0 and windows[-1][1] == end
    assert all(w_end - w_start <= adapter.max_window for w_start, w_end in windows)
    for (_, previous_end), (next_start, _) in zip(windows, windows[1:], strict=False):
        assert next_start == previous_end - adapter.overlap
    assert timedelta(0) < adapter.overlap < adapter.max_window


def test_naive_datetimes_are_refused():
    adapter = get_adapter_class("taobao")(Credentials(), "http://unused")
    with pytest.raises(ValueError, match="naive"):
        list(adapter.iter_windows(datetime(2025, 3, 1), datetime(2025, 3, 2)))


def test_documented_window_limits():
    assert get_adapter_class("taobao").max_window == timedelta(days=1)
    assert get_adapter_class("tmall").max_window == timedelta(days=1)
    assert get_adapter_class("pinduoduo").max_window == timedelta(minutes=30)
    assert get_adapter_class("jd").max_window <= timedelta(days=31)


def test_taobao_splits_three_days_into_day_windows_the_fake_accepts(fake_platform, sleep):
    server = fake_platform("taobao")
    server.behaviour.add_orders(72, T0 + timedelta(minutes=30), timedelta(hours=1))
    adapter = server.adapter(get_adapter_class("taobao"), sleep=sleep)
    pages = list(adapter.fetch_orders(T0, T0 + timedelta(days=3)))
    windows = server.behaviour.windows
    assert len(windows) == 4  # 3 days in ≤ 1-day windows, each re-reading the previous 5 minutes
    assert all(end - start <= timedelta(days=1) for start, end in windows)
    assert windows[1][0] == windows[0][1] - timedelta(minutes=5)
    assert len({o.external_id for p in pages for o in p.orders}) == 72


def test_taobao_order_on_a_window_boundary_is_not_lost(fake_platform, sleep):
    server = fake_platform("taobao")
    boundary = T0 + timedelta(days=1)
    server.behaviour.add_orders(1, boundary, timedelta(0))
    server.behaviour.add_orders(1, boundary - timedelta(minutes=2), timedelta(0))
    adapter = server.adapter(get_adapter_class("taobao"), sleep=sleep)
    seen = [o.external_id for p in adapter.fetch_orders(T0, T0 + timedelta(days=2)) for o in p.orders]
    assert set(seen) == {"900000"}  # both generated with index 0; read in both windows thanks to the overlap
    assert len(seen) >= 2


def test_taobao_pages_from_the_last_page_back(fake_platform, sleep):
    server = fake_platform("taobao")
    server.behaviour.add_orders(7, T0 + timedelta(minutes=1), timedelta(minutes=1))
    adapter = server.adapter(get_adapter_class("taobao"), sleep=sleep)
    adapter.page_size = 3
    pages = list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))
    assert [r.form["page_no"] for r in server.requests] == ["1", "3", "2", "1"]
    assert [p.cursor for p in pages] == ["3", "2", "1"]
    assert all(r.form["page_size"] == "3" for r in server.requests)


def test_reverse_paging_survives_an_order_leaving_the_window_mid_sync(fake_platform, sleep):
    """An order modified during paging leaves the window; reading last-first still sees every other order."""
    server = fake_platform("taobao")
    made = server.behaviour.add_orders(7, T0 + timedelta(minutes=1), timedelta(minutes=1))
    adapter = server.adapter(get_adapter_class("taobao"), sleep=sleep)
    adapter.page_size = 3
    pages = adapter.fetch_orders(T0, T0 + timedelta(hours=1))
    first = next(pages)  # the last page (oldest orders)
    made[5]["modified"] = "2025-03-02 12:00:00"  # a newer order is modified again, out of the window
    rest = list(pages)
    seen = {o.external_id for p in [first, *rest] for o in p.orders}
    assert seen >= {str(t["tid"]) for i, t in enumerate(made) if i != 5}


def test_pinduoduo_uses_30_minute_windows_and_reverse_pages(fake_platform, sleep):
    server = fake_platform("pinduoduo")
    server.behaviour.add_orders(12, T0 + timedelta(minutes=1), timedelta(minutes=5))
    adapter = server.adapter(get_adapter_class("pinduoduo"), sleep=sleep)
    adapter.page_size = 2
    ids = {o.external_id for p in adapter.fetch_orders(T0, T0 + timedelta(hours=1)) for o in p.orders}
    assert len(ids) == 12
    assert all(end - start <= timedelta(minutes=30) for start, end in server.behaviour.windows)
    first_window_pages = [r.form["page"] for r in server.requests][:5]
    assert first_window_pages == ["1", "3", "2", "1", "1"]


def test_douyin_pages_are_zero_based_and_read_last_first(fake_platform, sleep):
    server = fake_platform("douyin")
    server.behaviour.add_orders(5, T0 + timedelta(minutes=1), timedelta(minutes=1))
    adapter = server.adapter(get_adapter_class("douyin"), sleep=sleep)
    adapter.page_size = 2
    pages = list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))
    import json

    assert [json.loads(r.body)["page"] for r in server.requests] == [0, 2, 1, 0]
    assert sum(len(p.orders) for p in pages) == 5


def test_jd_requests_modified_time_and_every_state(fake_platform, sleep):
    server = fake_platform("jd")
    server.behaviour.add_orders(3, T0 + timedelta(minutes=1), timedelta(minutes=1))
    adapter = server.adapter(get_adapter_class("jd"), sleep=sleep)
    (page,) = list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))
    import json

    business = json.loads(server.requests[0].form["360buy_param_json"])
    assert business["dateType"] == 0 and "TRADE_CANCELED" in business["order_state"]
    order = page.orders[0]
    assert order.platform_status == "WAIT_SELLER_STOCK_OUT"
    assert (order.subtotal, order.discount, order.shipping, order.total) == (
        order.subtotal.__class__("199.00"),
        order.subtotal.__class__("10.00"),
        order.subtotal.__class__("8.00"),
        order.subtotal.__class__("197.00"),
    )
    (line,) = order.lines
    assert (line.sku_code, line.quantity, str(line.unit_price), str(line.discount), str(line.total)) == (
        "SKU-JD-1",
        2,
        "99.50",
        "10.00",
        "189.00",
    )
    assert order.paid_at == datetime(2025, 3, 1, 10, 0, 5, tzinfo=GMT8)


def test_shopify_asks_for_status_any_and_follows_link_cursors(fake_platform, sleep):
    server = fake_platform("shopify")
    adapter = server.adapter(get_adapter_class("shopify"), sleep=sleep)
    start = datetime(2008, 1, 5, tzinfo=UTC)
    ids = [o.external_id for p in adapter.fetch_orders(start, start + timedelta(days=7)) for o in p.orders]
    assert ids == ["450789469"]
    assert server.requests[0].query["status"] == "any"
    # the cancelled sample order is only visible because of status=any
    cancelled = datetime(2025, 7, 2, tzinfo=UTC)
    pages = list(adapter.fetch_orders(cancelled, cancelled + timedelta(days=1)))
    assert [o.platform_status for p in pages for o in p.orders] == ["cancelled"]


def test_shopify_page_info_requests_carry_no_filters(fake_platform, sleep):
    server = fake_platform("shopify")
    server.behaviour.add_orders(5, T0, timedelta(minutes=1))
    adapter = server.adapter(get_adapter_class("shopify"), sleep=sleep)
    adapter.page_size = 2
    pages = list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))
    assert sum(len(p.orders) for p in pages) == 5
    assert [set(r.query) for r in server.requests[1:]] == [{"limit", "page_info"}] * 2


def test_sample_orders_come_through_the_fake_api(fake_platform, sleep):
    """The published samples sit in the fakes' stores and arrive intact over HTTP."""
    server = fake_platform("taobao")
    adapter = server.adapter(get_adapter_class("taobao"), sleep=sleep)
    y2k = datetime(2000, 1, 1, tzinfo=GMT8)
    (page,) = list(adapter.fetch_orders(y2k - timedelta(hours=1), y2k + timedelta(hours=1)))
    assert [o.external_id for o in page.orders] == ["2231958349"]
    assert str(page.orders[0].total) == "200.07"
    server = fake_platform("tiktok")
    adapter = server.adapter(get_adapter_class("tiktok"), sleep=sleep)
    start = datetime.fromtimestamp(1756891000, UTC)
    ids = [o.external_id for p in adapter.fetch_orders(start, start + timedelta(days=1)) for o in p.orders]
    assert sorted(ids) == [
        "580187121135420582",
        "580192618811786899",
        "580246989329696256",
        "580247046106350725",
    ]
    server = fake_platform("wechat")
    adapter = server.adapter(get_adapter_class("wechat"), sleep=sleep)
    start = datetime.fromtimestamp(1658505000, UTC)
    ids = [o.external_id for p in adapter.fetch_orders(start, start + timedelta(hours=1)) for o in p.orders]
    assert ids == ["37423523451235145"]
