from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Built-in and custom reports with Excel export."""

    name = "reports"
    verbose_name = _("Reports")
