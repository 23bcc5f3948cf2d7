"""The carrier-tracking adapter interface, its result dataclasses and the registry of adapters."""

from __future__ import annotations

import datetime as dt
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oms.errors import OMSError


class TrackingState:
    """Carrier states normalised across carriers (what OMS acts on)."""

    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    PROBLEM = "problem"
    DELIVERED = "delivered"
    RETURNING = "returning"
    RETURNED = "returned"
    REFUSED = "refused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Checkpoint:
    """One scan reported by the carrier: when (naive = local time), what, and the state it implies."""

    time: dt.datetime
    description: str
    state: str = ""


@dataclass(frozen=True)
class TrackingResult:
    """The carrier's view of one parcel: its normalised state and its checkpoints, oldest first."""

    state: str
    checkpoints: list[Checkpoint] = field(default_factory=list)
    raw_state: str = ""
    signed: bool = False


class TrackingError(OMSError):
    """The carrier API refused or failed (bad credentials, unknown number, network); retried next poll."""

    default_code = "tracking_failed"


class TrackingAdapter(ABC):
    """Queries one tracking service. Implementations only translate HTTP; OMS applies the results."""

    key: str = ""

    @abstractmethod
    def query(self, *, carrier: str, tracking_number: str, phone: str = "") -> TrackingResult:
        """Current state and checkpoints of a parcel; raises TrackingError when the service cannot tell."""


ADAPTERS: dict[str, type[TrackingAdapter]] = {}
"""Adapter key → class."""


def register(key: str) -> Callable[[type[TrackingAdapter]], type[TrackingAdapter]]:
    """Class decorator: make an adapter available under `key`."""

    def decorate(cls: type[TrackingAdapter]) -> type[TrackingAdapter]:
        cls.key = key
        ADAPTERS[key] = cls
        return cls

    return decorate


def tracking_config() -> dict[str, Any]:
    """settings.OMS_TRACKING, else the KUAIDI100_CUSTOMER / KUAIDI100_KEY / KUAIDI100_URL environment."""
    from django.conf import settings

    configured = getattr(settings, "OMS_TRACKING", None)
    if configured:
        return dict(configured)
    if os.environ.get("KUAIDI100_CUSTOMER") and os.environ.get("KUAIDI100_KEY"):
        config = {
            "backend": "kuaidi100",
            "customer": os.environ["KUAIDI100_CUSTOMER"],
            "key": os.environ["KUAIDI100_KEY"],
        }
        if os.environ.get("KUAIDI100_URL"):
            config["url"] = os.environ["KUAIDI100_URL"]
        return config
    return {}


def get_adapter(config: dict[str, Any] | None = None) -> TrackingAdapter | None:
    """The configured adapter, or None when tracking is not configured."""
    config = dict(config if config is not None else tracking_config())
    backend = config.pop("backend", "")
    if not backend:
        return None
    if backend not in ADAPTERS:
        raise TrackingError(f"unknown tracking backend '{backend}'", code="invalid_choice")
    return ADAPTERS[backend](**config)
