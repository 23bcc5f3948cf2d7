"""A changelist paginator that never counts a whole table: it counts at most `cap` rows."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedPaginator(Paginator):
    """Count with `SELECT COUNT(*) FROM (SELECT id ... LIMIT cap + 1)`, so a page costs the same at a
    million orders as at a thousand. Past `cap` rows the count reads "10000+" and deeper pages clamp to
    the last reachable one (filters and search narrow a list faster than paging does).
    """

    cap = 10_000
    template_name = "admin/orders/order/pagination_capped.html"

    @cached_property
    def count(self) -> int:
        """The number of rows, at most `cap`; `is_capped` says whether there are more."""
        object_list = self.object_list
        if hasattr(object_list, "order_by") and hasattr(object_list, "values"):
            counted = object_list.order_by().values("pk")[: self.cap + 1].count()
        else:
            counted = len(object_list[: self.cap + 1])
        self.is_capped = counted > self.cap
        return min(counted, self.cap)

    is_capped = False

    def validate_number(self, number):
        """Clamp page numbers past the last reachable page instead of failing."""
        try:
            number = int(number)
        except (TypeError, ValueError):
            number = 1
        return max(1, min(number, self.num_pages or 1))
