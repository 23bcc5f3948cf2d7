"""Outgoing webhooks: signed JSON deliveries of order events, retried with backoff, paused when failing.

Body: `{"event", "delivery_id", "occurred_at", "order": {...}}`. Headers: `X-OMS-Event`, `X-OMS-Delivery`,
`X-OMS-Timestamp` and `X-OMS-Signature: sha256=<hex HMAC-SHA256 of the raw body with the subscription secret>`.
Receivers dedupe on X-OMS-Delivery (a retry carries the same id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from datetime import timedelta

import httpx
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.models import WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
PAUSE_AFTER_FAILURES = 10
BACKOFF_BASE_SECONDS = 30
TIMEOUT_SECONDS = 5.0
BATCH_SIZE = 200


def sign(secret: str, body: bytes) -> str:
    """The X-OMS-Signature header value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def queue_order_event(event: str, order_id: int) -> list[int]:
    """Create one pending delivery per active subscription to `event` and send them in one task."""
    return queue_orders_event(event, [order_id])


def queue_orders_event(event: str, order_ids: list[int]) -> list[int]:
    """`queue_order_event` for many orders (bulk syncs and imports): subscriptions and orders read once, the
    deliveries bulk-inserted, and one task sends them all."""
    from orders.api.serializers import OrderSerializer
    from orders.models import Order

    subscriptions = [
        sub for sub in WebhookSubscription.objects.filter(is_active=True) if event in (sub.events or [])
    ]
    if not subscriptions or not order_ids:
        return []
    orders = Order.objects.select_related("channel", "warehouse").prefetch_related("tags").in_bulk(order_ids)
    occurred_at = timezone.now()
    deliveries = []
    for order_id in dict.fromkeys(order_ids):
        if order_id not in orders:
            continue
        data = json.loads(json.dumps(OrderSerializer(orders[order_id]).data, cls=DjangoJSONEncoder))
        for subscription in subscriptions:
            delivery_id = uuid.uuid4()
            deliveries.append(
                WebhookDelivery(
                    subscription=subscription,
                    event=event,
                    delivery_id=delivery_id,
                    payload={
                        "event": event,
                        "delivery_id": str(delivery_id),
                        "occurred_at": occurred_at.isoformat(),
                        "order": data,
                    },
                    next_attempt_at=occurred_at,
                )
            )
    if not deliveries:
        return []
    created = WebhookDelivery.objects.bulk_create(deliveries)
    ids = [delivery.pk for delivery in created if delivery.pk] or list(
        WebhookDelivery.objects.filter(delivery_id__in=[d.delivery_id for d in deliveries]).values_list(
            "pk", flat=True
        )
    )
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("oms.webhooks.deliver_webhooks_task", ids, q_options={"timeout": 60})
    )
    return ids


def post_signed_json(
    url: str,
    payload: dict,
    *,
    secret: str,
    event: str,
    delivery_id: str,
    user_agent: str,
    client: httpx.Client | None = None,
) -> tuple[bool, int | None, str]:
    """POST `payload` as signed JSON once; returns (delivered, response code, error text)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        "X-OMS-Event": event,
        "X-OMS-Delivery": delivery_id,
        "X-OMS-Timestamp": str(int(timezone.now().timestamp())),
        "X-OMS-Signature": sign(secret, body),
    }
    try:
        http = client or httpx.Client(timeout=TIMEOUT_SECONDS)
        try:
            response = http.post(url, content=body, headers=headers)
        finally:
            if client is None:
                http.close()
    except httpx.HTTPError as error:
        return False, None, f"{type(error).__name__}: {error}"[:500]
    ok = 200 <= response.status_code < 300
    return ok, response.status_code, "" if ok else f"HTTP {response.status_code}"


def deliver(delivery: WebhookDelivery, *, client: httpx.Client | None = None) -> bool:
    """POST one delivery once; record the outcome, schedule a retry with backoff or give up. True if delivered."""
    subscription = delivery.subscription
    delivery.attempts += 1
    ok, delivery.response_code, delivery.last_error = post_signed_json(
        subscription.url,
        delivery.payload,
        secret=subscription.secret,
        event=delivery.event,
        delivery_id=str(delivery.delivery_id),
        user_agent="OMS-Webhooks/1",
        client=client,
    )
    now = timezone.now()
    if ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
    else:
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + timedelta(
                seconds=BACKOFF_BASE_SECONDS * 2 ** (delivery.attempts - 1)
            )
        _count_failure(subscription, delivery.last_error)
    delivery.save(
        update_fields=["attempts", "response_code", "last_error", "status", "delivered_at", "next_attempt_at"]
    )
    return ok


def _count_failure(subscription: WebhookSubscription, error: str) -> None:
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        consecutive_failures=subscription.consecutive_failures + 1
    )
    subscription.refresh_from_db()
    if subscription.is_active and subscription.consecutive_failures >= PAUSE_AFTER_FAILURES:
        pause_subscription(
            subscription,
            _("%(n)s deliveries failed in a row; last error: %(error)s")
            % {"n": subscription.consecutive_failures, "error": error},
        )


def pause_subscription(subscription: WebhookSubscription, reason: str) -> None:
    """Stop sending to a failing subscription and tell the managers by email."""
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        is_active=False, paused_at=timezone.now(), pause_reason=reason[:300]
    )
    User = get_user_model()
    recipients = list(
        User.objects.filter(Q(is_superuser=True) | Q(groups__name__iexact="manager"), is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    logger.warning("webhook subscription %s paused: %s", subscription.pk, reason)
    if recipients:
        send_mail(
            _("OMS webhook '%(name)s' was paused") % {"name": subscription.name},
            _(
                "Deliveries to %(url)s were paused: %(reason)s. Fix the receiver, then re-activate it in the admin."
            )
            % {"url": subscription.url, "reason": reason},
            None,
            recipients,
            fail_silently=True,
        )


def deliver_webhooks_task(delivery_ids: list[int]) -> int:
    """django-q2 task: attempt a batch of pending deliveries that are due. Idempotent. Returns delivered count."""
    now = timezone.now()
    pending = WebhookDelivery.objects.select_related("subscription").filter(
        pk__in=delivery_ids,
        status=WebhookDelivery.Status.PENDING,
        subscription__is_active=True,
        next_attempt_at__lte=now,
    )
    delivered = 0
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        for delivery in pending:
            delivered += deliver(delivery, client=client)
    return delivered


def retry_due_webhooks_task() -> int:
    """django-q2 schedule (every minute): retry deliveries whose backoff has elapsed, in batches."""
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            subscription__is_active=True,
            next_attempt_at__lte=timezone.now(),
        ).values_list("pk", flat=True)[:BATCH_SIZE]
    )
    return deliver_webhooks_task(due) if due else 0


HOOK_EVENTS = {
    "order_created": WebhookSubscription.Event.ORDER_CREATED,
    "status_changed": WebhookSubscription.Event.STATUS_CHANGED,
    "shipped": WebhookSubscription.Event.SHIPPED,
    "hold_set": WebhookSubscription.Event.HOLD_SET,
}


def register_order_hooks() -> None:
    """Subscribe outgoing webhooks to the order hooks (called from OmsConfig.ready)."""
    from orders import hooks

    for hook, event in HOOK_EVENTS.items():
        hooks.register(
            hook,
            f"webhooks:{event}",
            lambda order_id, _event=event, **kw: queue_order_event(_event, order_id),
        )
    # Bulk paths dispatch one 'orders_created' per page: one delivery batch and one task per page.
    hooks.register(
        "orders_created",
        f"webhooks:{HOOK_EVENTS['order_created']}",
        lambda order_ids, **kw: queue_orders_event(HOOK_EVENTS["order_created"], order_ids),
    )
