"""Explicit after-commit hooks for order changes (webhooks, rules, channel push-back).

Apps register a handler by name in their AppConfig.ready(); services call `dispatch` via on_commit.
This is not business logic: handlers enqueue work, they never change the order inside the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

_handlers: dict[str, dict[str, Callable[..., None]]] = {}


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
