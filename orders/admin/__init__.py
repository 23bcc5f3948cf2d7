"""Admin of the order domain. `OrderAdmin` and its `CappedPaginator` are importable for benchmarks."""

from django.contrib import admin

import orders.admin.fulfilment  # noqa: F401  (invoices, returns, statements, tracking, merge/split)
import orders.admin.imports  # noqa: F401  (order imports, import profiles, exports)
from orders.admin import catalog  # noqa: F401  (registers products, warehouses, stock, customers, tags)
from orders.admin.order import OrderAdmin, PinnedExceptionsChangeList
from orders.admin.paginator import CappedPaginator
from orders.models import Order

admin.site.register(Order, OrderAdmin)

__all__ = ["CappedPaginator", "OrderAdmin", "PinnedExceptionsChangeList"]
