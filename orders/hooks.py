"""Explicit hooks for order changes (webhooks, rules, channel push-back).

Apps register a handler by name in their AppConfig.ready(). Services call `dispatch(event, ...)`, which runs
the in-transaction handlers now and the after-commit handlers once the transaction commits.

- after commit (`register`): handlers enqueue work, they never change the order.
- in transaction (`register_in_transaction`): guards that must exist before anyone else sees the change
  (rules' holds and exceptions). Each runs in a savepoint; a failing one is rolled back and logged, never
  breaking the change that triggered it. The after-commit payload then carries `guarded=True`.

Batch events (`BATCH_EVENTS`) carry `order_ids` instead of `order_id`: bulk paths (syncs, imports) call
`dispatch("orders_created", order_ids=[...], ...)` once per page. An app registers a batch handler under the same
name as its per-order one; a per-order handler without a batch twin is still called once per order id, so a bulk
path never skips a handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction

logger = logging.getLogger(__name__)

_handlers: dict[str, dict[str, Callable[..., None]]] = {}
_in_transaction: dict[str, dict[str, Callable[..., None]]] = {}

BATCH_EVENTS: dict[str, str] = {"orders_created": "order_created"}
"""Batch event → the per-order event it stands for."""


def _calls(
    table: dict[str, dict[str, Callable[..., None]]], event: str, payload: dict
) -> list[tuple[str, Callable]]:
    """(name, call) pairs for `event`: its own handlers, plus per-order handlers of a batch event without a twin."""
    handlers = table.get(event, {})
    calls = [(name, partial(handler, **payload)) for name, handler in handlers.items()]
    single = BATCH_EVENTS.get(event)
    if single:
        rest = {key: value for key, value in payload.items() if key != "order_ids"}
        for name, handler in table.get(single, {}).items():
            if name not in handlers:
                calls += [(name, partial(handler, order_id=pk, **rest)) for pk in payload["order_ids"]]
    return calls


def register(event: str, name: str, handler: Callable[..., None]) -> None:
    """Register `handler` for `event` (e.g. 'status_changed') under a unique name."""
    _handlers.setdefault(event, {})[name] = handler


def dispatch_on_commit(event: str, **payload) -> None:
    """Run every handler of `event` after the current transaction commits; a failing handler is logged."""

    def run() -> None:
        for name, call in _calls(_handlers, event, payload):
            try:
                call()
            except Exception:  # a side effect must never break the order flow
                logger.exception("order hook %s for %s failed", name, event)

    transaction.on_commit(run)


def register_in_transaction(event: str, name: str, handler: Callable[..., None]) -> None:
    """Register `handler` to run synchronously inside the transaction that makes the change."""
    _in_transaction.setdefault(event, {})[name] = handler


def dispatch_in_transaction(event: str, **payload) -> None:
    """Run every in-transaction handler of `event` now, each in a savepoint; a failing one is logged."""
    for name, call in _calls(_in_transaction, event, payload):
        try:
            with transaction.atomic():
                call()
        except Exception:  # a guard must never break the change that triggered it
            logger.exception("in-transaction order hook %s for %s failed", name, event)


def dispatch(event: str, **payload) -> None:
    """The call point of services: in-transaction handlers now, after-commit handlers on commit."""
    dispatch_in_transaction(event, **payload)
    dispatch_on_commit(event, guarded=True, **payload)
