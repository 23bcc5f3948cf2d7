from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OmsConfig(AppConfig):
    """Shared base pieces: errors with codes, actors, money helpers, translations, static files."""

    name = "oms"
    verbose_name = _("OMS")

    def ready(self) -> None:
        """Connect outgoing webhooks to the order hooks and make sure their retry schedule exists."""
        from oms.webhooks import register_order_hooks

        register_order_hooks()
