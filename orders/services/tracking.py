"""Carrier tracking: poll open shipments through the configured adapter, store new checkpoints once,
put them on the order's timeline, and move shipments (and orders) on through update_shipment.

Parcels are polled once per (carrier, tracking number), so orders merged into one parcel share one query.
Polling is idempotent: the same answer twice adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from oms.actors import Actor
from orders.choices import EventType
from orders.models import Shipment, ShipmentTracking, TrackingEvent
from orders.services.events import record_event
from orders.services.shipping import update_shipment
from orders.tracking import TrackingAdapter, TrackingError, TrackingResult, TrackingState, get_adapter

logger = logging.getLogger(__name__)

OPEN = (Shipment.Status.SHIPPED, Shipment.Status.IN_TRANSIT)
BATCH_SIZE = 100
MIN_INTERVAL = dt.timedelta(minutes=25)
"""A parcel is not asked about again sooner than this (the schedule runs every 30 minutes)."""
GIVE_UP_AFTER = dt.timedelta(days=60)
"""Shipments older than this are no longer polled (lost parcels are a clerk's problem by then)."""

SHIPMENT_STATUS_FOR = {
    TrackingState.PICKED_UP: Shipment.Status.IN_TRANSIT,
    TrackingState.IN_TRANSIT: Shipment.Status.IN_TRANSIT,
    TrackingState.OUT_FOR_DELIVERY: Shipment.Status.IN_TRANSIT,
    TrackingState.RETURNING: Shipment.Status.IN_TRANSIT,
    TrackingState.DELIVERED: Shipment.Status.DELIVERED,
    TrackingState.RETURNED: Shipment.Status.RETURNED,
}
"""Normalised carrier state → the shipment status it implies (problem/refused/unknown: no change)."""


def _key(time: dt.datetime, description: str) -> str:
    return hashlib.sha256(f"{time.isoformat()}|{description}".encode()).hexdigest()[:40]


def _aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def record_tracking(shipment: Shipment | int, result: TrackingResult, *, actor: Actor) -> int:
    """Apply one carrier answer to a shipment: store and timeline new checkpoints, move its status.

    Returns the number of new checkpoints. Delivering the last open shipment delivers the order
    (update_shipment → mark_delivered).
    """
    pk = shipment.pk if isinstance(shipment, Shipment) else shipment
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().select_related("order").get(pk=pk)
        known = set(TrackingEvent.objects.filter(shipment=locked).values_list("dedupe_key", flat=True))
        fresh = []
        for checkpoint in result.checkpoints:
            key = _key(checkpoint.time, checkpoint.description)
            if key in known:
                continue
            known.add(key)
            fresh.append(
                TrackingEvent(
                    shipment=locked,
                    occurred_at=_aware(checkpoint.time),
                    description=checkpoint.description[:500],
                    state=checkpoint.state[:20],
                    dedupe_key=key,
                )
            )
        TrackingEvent.objects.bulk_create(fresh)
        for event in fresh:
            record_event(
                locked.order,
                type=EventType.CARRIER_EVENT,
                actor=actor,
                message=f"{locked.carrier} {locked.tracking_number}: {event.description}",
                shipment=locked.pk,
                occurred_at=event.occurred_at,
                tracking_event=event.dedupe_key,
            )
        ShipmentTracking.objects.update_or_create(
            shipment=locked, defaults={"carrier_state": result.state, "last_error": ""}
        )
        target = SHIPMENT_STATUS_FOR.get(result.state)
        if target and target != locked.status and locked.status != Shipment.Status.DELIVERED:
            update_shipment(locked, status=target, actor=actor)
        return len(fresh)


@dataclass
class PollSummary:
    """What one polling run did."""

    parcels: int = 0
    new_events: int = 0
    delivered: int = 0
    errors: list[str] = field(default_factory=list)


def poll_open_shipments(
    *,
    adapter: TrackingAdapter | None = None,
    batch_size: int = BATCH_SIZE,
    now: dt.datetime | None = None,
    actor: Actor | None = None,
) -> PollSummary:
    """Poll one batch of open shipments, least recently polled first; one query per parcel."""
    adapter = adapter or get_adapter()
    summary = PollSummary()
    if adapter is None:
        return summary
    actor = actor or Actor.system("carrier tracking")
    now = now or timezone.now()
    shipments = list(
        Shipment.objects.filter(status__in=OPEN, shipped_at__gte=now - GIVE_UP_AFTER)
        .exclude(tracking__last_polled_at__gt=now - MIN_INTERVAL)
        .select_related("order")
        .order_by(F("tracking__last_polled_at").asc(nulls_first=True), "pk")[:batch_size]
    )
    parcels: dict[tuple[str, str], list[Shipment]] = defaultdict(list)
    for shipment in shipments:
        parcels[(shipment.carrier, shipment.tracking_number)].append(shipment)
    for (carrier, number), group in parcels.items():
        summary.parcels += 1
        for shipment in group:
            tracking, _created = ShipmentTracking.objects.get_or_create(shipment=shipment)
            ShipmentTracking.objects.filter(pk=tracking.pk).update(last_polled_at=now, polls=F("polls") + 1)
        try:
            result = adapter.query(
                carrier=carrier, tracking_number=number, phone=group[0].order.receiver_phone
            )
        except TrackingError as error:
            ShipmentTracking.objects.filter(shipment__in=group).update(last_error=error.message[:500])
            summary.errors.append(f"{carrier} {number}: {error.message}")
            logger.warning("tracking %s %s failed: %s", carrier, number, error.message)
            continue
        for shipment in group:
            try:
                summary.new_events += record_tracking(shipment, result, actor=actor)
            except Exception as error:  # one parcel's trouble must not stop the batch
                logger.exception("applying tracking to shipment %s failed", shipment.pk)
                summary.errors.append(f"{carrier} {number}: {error}")
                continue
            if result.state == TrackingState.DELIVERED:
                summary.delivered += 1
    return summary


def tracking_timeline(shipment: Shipment) -> list[TrackingEvent]:
    """A shipment's checkpoints, oldest first (for the order page)."""
    return list(shipment.tracking_events.order_by("occurred_at", "pk"))


__all__ = ["PollSummary", "poll_open_shipments", "record_tracking", "tracking_timeline"]
