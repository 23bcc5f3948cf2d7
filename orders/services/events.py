"""The one way timeline events are written (keyword-only, typed, with the actor)."""

from __future__ import annotations

from typing import Any

from oms.actors import Actor
from orders.choices import EventType
from orders.models import Order, OrderEvent


def record_event(
    order: Order, *, type: EventType | str, actor: Actor, message: str = "", **data: Any
) -> OrderEvent:
    """Append one event to `order`'s timeline with the actor who caused it and JSON details."""
    return OrderEvent.objects.create(
        order=order,
        type=type,
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        actor_label=actor.label[:150],
        message=str(message),
        data=jsonable(data),
    )


def event_row(order_id: int, *, type: str, actor: Actor, message: str = "", **data: Any) -> OrderEvent:
    """An unsaved event for bulk_create paths (imports, syncs, demo data)."""
    return OrderEvent(**event_values(order_id, type=type, actor=actor, message=message, **data))


def event_values(order_id: int, *, type: str, actor: Actor, message: str = "", **data: Any) -> dict[str, Any]:
    """The fields of an event as a dict, for writers that insert rows without model instances (sync pages)."""
    return {
        "order_id": order_id,
        "type": type,
        "actor_kind": actor.kind,
        "actor_user_id": actor.user_id,
        "actor_label": actor.label[:150],
        "message": str(message),
        "data": jsonable(data),
    }


def json_default(value: Any) -> Any:
    """`json.dumps(default=...)` for what JSON cannot write (Decimals, datetimes, lazy strings), as `jsonable`."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def jsonable(value: Any) -> Any:
    """Make Decimals, datetimes and lazy strings JSON-safe (event details, raw payloads, rule facts)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
