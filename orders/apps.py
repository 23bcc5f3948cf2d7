from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    """The order domain: customers, products, stock, orders, their state machine and timeline."""

    name = "orders"
    verbose_name = _("Orders")
