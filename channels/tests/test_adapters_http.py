"""Every adapter against its fake platform over real HTTP: signing, errors, retries/backoff, malformed pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from channels.adapters import get_adapter_class
from channels.adapters.base import MalformedResponse, PlatformError, PlatformUnavailable, RateLimited

GMT8 = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=GMT8)
PLATFORMS = ["taobao", "tmall", "jd", "pinduoduo", "douyin", "wechat", "tiktok", "shopify", "website"]
#: Platforms that report throttling inside a normal JSON answer (not HTTP 429).
JSON_THROTTLE = ["taobao", "pinduoduo", "douyin", "wechat"]


def _setup(fake_platform, platform, sleep, count=5, **kwargs):
    server = fake_platform(platform)
    server.behaviour.add_orders(count, T0 + timedelta(minutes=1), timedelta(minutes=2))
    adapter = server.adapter(get_adapter_class(platform), sleep=sleep, **kwargs)
    return server, adapter


def _ids(pages):
    return sorted(order.external_id for page in pages for order in page.orders)


def _window():
    return T0, T0 + timedelta(minutes=20)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_signed_requests_are_accepted_and_every_order_is_fetched(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep, count=7)
    adapter.page_size = 3
    pages = list(adapter.fetch_orders(*_window()))
    expected = sorted(
        str(o.get("tid") or o.get("orderId") or o.get("order_sn") or o.get("order_id") or o.get("id"))
        for o in server.behaviour.orders[-7:]
    )
    assert _ids(pages) == expected
    assert len(pages) == 3
    assert [p.has_more for p in pages] == [True, True, False]
    assert sleep.delays == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_wrong_secret_or_token_is_refused_with_the_platform_error(fake_platform, platform, sleep):
    server = fake_platform(platform)
    # WeChat and Shopify authenticate by token only; the rest sign with the secret.
    field = "access_token" if platform in ("wechat", "shopify") else "app_secret"
    adapter = server.adapter(
        get_adapter_class(platform), credentials=server.behaviour.credentials(**{field: "wrong"}), sleep=sleep
    )
    with pytest.raises(PlatformError):
        list(adapter.fetch_orders(*_window()))
    assert sleep.delays == []  # an authentication error is not retried


@pytest.mark.parametrize("platform", PLATFORMS)
def test_429_is_retried_honouring_retry_after(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep)
    server.inject("429", 2, retry_after="3")
    assert len(_ids(adapter.fetch_orders(*_window()))) == 5
    assert sleep.delays == [3.0, 3.0]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_429_without_retry_after_backs_off_exponentially(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep, backoff_base=0.5)
    server.inject("429", 3)
    assert len(_ids(adapter.fetch_orders(*_window()))) == 5
    assert sleep.delays == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_5xx_is_retried_with_exponential_backoff(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep, backoff_base=0.25)
    server.inject("5xx", 3, status=502)
    assert len(_ids(adapter.fetch_orders(*_window()))) == 5
    assert sleep.delays == [0.25, 0.5, 1.0]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_persistent_429_raises_rate_limited_after_max_retries(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep, max_retries=2)
    server.inject("429", 5, retry_after="1")
    with pytest.raises(RateLimited):
        list(adapter.fetch_orders(*_window()))
    assert sleep.delays == [1.0, 1.0]
    assert len(server.requests) == 3


@pytest.mark.parametrize("platform", PLATFORMS)
def test_persistent_5xx_raises_platform_unavailable(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep, max_retries=3, backoff_base=1)
    server.inject("5xx", 10, status=503)
    with pytest.raises(PlatformUnavailable):
        list(adapter.fetch_orders(*_window()))
    assert sleep.delays == [1, 2, 4]


def test_backoff_is_capped(fake_platform, sleep):
    server, adapter = _setup(fake_platform, "shopify", sleep, max_retries=8, backoff_base=10)
    server.inject("5xx", 8)
    list(adapter.fetch_orders(*_window()))
    assert sleep.delays == [10, 20, 40, 60, 60, 60, 60, 60]


@pytest.mark.parametrize("platform", JSON_THROTTLE)
def test_throttle_in_the_platform_envelope_is_retried(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep, backoff_base=0.5)
    server.inject("throttle", 2)
    assert len(_ids(adapter.fetch_orders(*_window()))) == 5
    assert sleep.delays == [0.5, 1.0]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_non_json_page_raises_malformed_response(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep)
    server.inject("non_json")
    with pytest.raises(MalformedResponse, match="not JSON"):
        list(adapter.fetch_orders(*_window()))


@pytest.mark.parametrize(
    ("platform", "key"),
    [
        ("taobao", "total_results"),
        ("tmall", "total_results"),
        ("jd", "orderTotal"),
        ("pinduoduo", "total_count"),
        ("douyin", "total"),
        ("wechat", "order_id_list"),
        ("tiktok", "orders"),
        ("shopify", "orders"),
        ("website", "next_cursor"),
    ],
)
def test_page_missing_a_key_raises_malformed_response_naming_it(fake_platform, platform, key, sleep):
    server, adapter = _setup(fake_platform, platform, sleep)
    server.inject("missing_key")
    with pytest.raises(MalformedResponse, match=key):
        list(adapter.fetch_orders(*_window()))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_malformed_page_in_the_middle_of_paging_raises(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep, count=7)
    adapter.page_size = 3
    pages = adapter.fetch_orders(*_window())
    next(pages)
    server.inject("non_json")
    with pytest.raises(MalformedResponse):
        list(pages)


@pytest.mark.parametrize(
    ("platform", "carrier", "expected"),
    [
        ("taobao", "SF", {"tid": "900000", "out_sid": "SF1001", "company_code": "SF"}),
        ("jd", "467", {"orderId": "30000000000", "logiCoprId": "467", "logiNo": "SF1001"}),
        ("pinduoduo", "44", {"order_sn": "250301-000000", "logistics_id": "44", "tracking_number": "SF1001"}),
        (
            "douyin",
            "shunfeng",
            {"order_id": "6900000000000000000", "company_code": "shunfeng", "logistics_code": "SF1001"},
        ),
        ("website", "SF", {"order_id": "W10000", "carrier_code": "SF", "tracking_number": "SF1001"}),
    ],
)
def test_confirm_shipment_sends_the_tracking_number(fake_platform, platform, carrier, expected, sleep):
    server, adapter = _setup(fake_platform, platform, sleep, count=1)
    adapter.confirm_shipment(next(iter(expected.values())), carrier, "SF1001")
    assert server.behaviour.shipments == [expected]


def test_wechat_confirm_shipment_ships_every_product(fake_platform, sleep):
    server, adapter = _setup(fake_platform, "wechat", sleep, count=0)
    adapter.confirm_shipment("37423523451235145", "STO", "STO77")
    (sent,) = server.behaviour.shipments
    assert sent == {
        "order_id": "37423523451235145",
        "delivery_list": [
            {
                "delivery_id": "STO",
                "waybill_id": "STO77",
                "deliver_type": 1,
                "product_infos": [{"product_id": "234245", "sku_id": "23424", "product_cnt": 10}],
            }
        ],
    }


def test_tiktok_confirm_shipment_ships_the_orders_package(fake_platform, sleep):
    server, adapter = _setup(fake_platform, "tiktok", sleep, count=0)
    adapter.confirm_shipment("580247046106350725", "6841743441349706241", "JT0001")
    assert server.behaviour.shipments == [
        {
            "package_id": "1169829555141379205",
            "self_shipment": {"tracking_number": "JT0001", "shipping_provider_id": "6841743441349706241"},
        }
    ]


def test_shopify_confirm_shipment_fulfils_open_fulfillment_orders(fake_platform, sleep):
    server, adapter = _setup(fake_platform, "shopify", sleep, count=0)
    server.behaviour.fulfillment_orders["450789469"] = [
        {"id": 1046000818, "status": "open"},
        {"id": 1046000819, "status": "closed"},
    ]
    adapter.confirm_shipment("450789469", "UPS", "1Z999")
    assert server.behaviour.shipments == [
        {
            "fulfillment": {
                "line_items_by_fulfillment_order": [{"fulfillment_order_id": 1046000818}],
                "tracking_info": {"number": "1Z999", "company": "UPS"},
                "notify_customer": True,
            }
        }
    ]


@pytest.mark.parametrize("platform", ["taobao", "jd", "pinduoduo", "douyin", "tiktok", "shopify", "website"])
def test_count_orders_uses_the_platform_total(fake_platform, platform, sleep):
    server, adapter = _setup(fake_platform, platform, sleep, count=6)
    assert adapter.count_orders(*_window()) == 6


def test_count_orders_is_refused_where_the_api_reports_no_total(fake_platform, sleep):
    _server, adapter = _setup(fake_platform, "wechat", sleep)
    with pytest.raises(Exception, match="count_unsupported"):
        adapter.count_orders(*_window())
