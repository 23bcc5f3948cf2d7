"""Explicit hooks for order changes (webhooks, rules, channel push-back).

Apps register a handler by name in their AppConfig.ready(). Services call `dispatch(event, ...)`, which runs
the in-transaction handlers now and the after-commit handlers once the transaction commits.

- after commit (`register`): handlers enqueue work, they never change the order.
- in transaction (`register_in_transaction`): guards that must exist before anyone else sees the change
  (rules' holds and exceptions). Each runs in a savepoint; a failing one is rolled back and logged, never
  breaking the change that triggered it. The after-commit payload then carries `guarded=True`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

_handlers: dict[str, dict[str, Callable[..., None]]] = {}
_in_transaction: dict[str, dict[str, Callable[..., None]]] = {}


def register(event: str, name: str, handler: Callable[..., None]) -> None:
    """Register `handler` for `event` (e.g. 'status_changed') under a unique name."""
    _handlers.setdefault(event, {})[name] = handler


def dispatch_on_commit(event: str, **payload) -> None:
    """Run every handler of `event` after the current transaction commits; a failing handler is logged."""

    def run() -> None:
        for name, handler in list(_handlers.get(event, {}).items()):
            try:
                handler(**payload)
            except Exception:  # a side effect must never break the order flow
                logger.exception("order hook %s for %s failed", name, event)

    transaction.on_commit(run)


def register_in_transaction(event: str, name: str, handler: Callable[..., None]) -> None:
    """Register `handler` to run synchronously inside the transaction that makes the change."""
    _in_transaction.setdefault(event, {})[name] = handler


def dispatch_in_transaction(event: str, **payload) -> None:
    """Run every in-transaction handler of `event` now, each in a savepoint; a failing one is logged."""
    for name, handler in list(_in_transaction.get(event, {}).items()):
        try:
            with transaction.atomic():
                handler(**payload)
        except Exception:  # a guard must never break the change that triggered it
            logger.exception("in-transaction order hook %s for %s failed", name, event)


def dispatch(event: str, **payload) -> None:
    """The call point of services: in-transaction handlers now, after-commit handlers on commit."""
    dispatch_in_transaction(event, **payload)
    dispatch_on_commit(event, guarded=True, **payload)
