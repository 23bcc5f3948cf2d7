"""Platform adapters: one module per platform, registered by key (see `registry`). Importing this package
registers them all; a new platform is one module plus one import line here.
"""

from channels.adapters import (  # noqa: F401  (imported for registration)
    douyin,
    jd,
    pinduoduo,
    shopify,
    taobao,
    tiktok,
    website,
    wechat,
)
from channels.adapters.registry import available_platforms, get_adapter_class, register

__all__ = ["available_platforms", "get_adapter_class", "register"]
