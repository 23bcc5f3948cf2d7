"""django-unfold theme settings: branding, language switcher and the admin's navigation."""

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

UNFOLD = {
    "SITE_TITLE": _("OMS"),
    "SITE_HEADER": _("OMS order management"),
    "SITE_SYMBOL": "inventory_2",
    "SHOW_HISTORY": True,
    "SHOW_LANGUAGES": True,
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "oms.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": _("Order desk"),
                "items": [
                    {
                        "title": _("Home and work queues"),
                        "icon": "dashboard",
                        "link": reverse_lazy("admin:index"),
                    },
                    {
                        "title": _("Orders"),
                        "icon": "receipt_long",
                        "link": reverse_lazy("admin:orders_order_changelist"),
                        "permission": lambda request: request.user.has_perm("orders.view_order"),
                    },
                    {
                        "title": _("Exceptions"),
                        "icon": "error",
                        "link": lambda request: (
                            f"{reverse_lazy('admin:orders_order_changelist')}?has_exception=yes"
                        ),
                        "permission": lambda request: request.user.has_perm("orders.view_order"),
                    },
                    {
                        "title": _("New manual order"),
                        "icon": "add_shopping_cart",
                        "link": reverse_lazy("admin:orders_order_manual"),
                        "permission": lambda request: request.user.has_perm("orders.add_order"),
                    },
                    {
                        "title": _("Warehouse page"),
                        "icon": "smartphone",
                        "link": reverse_lazy("warehouse:home"),
                        "permission": lambda request: request.user.has_perm("orders.ship_order"),
                    },
                ],
            },
            {
                "title": _("Management"),
                "items": [
                    {
                        "title": _("Reports"),
                        "icon": "bar_chart",
                        "link": reverse_lazy("admin:reports_catalog"),
                        "permission": lambda request: request.user.has_perm("reports.view_savedreport"),
                    },
                    {
                        "title": _("Rules"),
                        "icon": "rule",
                        "link": reverse_lazy("admin:rules_rule_changelist"),
                        "permission": lambda request: request.user.has_perm("rules.view_rule"),
                    },
                    {
                        "title": _("Channels"),
                        "icon": "storefront",
                        "link": reverse_lazy("admin:channels_channel_changelist"),
                        "permission": lambda request: request.user.has_perm("channels.view_channel"),
                    },
                    {
                        "title": _("API documentation"),
                        "icon": "api",
                        "link": reverse_lazy("api-docs"),
                    },
                ],
            },
        ],
    },
    "LOGIN": {"redirect_after": lambda request: reverse_lazy("admin:index")},
}
