"""HTTP endpoints of the channels app: the per-channel webhook URL."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels.models import Channel
from channels.webhooks import receive_webhook


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, code: str) -> JsonResponse:
    """Receive a platform push for channel `code`: 202 accepted, 401 bad signature, 200 duplicate (not reprocessed), 400 unusable."""
    channel = get_object_or_404(Channel, code=code, is_active=True)
    answer = receive_webhook(
        channel, request.headers, request.body, remote_addr=request.META.get("REMOTE_ADDR")
    )
    return JsonResponse(answer.body, status=answer.status)
