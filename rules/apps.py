from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RulesConfig(AppConfig):
    """Automation rules managers write and test in the admin."""

    name = "rules"
    verbose_name = _("Rules")

    def ready(self) -> None:
        """Connect the rules engine to the order hooks (guards in the transaction, sends after commit)."""
        from rules.services import register_hooks

        register_hooks()
