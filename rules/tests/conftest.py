"""Fixtures of the rules tests: rules made through the services, a clean compiled-rule cache, English."""

from __future__ import annotations

import pytest
from django.utils import translation

from rules import services
from rules.models import Rule


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def fresh_rule_cache():
    """Compiled rules are cached per process by pk; test databases reuse pks."""
    services._compiled.clear()
    yield
    services._compiled.clear()


@pytest.fixture
def make_rule(db):
    """Create an enabled rule: make_rule(conditions, actions, trigger=..., **fields)."""

    def make(conditions=None, actions=None, *, name=None, **fields) -> Rule:
        fields.setdefault("enabled", True)
        rule = Rule(
            name=name or f"rule {Rule.objects.count() + 1}",
            conditions=conditions or {},
            actions=actions or [{"type": "add_note", "params": {"text": "hello"}}],
            **fields,
        )
        rule.full_clean()
        return services.save_rule(rule)

    return make
