"""Error pages: JSON under /api/ (the API never answers with HTML), Django's defaults elsewhere."""

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from oms.idempotency import json_error


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: JSON for API paths."""
    if request.path.startswith("/api/"):
        return json_error("not_found", "no such resource", None, 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: JSON for API paths, never a stack trace."""
    if request.path.startswith("/api/"):
        return json_error("server_error", "internal error; it has been logged", None, 500)
    return defaults.server_error(request)
