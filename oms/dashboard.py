"""Context for the admin home page: work queues with their counts, and headline figures when available."""

from __future__ import annotations

import logging

from django.http import HttpRequest

logger = logging.getLogger(__name__)


def headline_figures(request: HttpRequest) -> dict:
    """Headline figures from the reports app (`reports.dashboard.headline_figures`), if it provides them.

    Rendered by the reports app's own snippet (reports/_dashboard_figures.html); empty when it is absent.
    """
    try:
        from reports.dashboard import headline_figures as reports_figures
    except ImportError:
        return {}
    try:
        return reports_figures(request) or {}
    except Exception:  # a broken figure must never take the home page down
        logger.exception("headline figures failed")
        return {}


def dashboard_callback(request: HttpRequest, context: dict) -> dict:
    """Add the work queues (each with its count and a link to the filtered list) and headline figures."""
    from orders.queues import work_queues

    context["work_queues"] = work_queues(request.user)
    context["headline"] = headline_figures(request)
    return context
