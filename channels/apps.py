from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    """Sales channels: platform adapters, mapping, sync runs and webhooks."""

    name = "channels"
    label = "channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        """Register the push-back hook: a shipped channel order sends its tracking number to the platform."""
        from channels.tasks import on_shipped
        from orders import hooks

        hooks.register("shipped", "channels.pushback", on_shipped)
