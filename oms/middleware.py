"""Request guards for the API that are not about idempotency."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from oms.idempotency import json_error


class RejectNulCharactersMiddleware:
    """Refuse API requests carrying NUL characters (PostgreSQL cannot store them) with a JSON 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            query = request.META.get("QUERY_STRING", "")
            body = request.body if request.method in ("POST", "PUT", "PATCH") else b""
            if (
                "\x00" in request.path
                or "%00" in query
                or "\x00" in query
                or b"\\u0000" in body
                or b"\x00" in body
            ):
                return json_error("invalid", _("NUL characters are not allowed"), None, 400)
        return self.get_response(request)
