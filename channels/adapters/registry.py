"""The adapter registry: platform key (the `Channel.platform` value) -> adapter class.

Adapters register themselves with `@register`; `channels/adapters/__init__.py` imports every adapter module so
the registry is complete once `channels.adapters` is imported. A new platform is one module plus one import
line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.adapters.errors import AdapterError

if TYPE_CHECKING:
    from channels.adapters.base import OrderAdapter

_REGISTRY: dict[str, type[OrderAdapter]] = {}


def register[AdapterT: type[OrderAdapter]](cls: AdapterT) -> AdapterT:
    """Class decorator: register an adapter under its `platform` key; a second class for one key is refused."""
    key = getattr(cls, "platform", None)
    if not key:
        raise TypeError(f"{cls.__name__} has no `platform` key")
    existing = _REGISTRY.get(key)
    if existing is not None and existing is not cls:
        raise ValueError(f"platform {key!r} is already registered to {existing.__name__}")
    _REGISTRY[key] = cls
    return cls


def get_adapter_class(platform: str) -> type[OrderAdapter]:
    """The adapter class for a platform key; `AdapterError('unknown_platform')` if none is registered."""
    import channels.adapters  # noqa: F401  (registers every adapter)

    try:
        return _REGISTRY[platform]
    except KeyError:
        raise AdapterError("unknown_platform", f"no adapter is registered for platform {platform!r}")


def available_platforms() -> list[str]:
    """Registered platform keys, sorted."""
    import channels.adapters  # noqa: F401

    return sorted(_REGISTRY)
