"""Staff roles as permission groups: what clerks, warehouse staff, finance, managers and integrators may do.

The groups are created by migration orders/0002 and topped up by `manage.py sync_roles` (run it after
new apps add models, so managers get their permissions too). Syncing only adds: permissions an
administrator gave a group by hand are kept.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

READ_ORDERS = [
    "orders.view_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    "orders.view_payment",
    "orders.view_shipment",
    "orders.view_shipmentline",
    "orders.view_product",
    "orders.view_warehouse",
    "orders.view_stocklevel",
    "orders.view_tag",
    "channels.view_channel",
]

ROLES: dict[str, list[str]] = {
    "clerk": [
        *READ_ORDERS,
        "orders.add_order",
        "orders.change_order",
        "orders.review_order",
        "orders.hold_order",
        "orders.cancel_order",
        "orders.view_customer",
        "orders.add_customer",
        "orders.change_customer",
        "orders.view_customeraddress",
        "orders.add_customeraddress",
        "orders.change_customeraddress",
    ],
    "warehouse": [
        *READ_ORDERS,
        "orders.ship_order",
        "orders.change_stocklevel",
    ],
    "finance": [
        *READ_ORDERS,
        "orders.finance_review_order",
        "orders.add_payment",
        "orders.change_payment",
        "orders.view_customer",
    ],
    "manager": [
        "orders.*",
        "channels.*",
        "rules.*",
        "reports.*",
        "django_q.*",
        "authtoken.*",
        "auth.view_user",
        "auth.view_group",
    ],
    "integrator": [
        *READ_ORDERS,
        "orders.add_order",
        "orders.change_order",
        "orders.review_order",
        "orders.ship_order",
        "orders.view_customer",
        "orders.add_payment",
        "orders.add_shipment",
        "orders.change_stocklevel",
    ],
}
"""Group name → permissions as 'app_label.codename' ('app_label.*': every permission of that app)."""

ROLE_DESCRIPTIONS = {
    "clerk": _("Order clerks: review, hold, cancel, edit addresses, notes, manual orders"),
    "warehouse": _("Warehouse staff: see orders, ship, print slips and labels, adjust stock"),
    "finance": _("Finance reviewers: approve finance holds, record payments"),
    "manager": _("Managers: everything, including channels, rules, reports and imports"),
    "integrator": _("Integrations using the REST API with a token"),
}


def resolve_permissions(permission_model, patterns: list[str]) -> list:
    """The Permission rows the patterns name (unknown names and empty wildcards are skipped)."""
    found = []
    for pattern in patterns:
        app_label, codename = pattern.split(".", 1)
        rows = permission_model.objects.filter(content_type__app_label=app_label)
        if codename != "*":
            rows = rows.filter(codename=codename)
        found.extend(rows)
    return found


def sync_roles(group_model=None, permission_model=None) -> dict[str, int]:
    """Create the role groups and add their permissions; returns group name → permissions added.

    Creates missing Permission rows first (they are normally made after migrations), so this works
    inside a migration and on a fresh database.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    if group_model is None or permission_model is None:
        from django.contrib.auth.models import Group, Permission

        group_model, permission_model = Group, Permission
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    added = {}
    for name, patterns in ROLES.items():
        group, _created = group_model.objects.get_or_create(name=name)
        wanted = {perm.pk for perm in resolve_permissions(permission_model, patterns)}
        have = set(group.permissions.values_list("pk", flat=True))
        group.permissions.add(*(wanted - have))
        added[name] = len(wanted - have)
    return added
