from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    """Sales channels: platform adapters, mapping, sync runs and webhooks."""

    name = "channels"
    label = "channels"
    verbose_name = _("Channels")
