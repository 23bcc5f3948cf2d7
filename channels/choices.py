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


class SyncRunStatus(models.TextChoices):
    """Where a sync run stands; a running row is also the channel's sync lease."""

    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class SyncTrigger(models.TextChoices):
    """What started a sync run."""

    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Manual (admin)")
    COMMAND = "command", _("Command line")


class WebhookStatus(models.TextChoices):
    """A webhook delivery: accepted (queued), processed, failed while processing, or refused at the door."""

    ACCEPTED = "accepted", _("Accepted")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")
    REFUSED = "refused", _("Refused")


class PushbackStatus(models.TextChoices):
    """Whether the tracking number reached the platform's ship-confirm API."""

    NONE = "none", _("Nothing to push")
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Pushed")
    FAILED = "failed", _("Failed")
    UNSUPPORTED = "unsupported", _("Not supported")


class FieldTransform(models.TextChoices):
    """Transforms a field mapping may apply to the value it reads."""

    NONE = "none", _("None")
    STRIP = "strip", _("Strip spaces")
    UPPER = "upper", _("Upper case")
    FEN_TO_YUAN = "fen_to_yuan", _("Fen to yuan")
    PHONE = "phone", _("Phone number")
    DATE = "date", _("Date/time")


class MappedField(models.TextChoices):
    """Order fields a field mapping may fill from the raw payload."""

    BUYER_NAME = "buyer_name", _("Buyer")
    BUYER_PHONE = "buyer_phone", _("Buyer phone")
    BUYER_EMAIL = "buyer_email", _("Buyer email")
    BUYER_ID = "buyer_id", _("Buyer id")
    RECEIVER_NAME = "receiver_name", _("Receiver")
    RECEIVER_PHONE = "receiver_phone", _("Receiver phone")
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    DISTRICT = "district", _("District")
    STREET = "street", _("Street address")
    POSTCODE = "postcode", _("Postcode")
    BUYER_NOTE = "buyer_note", _("Buyer note")
    SELLER_NOTE = "seller_note", _("Seller note")
    SHIPPING_FEE = "shipping_fee", _("Shipping")
    PLACED_AT = "placed_at", _("Placed at")
    PAID_AT = "paid_at", _("Paid at")
