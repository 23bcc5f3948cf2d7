"""Context for the admin home page (work queues and headline figures)."""

from django.http import HttpRequest


def dashboard_callback(request: HttpRequest, context: dict) -> dict:
    """Add the work queues with their counts to the admin index context."""
    from orders.queues import work_queues

    context["work_queues"] = work_queues(request.user)
    return context
