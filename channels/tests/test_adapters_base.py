"""The adapter layer's pure parts: registry, conversions, dataclasses, status maps, Retry-After parsing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from channels.adapters import available_platforms, get_adapter_class, register, registry
from channels.adapters.base import (
    INTERNAL_STATUSES,
    AdapterError,
    Credentials,
    MalformedResponse,
    OrderAdapter,
    _retry_after,
)
from channels.adapters.convert import china_time, fen_to_decimal, iso_time, to_decimal, unix_time
from channels.choices import Platform

PLATFORM_KEYS = ["douyin", "jd", "pinduoduo", "shopify", "taobao", "tiktok", "tmall", "website", "wechat"]


def test_registry_holds_every_platform_under_its_choice_value():
    assert available_platforms() == PLATFORM_KEYS
    assert set(PLATFORM_KEYS) <= set(Platform.values)
    for key in PLATFORM_KEYS:
        assert get_adapter_class(key).platform == key
    assert issubclass(get_adapter_class("tmall"), get_adapter_class("taobao"))


def test_unknown_platform_is_refused_with_a_code():
    with pytest.raises(AdapterError) as caught:
        get_adapter_class("offline")
    assert caught.value.code == "unknown_platform"


def test_a_ninth_platform_is_one_registered_class(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register
    class LazadaAdapter(get_adapter_class("website")):
        platform = "lazada"

    assert get_adapter_class("lazada") is LazadaAdapter
    assert "lazada" in available_platforms()
    with pytest.raises(ValueError, match="already registered"):

        @register
        class OtherLazada(LazadaAdapter):
            platform = "lazada"


@pytest.mark.parametrize("platform", PLATFORM_KEYS)
def test_default_status_maps_only_target_internal_statuses(platform):
    cls: type[OrderAdapter] = get_adapter_class(platform)
    assert cls.default_status_map
    assert set(cls.default_status_map.values()) <= INTERNAL_STATUSES


def test_channel_overrides_win_over_the_default_map():
    adapter = get_adapter_class("taobao")(Credentials(), "http://unused")
    assert adapter.map_status("PAID_FORBID_CONSIGN") == "pending_review"
    assert adapter.map_status("PAID_FORBID_CONSIGN", {"PAID_FORBID_CONSIGN": "awaiting_shipment"}) == (
        "awaiting_shipment"
    )
    assert adapter.map_status("SOMETHING_NEW") is None


def test_credentials_repr_hides_secrets(caplog):
    creds = Credentials(
        app_key="k1", app_secret="top-secret", access_token="tok-secret", extra={"x": "hidden"}
    )
    text = repr(creds)
    assert "k1" in text and "top-secret" not in text and "tok-secret" not in text and "hidden" not in text
    adapter = get_adapter_class("taobao")(creds, "http://unused")
    assert "secret" not in repr(adapter)


def test_retry_logging_never_contains_secrets(fake_platform, sleep, caplog):
    server = fake_platform("pinduoduo")
    adapter = server.adapter(get_adapter_class("pinduoduo"), sleep=sleep)
    server.inject("5xx", 2)
    with caplog.at_level(logging.DEBUG, logger="channels.adapters"):
        list(adapter.fetch_orders(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 1, 0, 10, tzinfo=UTC)))
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "channels.adapters")
    assert "retrying" in logged
    assert adapter.credentials.app_secret not in logged and adapter.credentials.access_token not in logged


@pytest.mark.parametrize(
    ("value", "expected"),
    [("200.07", "200.07"), ("219000", "219000.00"), (19.9, "19.90"), (Decimal("1.005"), "1.01"), (7, "7.00"),
     (None, "0.00"), ("", "0.00")],
)  # fmt: skip
def test_to_decimal_is_exact(value, expected):
    assert to_decimal(value, field="x") == Decimal(expected)


@pytest.mark.parametrize("value", ["abc", True, "NaN", {"a": 1}])
def test_to_decimal_refuses_garbage_naming_the_field(value):
    with pytest.raises(MalformedResponse, match="payment"):
        to_decimal(value, field="payment")


def test_fen_to_decimal():
    assert fen_to_decimal(1, field="x") == Decimal("0.01")
    assert fen_to_decimal(10500, field="x") == Decimal("105.00")
    assert fen_to_decimal("2000", field="x") == Decimal("20.00")
    with pytest.raises(MalformedResponse):
        fen_to_decimal(1.5, field="x")


def test_times_are_aware_in_the_platform_zone():
    gmt8 = timezone(timedelta(hours=8))
    assert china_time("2025-03-01 10:00:00", field="t") == datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    assert china_time("2025-03-01 10:00:00", field="t").utcoffset() == timedelta(hours=8)
    assert china_time("", field="t") is None
    assert unix_time(1731916551, field="t") == datetime(2024, 11, 18, 15, 55, 51, tzinfo=gmt8)
    assert unix_time(0, field="t") is None
    assert iso_time("2008-01-10T11:00:00-05:00", field="t") == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    with pytest.raises(MalformedResponse, match="offset"):
        iso_time("2008-01-10T11:00:00", field="t")
    with pytest.raises(MalformedResponse, match="created"):
        china_time("2024-13-01 00:00:00", field="created")


def test_retry_after_accepts_seconds_and_http_dates():
    assert _retry_after(httpx.Response(429, headers={"Retry-After": "2.0"})) == 2.0
    assert _retry_after(httpx.Response(429)) is None
    soon = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 25 <= _retry_after(httpx.Response(429, headers={"Retry-After": soon})) <= 31
