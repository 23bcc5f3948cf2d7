"""Every published sample payload in ../shared/samples/platforms maps to the right internal order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from channels.adapters import get_adapter_class
from channels.adapters.base import Credentials, PlatformAddress
from channels.tests.fake_platform import load_jsonc

GMT8 = timezone(timedelta(hours=8))
EST = timezone(timedelta(hours=-5))
D = Decimal


def _adapter(platform):
    return get_adapter_class(platform)(Credentials(app_key="k", app_secret="s", shop_id="shop.myshopify.com"))


def _load(samples_dir, name):
    # Decimal for non-integers, as the adapters' HTTP helper parses; floats would work too (see test below).
    return json.loads((samples_dir / "platforms" / name).read_text(encoding="utf-8"), parse_float=Decimal)


def _ts(seconds):
    return datetime.fromtimestamp(seconds, UTC)


def test_every_sample_file_is_covered(samples_dir):
    covered = {
        "taobao_trades_sold_get_response_docs_example_legacy.json",
        "pdd_order_list_get_response_docs_example.json",
        "pdd_error_response_docs_example.json",
        "douyin_order_searchList_shop_order_list_via_agiso_docs.jsonc",
        "wechat_channels_ec_order_get_docs_example.json",
        "tiktokshop_orders_search_202309_real_masked_vn_2.json",
        "shopify_order_fixture_python_api.json",
        "shopify_orders_list_fixture_python_api.json",
        "shopify_rest_2025-07_order_cancel_response.json",
        "shopify_rest_2025-07_order_get_450789469.json",
        "shopify_rest_2025-07_orders_list_status_any.json",
        "shopify_rest_2025-07_orders_list_updated_at_min.json",
    }
    present = {p.name for p in (samples_dir / "platforms").iterdir() if p.suffix in (".json", ".jsonc")}
    assert present <= covered, f"new sample files need a mapping test: {sorted(present - covered)}"


@pytest.mark.parametrize("platform", ["taobao", "tmall"])
def test_taobao_trade_sample(samples_dir, platform):
    raw = _load(samples_dir, "taobao_trades_sold_get_response_docs_example_legacy.json")
    trade = raw["trades_sold_get_response"]["trades"]["trade"][0]
    adapter = _adapter(platform)
    order = adapter.parse_order(trade)
    y2k = datetime(2000, 1, 1, tzinfo=GMT8)
    assert order.external_id == "2231958349"
    assert order.platform_status == "TRADE_NO_CREATE_PAY"
    assert adapter.map_status(order.platform_status) == "pending_payment"
    assert (order.created_at, order.updated_at, order.paid_at, order.shipped_at, order.completed_at) == (
        y2k,
    ) * 5
    assert order.created_at.utcoffset() == timedelta(hours=8)
    assert (order.subtotal, order.discount, order.shipping, order.tax, order.total) == (
        D("200.07"),
        D("200.07"),
        D("200.07"),
        D("0.00"),
        D("200.07"),
    )
    assert order.paid_amount == D("0.00")  # no Alipay trade created: nothing paid yet
    assert order.currency == "CNY"
    assert (order.buyer_id, order.buyer_name) == ("我在测试", "我在测试")
    assert order.address == PlatformAddress(
        receiver="东方不败",
        phone="13512501826",
        province="浙江省",
        city="杭州市",
        district="西湖区",
        street="淘宝城911号",
        postcode="223700",
        country="CN",
    )
    (line,) = order.lines
    assert (line.external_line_id, line.sku_code, line.name, line.quantity) == (
        "2231958349",
        "81893848",
        "山寨版测试机器",
        10,
    )
    assert (line.unit_price, line.discount, line.total) == (D("200.07"), D("200.07"), D("200.07"))
    assert line.platform_status == "TRADE_NO_CREATE_PAY"
    assert order.raw is trade


def test_pdd_order_list_sample(samples_dir):
    raw = _load(samples_dir, "pdd_order_list_get_response_docs_example.json")
    (item,) = raw["order_list_get_response"]["order_list"]
    adapter = _adapter("pinduoduo")
    order = adapter.parse_order(item)
    assert order.external_id == "1"
    assert order.platform_status == "1"
    assert adapter.map_status(order.platform_status) == "awaiting_shipment"
    # The doc example uses "1" as a placeholder for every time: read as unknown, never guessed.
    assert (order.created_at, order.updated_at, order.paid_at, order.shipped_at, order.completed_at) == (
        None,
    ) * 5
    assert (order.subtotal, order.discount, order.shipping, order.total, order.paid_amount) == (
        D("1.00"),
    ) * 5
    assert order.address == PlatformAddress(
        receiver="1", phone="1", province="1", city="1", district="1", street="1", country="1"
    )
    (line,) = order.lines
    assert (line.external_line_id, line.sku_code, line.name, line.quantity) == ("1", "1", "1", 1)
    assert (line.unit_price, line.total) == (D("1.00"), D("1.00"))
    assert (order.buyer_note, order.seller_note) == ("1", "1")


def test_pdd_money_as_json_floats_converts_exactly(samples_dir):
    raw = json.loads(
        (samples_dir / "platforms" / "pdd_order_list_get_response_docs_example.json").read_text()
    )
    item = raw["order_list_get_response"]["order_list"][0] | {"pay_amount": 19.9, "goods_amount": 0.1 + 0.2}
    order = _adapter("pinduoduo").parse_order(item)
    assert order.total == D("19.90")
    assert order.subtotal == D("0.30")


def test_pdd_status_precedence(samples_dir):
    item = _load(samples_dir, "pdd_order_list_get_response_docs_example.json")["order_list_get_response"][
        "order_list"
    ][0]
    adapter = _adapter("pinduoduo")
    assert adapter.parse_order(item | {"order_status": 2}).platform_status == "2"
    assert adapter.parse_order(item | {"refund_status": 4}).platform_status == "refund_status=4"
    assert adapter.map_status("refund_status=4") == "closed"
    assert adapter.parse_order(item | {"group_status": 0}).platform_status == "group_status=0"


def test_pdd_error_sample_is_a_platform_error(samples_dir):
    import httpx

    from channels.adapters.base import PlatformError

    body = _load(samples_dir, "pdd_error_response_docs_example.json")
    adapter = _adapter("pinduoduo")
    with pytest.raises(PlatformError) as caught:
        adapter._check_payload(body, httpx.Response(200), what="pdd.order.list.get")
    assert caught.value.platform_code == 10001
    assert "公共参数错误:type" in caught.value.message


def test_douyin_shop_order_sample(samples_dir):
    data = load_jsonc(
        samples_dir / "platforms" / "douyin_order_searchList_shop_order_list_via_agiso_docs.jsonc"
    )
    (item,) = data["data"]["shop_order_list"]
    adapter = _adapter("douyin")
    order = adapter.parse_order(item)
    assert order.external_id == "6936476692437472563"
    assert order.platform_status == "22"  # main_status: 发货后退款完成
    assert adapter.map_status(order.platform_status) == "closed"
    assert order.created_at == _ts(1731916551) == datetime(2024, 11, 18, 15, 55, 51, tzinfo=GMT8)
    assert order.updated_at == _ts(1731986645)
    assert order.paid_at == _ts(1731916560)
    assert order.shipped_at == _ts(1731916566)
    assert order.completed_at is None  # finish_time 0
    assert (order.subtotal, order.discount, order.shipping, order.total, order.paid_amount) == (
        D("0.01"),
        D("0.00"),
        D("0.00"),
        D("0.01"),
        D("0.01"),
    )
    assert order.buyer_id.startswith("1@#VrtJKX59")
    assert order.seller_note.startswith("付款后发货失败")
    assert order.address.province == "福建省"
    assert (order.address.city, order.address.district) == ("厦门市", "思明区")
    assert order.address.street.startswith("莲前街道 ##9c125pyLUXJ")
    assert order.address.receiver.startswith("##5e4wPfKQ")
    assert order.address.phone.startswith("$$U/qaYiUF")
    (line,) = order.lines
    assert (line.external_line_id, line.sku_code, line.name, line.quantity) == (
        "6936476692437472563",
        "112233",
        "办公椅，测试商品，勿拍",
        1,
    )
    assert (line.unit_price, line.discount, line.total) == (D("0.01"), D("0.00"), D("0.01"))
    assert line.platform_status == "22"


def test_wechat_order_get_sample(samples_dir):
    raw = _load(samples_dir, "wechat_channels_ec_order_get_docs_example.json")
    adapter = _adapter("wechat")
    order = adapter.parse_order(raw["order"])
    assert order.external_id == "37423523451235145"
    assert order.platform_status == "20"
    assert adapter.map_status("20") == "awaiting_shipment"
    assert (order.created_at, order.updated_at) == (_ts(1658505600), _ts(1658505600))
    assert order.paid_at == _ts(1658509200)
    assert order.shipped_at == _ts(1620738080)
    assert (order.subtotal, order.discount, order.shipping, order.total, order.paid_amount) == (
        D("200.00"),
        D("100.00"),
        D("5.00"),
        D("105.00"),
        D("105.00"),
    )
    assert order.buyer_id == "OPENID"
    assert (order.buyer_note, order.seller_note) == ("发顺丰", "库存不足，取消")
    assert order.address == PlatformAddress(
        receiver="陈先生",
        phone="24534252",
        province="广东",
        city="广州",
        district="海珠区",
        street="大塘",
        postcode="2435245",
        country="CN",
    )
    (line,) = order.lines
    assert (line.external_line_id, line.sku_code, line.name, line.quantity) == (
        "234245:23424",
        "23424",
        "健身环",
        10,
    )
    assert (line.unit_price, line.discount, line.total) == (D("20.00"), D("0.00"), D("200.00"))


TIKTOK_EXPECTED = [
    # id, status, created, updated, subtotal, discount, shipping, total, line id, sku
    ("580247046106350725", "AWAITING_SHIPMENT", 1756949956, 1756950077, "399000", "180000", "0", "219000",
     "580247046106481797", "AUT206-BLACK"),
    ("580246989329696256", "AWAITING_SHIPMENT", 1756949855, 1756949975, "165000", "76000", "0", "89000",
     "580246989329827328", "GAR153-WHITE"),
    ("580192618811786899", "CANCELLED", 1756573753, 1756891120, "165000", "76000", "0", "89000",
     "580192618811917971", "GAR153-WHITE"),
    ("580187121135420582", "CANCELLED", 1756542659, 1756960222, "165000", "76000", "10000", "99000",
     "580187121135551654", "GAR153-WHITE"),
]  # fmt: skip


def test_tiktok_search_sample(samples_dir):
    raws = _load(samples_dir, "tiktokshop_orders_search_202309_real_masked_vn_2.json")
    adapter = _adapter("tiktok")
    orders = [adapter.parse_order(raw) for raw in raws]
    for order, expected in zip(orders, TIKTOK_EXPECTED, strict=True):
        oid, status, created, updated, subtotal, discount, shipping, total, line_id, sku = expected
        assert (order.external_id, order.platform_status) == (oid, status)
        assert (order.created_at, order.updated_at) == (_ts(created), _ts(updated))
        assert (order.subtotal, order.discount, order.shipping, order.tax, order.total) == (
            D(subtotal),
            D(discount),
            D(shipping),
            D("0"),
            D(total),
        )
        assert order.paid_amount == D("0.00") and order.paid_at is None  # cash on delivery, not yet paid
        assert order.currency == "VND"
        (line,) = order.lines
        assert (line.external_line_id, line.sku_code, line.quantity) == (line_id, sku, 1)
        assert line.total == D(total) - D(shipping)
        assert line.unit_price - line.discount == line.total
    assert [adapter.map_status(o.platform_status) for o in orders] == [
        "awaiting_shipment",
        "awaiting_shipment",
        "cancelled",
        "cancelled",
    ]
    first = orders[0]
    assert first.buyer_email == "v4bGUU2ANMAARLNENXJEPQWML6Y2E@scs2.tiktok.com"
    assert first.buyer_id == "7494700439510026373"
    assert first.address == PlatformAddress(
        receiver="n***ễn t** p***ng g***g",
        phone="(+84)089*****02",
        province="Hồ Chí Minh",
        city="Hóc Môn",
        district="Th***********",
        street="Đư*****************",
        postcode="",
        country="VN",
    )
    assert first.lines[0].unit_price == D("399000.00")
    assert first.lines[0].platform_status == "AWAITING_SHIPMENT"


def _assert_shopify_2025(order, *, status="partially_refunded/unfulfilled", updated=None):
    assert order.external_id == "450789469"
    assert order.platform_status == status
    assert order.created_at == datetime(2008, 1, 10, 11, 0, tzinfo=EST)
    assert order.updated_at == (updated or datetime(2008, 1, 10, 11, 0, tzinfo=EST))
    assert order.paid_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.shipped_at is None  # the only fulfillment has status "failure"
    assert (order.subtotal, order.discount, order.shipping, order.tax, order.total, order.paid_amount) == (
        D("597.00"),
        D("10.00"),
        D("0.00"),
        D("11.94"),
        D("598.94"),
        D("598.94"),
    )
    assert order.currency == "USD"
    assert (order.buyer_id, order.buyer_name, order.buyer_phone, order.buyer_email) == (
        "207119551",
        "Bob Norman",
        "+557734881234",
        "bob.norman@mail.example.com",
    )
    assert order.address == PlatformAddress(
        receiver="Bob Norman",
        phone="+1(502)-459-2181",
        province="Kentucky",
        city="Louisville",
        street="Chestnut Street 92",
        postcode="40202",
        country="US",
    )
    assert [
        (x.external_line_id, x.sku_code, x.quantity, x.unit_price, x.discount, x.total) for x in order.lines
    ] == [
        ("466157049", "IPOD2008GREEN", 1, D("199.00"), D("3.34"), D("195.66")),
        ("518995019", "IPOD2008RED", 1, D("199.00"), D("3.33"), D("195.67")),
        ("703073504", "IPOD2008BLACK", 1, D("199.00"), D("3.33"), D("195.67")),
    ]


def test_shopify_2025_07_order_get_sample(samples_dir):
    raw = _load(samples_dir, "shopify_rest_2025-07_order_get_450789469.json")
    adapter = _adapter("shopify")
    order = adapter.parse_order(raw["order"])
    _assert_shopify_2025(order)
    assert adapter.map_status(order.platform_status) == "awaiting_shipment"


@pytest.mark.parametrize(
    "name",
    [
        "shopify_rest_2025-07_orders_list_status_any.json",
        "shopify_rest_2025-07_orders_list_updated_at_min.json",
    ],
)
def test_shopify_2025_07_order_list_samples(samples_dir, name):
    (raw,) = _load(samples_dir, name)["orders"]
    _assert_shopify_2025(_adapter("shopify").parse_order(raw))


def test_shopify_2025_07_cancel_response_sample(samples_dir):
    raw = _load(samples_dir, "shopify_rest_2025-07_order_cancel_response.json")
    adapter = _adapter("shopify")
    order = adapter.parse_order(raw["order"])
    _assert_shopify_2025(order, status="cancelled", updated=datetime(2025, 7, 2, 11, 31, 25, tzinfo=EST))
    assert adapter.map_status(order.platform_status) == "cancelled"


def test_shopify_python_api_order_fixture(samples_dir):
    raw = _load(samples_dir, "shopify_order_fixture_python_api.json")
    adapter = _adapter("shopify")
    order = adapter.parse_order(raw["order"])
    assert (order.external_id, order.platform_status) == ("450789469", "authorized/unfulfilled")
    assert adapter.map_status(order.platform_status) == "awaiting_shipment"
    assert (order.subtotal, order.discount, order.shipping, order.tax, order.total, order.paid_amount) == (
        D("398.00"),
        D("0.00"),
        D("0.00"),
        D("11.94"),
        D("409.94"),
        D("0.00"),  # authorized, not captured
    )
    assert order.paid_at is None
    assert order.buyer_email == "bob.norman@hostmail.com"
    assert order.address.phone == "555-625-1199"
    assert [(x.sku_code, x.unit_price, x.discount, x.total) for x in order.lines] == [
        ("IPOD2008GREEN", D("199.00"), D("0.00"), D("199.00")),
        ("IPOD2008RED", D("199.00"), D("0.00"), D("199.00")),
        ("IPOD2008BLACK", D("199.00"), D("0.00"), D("199.00")),
    ]


def test_shopify_python_api_orders_list_fixture(samples_dir):
    (raw,) = _load(samples_dir, "shopify_orders_list_fixture_python_api.json")["orders"]
    order = _adapter("shopify").parse_order(raw)
    assert (order.external_id, order.platform_status) == ("450789469", "partially_refunded/unfulfilled")
    assert order.lines == []  # this fixture carries no line_items
    assert (order.subtotal, order.discount, order.tax, order.total, order.paid_amount) == (
        D("597.00"),
        D("10.00"),
        D("11.94"),
        D("598.94"),
        D("598.94"),
    )
    assert order.buyer_phone == "+557734881234"
