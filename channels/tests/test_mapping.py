"""Mapping: paths, transforms, status precedence, amount reconciliation, and the admin preview."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from channels.adapters.base import PlatformAddress, PlatformOrder, PlatformOrderLine
from channels.mapping import (
    MISSING,
    ChannelMapping,
    FieldRule,
    apply_transform,
    dig_path,
    effective_status_map,
    load_mapping,
    map_order,
    map_status,
    parse_path,
)
from channels.models import Channel, ChannelOrder, FieldMapping, StatusMapping
from oms.errors import ValidationFailed

KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def credentials_key(settings):
    settings.OMS_CREDENTIALS_KEY = KEY
    settings.LANGUAGE_CODE = "en"  # assertions read English texts


RAW = {
    "a": {"b": [{"c": " x "}, {"c": "y"}]},
    "fen": 12345,
    "tel": "+86 138-0000-0000",
    "t": "2025-03-01 10:00:00",
}


def test_paths():
    assert parse_path("a.b.1.c") == ["a", "b", 1, "c"]
    assert (
        dig_path(RAW, "a.b.0.c") == " x "
        and dig_path(RAW, "a.b.5.c") is MISSING
        and dig_path(RAW, "zz") is MISSING
    )
    with pytest.raises(ValueError):
        parse_path("a..b")


@pytest.mark.parametrize(
    ("value", "transform", "expected"),
    [
        (" x ", "strip", "x"),
        (" ab ", "upper", "AB"),
        (12345, "fen_to_yuan", Decimal("123.45")),
        ("+86 138-0000-0000", "phone", "13800000000"),
        ("abc", "none", "abc"),
    ],
)
def test_transforms(value, transform, expected):
    assert apply_transform(value, transform) == expected


def test_date_transform_reads_local_and_unix_times():
    local = apply_transform("2025-03-01 10:00:00", "date")
    assert local.tzinfo is not None and local.hour == 10
    assert apply_transform(0, "date") is None
    assert apply_transform(1740794400, "date") == dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC)
    with pytest.raises(ValidationFailed):
        apply_transform("tomorrow", "date", field_name="paid_at")
    with pytest.raises(ValidationFailed):
        apply_transform("12.5x", "fen_to_yuan", field_name="shipping_fee")


def test_status_precedence_channel_then_platform_then_adapter():
    assert effective_status_map({"A": "x", "B": "x", "C": "x"}, {"B": "y", "C": "y"}, {"C": "z"}) == {
        "A": "x",
        "B": "y",
        "C": "z",
    }
    mapping = ChannelMapping(platform="douyin", status_map={"paid": "pending_review"})
    assert map_status("paid", mapping) == "pending_review"
    with pytest.raises(ValidationFailed) as caught:
        map_status("nope", mapping)
    assert caught.value.code == "unmapped_status"


def _order(**changes) -> PlatformOrder:
    values = {
        "external_id": "E1",
        "platform_status": "paid",
        "created_at": dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
        "address": PlatformAddress(
            receiver="张三", phone="13800000000", province="浙江省", city="杭州市", street="文三路 1 号"
        ),
        "lines": [
            PlatformOrderLine(
                external_line_id="L1", sku_code="S1", name="杯", quantity=2, unit_price=Decimal("50.00")
            )
        ],
        "shipping": Decimal("8.00"),
        "total": Decimal("98.00"),
        "paid_amount": Decimal("98.00"),
        "raw": {"memo": {"note": "  gift wrap "}, "ship_fen": 1000},
    }
    values.update(changes)
    return PlatformOrder(**values)


MAP = ChannelMapping(platform="douyin", status_map={"paid": "pending_review"})


def test_amounts_reconcile_to_the_platform_total():
    mapped = map_order(_order(), channel=None, mapping=MAP)
    data = mapped.data
    assert data.discount == Decimal("10.00")  # 100 + 8 - 98: platform-level coupons
    assert (data.payment_status, data.status, mapped.anomalies) == ("paid", "pending_review", [])


def test_platform_total_above_the_sum_is_an_anomaly():
    mapped = map_order(
        _order(total=Decimal("120.00"), paid_amount=Decimal("120.00")), channel=None, mapping=MAP
    )
    assert mapped.data.discount == 0 and len(mapped.anomalies) == 2


def test_field_rules_override_the_adapter():
    rules = (
        FieldRule("memo.note", "buyer_note", "strip"),
        FieldRule("ship_fen", "shipping_fee", "fen_to_yuan"),
    )
    mapping = ChannelMapping(platform="douyin", status_map=MAP.status_map, field_rules=rules)
    data = map_order(_order(), channel=None, mapping=mapping).data
    assert data.buyer_note == "gift wrap" and data.shipping_fee == Decimal("10.00")
    assert data.discount == Decimal("12.00")


@pytest.mark.django_db
def test_load_mapping_layers_rows():
    channel = Channel.objects.create(code="dy", name="Douyin", platform="douyin")
    other = Channel.objects.create(code="dy2", name="Douyin 2", platform="douyin")
    StatusMapping.objects.create(platform="douyin", platform_status="X", internal_status="pending_review")
    StatusMapping.objects.create(
        platform="douyin", channel=channel, platform_status="X", internal_status="cancelled"
    )
    FieldMapping.objects.create(platform="douyin", source_path="a", target_field="buyer_note")
    FieldMapping.objects.create(
        platform="douyin", channel=channel, source_path="b", target_field="buyer_note"
    )
    FieldMapping.objects.create(platform="douyin", channel=other, source_path="c", target_field="seller_note")
    mapping = load_mapping(channel)
    assert mapping.status_map["X"] == "cancelled"
    assert [(r.path, r.target) for r in mapping.field_rules] == [("b", "buyer_note")]
    assert load_mapping(other).status_map["X"] == "pending_review"


@pytest.mark.django_db
def test_admin_preview_shows_the_result_without_saving(admin_client):
    channel = Channel.objects.create(code="site", name="Site", platform="website")
    from channels.tests.fake_platform_handlers import website_order

    raw = website_order(1, dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    raw["extra"] = {"gift_note": "  for mum  "}
    ChannelOrder.objects.create(
        channel=channel,
        external_id="W10001",
        raw=raw,
        payload_hash="x",
        platform_status="paid",
        synced_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
    )
    data = {
        "platform": "website",
        "channel": channel.pk,
        "source_path": "extra.gift_note",
        "target_field": "buyer_note",
        "transform": "strip",
        "is_active": "on",
        "preview_external_id": "",
        "_preview": "1",
    }
    response = admin_client.post("/admin/channels/fieldmapping/add/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "mapping-preview" in html and "for mum" in html and "Preview only" in html
    assert not FieldMapping.objects.exists()
    del data["_preview"]
    assert admin_client.post("/admin/channels/fieldmapping/add/", data).status_code == 302
    assert FieldMapping.objects.get().source_path == "extra.gift_note"


@pytest.mark.django_db
def test_admin_pages_render(admin_client):
    from django.utils import timezone

    from channels.models import SyncRun

    channel = Channel.objects.create(code="c", name="C", platform="taobao")
    now = timezone.now()
    run = SyncRun.objects.create(
        channel=channel, started_at=now, heartbeat_at=now, pages=3, created=120, progress=40
    )
    for url in (
        "/admin/channels/syncrun/",
        f"/admin/channels/syncrun/{run.pk}/change/",
        "/admin/channels/channel/",
        "/admin/channels/statusmapping/",
        "/admin/channels/fieldmapping/",
        "/admin/channels/channelorder/",
        "/admin/channels/webhookdelivery/",
        "/admin/channels/completenesscheck/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    live = admin_client.get(f"/admin/channels/syncrun/{run.pk}/change/").content.decode()
    assert 'http-equiv="refresh"' in live and "sync-live" in live
    assert 'http-equiv="refresh"' in admin_client.get("/admin/channels/syncrun/").content.decode()
