"""Webhook intake: verify the platform's signature on the raw body, dedupe by delivery id, answer fast.

`receive_webhook` does only what must happen inside the request (verify, record, enqueue) and returns the HTTP
status; `process_delivery` (run by a django-q2 task) upserts the delivered orders. Forged and replayed requests
are refused and logged as a `refused` WebhookDelivery with the reason; neither the signature nor any secret is
stored or logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from channels.adapters.errors import AdapterError, SignatureError
from channels.choices import WebhookStatus
from channels.mapping import load_mapping
from channels.models import Channel, WebhookDelivery
from channels.services.sync import build_adapter
from channels.services.upsert import upsert_orders
from oms.actors import Actor
from orders.services.events import jsonable

logger = logging.getLogger(__name__)

#: Headers whose value may name a delivery (recorded on refused rows for tracing; never trusted).
CLAIMED_ID_HEADERS = ("x-shopify-webhook-id", "x-oms-delivery-id", "x-tts-notification-id", "x-delivery-id")


@dataclass(frozen=True)
class Answer:
    """What the view answers: HTTP status and a small JSON body."""

    status: int
    body: dict


def _claimed_id(headers: Mapping[str, str]) -> str:
    lowered = {str(k).lower(): v for k, v in headers.items()}
    for name in CLAIMED_ID_HEADERS:
        if lowered.get(name):
            return str(lowered[name])[:128]
    return ""


def _refuse(
    channel: Channel, *, reason: str, delivery_id: str, topic: str = "", remote_addr: str | None
) -> None:
    WebhookDelivery.objects.create(
        channel=channel,
        delivery_id=delivery_id,
        topic=topic[:100],
        status=WebhookStatus.REFUSED,
        reason=reason[:300],
        remote_addr=remote_addr or None,
    )
    logger.warning("webhook %s refused: %s (delivery %s)", channel.code, reason[:200], delivery_id or "-")


def receive_webhook(
    channel: Channel, headers: Mapping[str, str], body: bytes, *, remote_addr: str | None
) -> Answer:
    """Verify and record one push; 202 accepted, 401 forged or stale, 400 unusable, 200 duplicate.

    A delivery id seen before is acknowledged with 200 and not processed again: platforms retry deliveries they
    think failed (Shopify drops a subscription after 8 failed attempts), so refusing a retry would hurt.
    Replays of old requests are caught by the adapter's timestamp window and refused as forged."""
    adapter = build_adapter(channel)
    try:
        delivery = adapter.verify_webhook(headers, body)
    except SignatureError as exc:
        _refuse(
            channel,
            reason=f"bad signature: {exc.message}",
            delivery_id=_claimed_id(headers),
            remote_addr=remote_addr,
        )
        return Answer(401, {"error": "bad_signature"})
    except AdapterError as exc:
        _refuse(
            channel,
            reason=f"{exc.code}: {exc.message}",
            delivery_id=_claimed_id(headers),
            remote_addr=remote_addr,
        )
        return Answer(400, {"error": exc.code})
    finally:
        adapter.close()
    stored = {
        "topic": delivery.topic,
        "orders": [jsonable(order.raw) for order in delivery.orders],
        "order_ids": list(delivery.order_ids),
    }
    try:
        with transaction.atomic():
            row = WebhookDelivery.objects.create(
                channel=channel,
                delivery_id=delivery.delivery_id[:128],
                topic=delivery.topic[:100],
                status=WebhookStatus.ACCEPTED,
                payload=stored,
                remote_addr=remote_addr or None,
            )
    except IntegrityError:
        _refuse(
            channel,
            reason="duplicate: this delivery id was already received; acknowledged, not processed again",
            delivery_id=delivery.delivery_id[:128],
            topic=delivery.topic,
            remote_addr=remote_addr,
        )
        return Answer(200, {"duplicate": True, "delivery_id": delivery.delivery_id})
    from channels.tasks import enqueue_webhook_processing

    transaction.on_commit(lambda: enqueue_webhook_processing(row.pk))
    return Answer(202, {"accepted": row.delivery_id})


def process_delivery(delivery_pk: int) -> str:
    """Upsert the orders of one accepted delivery (idempotent: a processed delivery is left alone)."""
    row = WebhookDelivery.objects.select_related("channel").get(pk=delivery_pk)
    if row.status not in (WebhookStatus.ACCEPTED, WebhookStatus.FAILED):
        return row.status
    channel = row.channel
    adapter = build_adapter(channel)
    try:
        orders = [adapter.parse_order(raw) for raw in row.payload.get("orders", [])]
        known = {order.external_id for order in orders}
        fetch = getattr(adapter, "fetch_order", None)
        missing = [oid for oid in row.payload.get("order_ids", []) if oid and oid not in known]
        if fetch is not None and not row.topic.endswith("delete"):
            orders.extend(fetch(oid) for oid in missing)
        with transaction.atomic():
            result = upsert_orders(
                channel, orders, mapping=load_mapping(channel), actor=Actor.channel(channel.code)
            )
            WebhookDelivery.objects.filter(pk=row.pk).update(
                status=WebhookStatus.PROCESSED,
                processed_at=timezone.now(),
                attempts=row.attempts + 1,
                reason=("; ".join(e["message"] for e in result.errors))[:300],
            )
    except Exception as exc:
        WebhookDelivery.objects.filter(pk=row.pk).update(
            status=WebhookStatus.FAILED, attempts=row.attempts + 1, reason=str(exc)[:300]
        )
        raise
    finally:
        adapter.close()
    return WebhookStatus.PROCESSED
