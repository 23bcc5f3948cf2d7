"""Carrier-tracking adapters: translate a carrier API's HTTP to TrackingResult dataclasses, never touch the ORM.

Adapters register under a short key; `get_adapter()` builds the configured one from settings.OMS_TRACKING
(`{"backend": "kuaidi100", "customer": ..., "key": ..., "url": ...}`) or the KUAIDI100_* environment.
"""

from orders.tracking import kuaidi100  # noqa: F401  (registers the adapter)
from orders.tracking.base import (
    ADAPTERS,
    Checkpoint,
    TrackingAdapter,
    TrackingError,
    TrackingResult,
    TrackingState,
    get_adapter,
    register,
)

__all__ = [
    "ADAPTERS",
    "Checkpoint",
    "TrackingAdapter",
    "TrackingError",
    "TrackingResult",
    "TrackingState",
    "get_adapter",
    "register",
]
