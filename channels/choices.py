"""Choices for the channels app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Platform(models.TextChoices):
    """The sales platforms OMS has an adapter for; the value is the adapter registry key."""

    TAOBAO = "taobao", _("Taobao")
    TMALL = "tmall", _("Tmall")
    JD = "jd", _("JD")
    PINDUODUO = "pinduoduo", _("Pinduoduo")
    DOUYIN = "douyin", _("Douyin shop")
    WECHAT = "wechat", _("WeChat channels shop")
    TIKTOK = "tiktok", _("TikTok Shop")
    SHOPIFY = "shopify", _("Shopify")
    WEBSITE = "website", _("Own website")
    OFFLINE = "offline", _("Offline / phone")
