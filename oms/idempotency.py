"""`Idempotency-Key` support for every API POST: a retry with the same key replays the first response.

The key row is inserted in the same transaction as the request's writes, so a concurrent duplicate waits on
the unique index and then replays the committed response; a 5xx rolls everything back so a retry can run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from oms.models import IdempotencyKey

HEADER = "HTTP_IDEMPOTENCY_KEY"


def _scope(request: HttpRequest) -> str:
    credential = request.META.get("HTTP_AUTHORIZATION") or request.COOKIES.get("sessionid") or "anonymous"
    return hashlib.sha256(credential.encode()).hexdigest()


def _fingerprint(request: HttpRequest) -> str:
    return hashlib.sha256(request.path.encode() + b"\n" + request.body).hexdigest()


class IdempotencyMiddleware:
    """Replay stored responses for retried POSTs to /api/ that carry the same Idempotency-Key."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER, "").strip()
        if request.method != "POST" or not key or not request.path.startswith("/api/"):
            return self.get_response(request)
        if len(key) > 255:
            return JsonResponse(
                {
                    "code": "invalid_idempotency_key",
                    "message": _("Idempotency-Key is too long"),
                    "field": "Idempotency-Key",
                },
                status=400,
            )
        scope, fingerprint = _scope(request), _fingerprint(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(scope=scope, key=key, fingerprint=fingerprint)
            except IntegrityError:
                record = IdempotencyKey.objects.get(scope=scope, key=key)
                return self._replay(record, fingerprint)
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            record.status_code = response.status_code
            record.content_type = response.get("Content-Type", "")
            record.body = response.content
            record.save(update_fields=["status_code", "content_type", "body"])
        return response

    @staticmethod
    def _replay(record: IdempotencyKey, fingerprint: str) -> HttpResponse:
        if record.fingerprint != fingerprint:
            return JsonResponse(
                {
                    "code": "idempotency_key_reused",
                    "message": _("this Idempotency-Key was already used for a different request"),
                    "field": "Idempotency-Key",
                },
                status=422,
            )
        if record.status_code is None:
            return JsonResponse(
                {
                    "code": "request_in_progress",
                    "message": _("the first request with this key is still running"),
                    "field": None,
                },
                status=409,
            )
        response = HttpResponse(
            bytes(record.body), status=record.status_code, content_type=record.content_type
        )
        response["Idempotent-Replayed"] = "true"
        return response


def json_error(code: str, message: str, field: str | None, status: int) -> JsonResponse:
    """A JSON error body in the API's one error shape."""
    return JsonResponse(
        {"code": code, "message": message, "field": field},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )
