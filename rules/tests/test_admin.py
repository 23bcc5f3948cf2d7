"""The rules admin: the builder form validates with messages naming the bad part, presets, test, backtest."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from orders.tests.factories import make_order
from rules.models import Rule, RuleRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_client, settings):
    """The admin in English (the default language is Chinese)."""
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return admin_client


def form_data(**overrides) -> dict:
    data = {
        "name": "Big orders",
        "description": "",
        "trigger": "order_created",
        "trigger_status": "",
        "priority": "10",
        "conditions": json.dumps({"all": [{"fact": "order.total", "op": "gt", "value": "5000"}]}),
        "actions": json.dumps([{"type": "hold_for_review", "params": {"kind": "finance", "reason": "big"}}]),
        "schedule_every_minutes": "60",
        "schedule_min_age_minutes": "0",
        "schedule_lookback_days": "30",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_rule_list_and_add_form_render_with_the_builder(admin_client):
    assert admin_client.get(reverse("admin:rules_rule_changelist")).status_code == 200
    response = admin_client.get(reverse("admin:rules_rule_add"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="rule-builder-schema"' in html and "rule-conditions-builder" in html
    schema = json.loads(re.search(r'id="rule-builder-schema"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert "order.total" in schema["facts"] and "issue_coupon" in schema["actions"]


def test_bad_conditions_and_actions_are_reported_by_position(admin_client):
    data = form_data(
        conditions=json.dumps(
            {
                "all": [
                    {"fact": "order.total", "op": "gt", "value": "5000"},
                    {"fact": "order.total", "op": "gt", "value": "abc"},
                ]
            }
        ),
        actions=json.dumps(
            [
                {"type": "add_tag", "params": {"tag": "x"}},
                {"type": "issue_coupon", "params": {"amount": "-1", "valid_days": 3}},
            ]
        ),
    )
    response = admin_client.post(reverse("admin:rules_rule_add"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "condition 2: &#x27;order.total&#x27; needs a number, got &#x27;abc&#x27;" in html
    assert "action 2: &#x27;amount&#x27; must be greater than 0" in html
    assert not Rule.objects.filter(name="Big orders").exists()


def test_invalid_json_is_reported(admin_client):
    response = admin_client.post(reverse("admin:rules_rule_add"), form_data(conditions="{oops"))
    assert "not valid JSON" in response.content.decode()


def test_a_valid_rule_is_saved(admin_client, admin_user):
    response = admin_client.post(reverse("admin:rules_rule_add"), form_data(enabled="on"))
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = Rule.objects.get(name="Big orders")
    assert rule.enabled and rule.created_by == admin_user
    assert rule.actions[0]["params"]["kind"] == "finance"


def test_create_from_preset(admin_client):
    assert admin_client.get(reverse("admin:rules_rule_presets")).status_code == 200
    response = admin_client.post(reverse("admin:rules_rule_presets"), {"code": "out_of_stock_presale"})
    rule = Rule.objects.filter(preset="out_of_stock_presale").order_by("-pk").first()
    assert response.status_code == 302 and not rule.enabled


def test_test_this_rule_shows_the_trace(admin_client):
    rule = Rule.objects.create(
        name="t",
        conditions={"all": [{"fact": "order.total", "op": "gt", "value": "5000"}]},
        actions=[{"type": "add_tag", "params": {"tag": "x"}}],
    )
    order = make_order()
    response = admin_client.get(
        reverse("admin:rules_rule_test", args=[rule.pk]), {"order_number": order.number}
    )
    html = response.content.decode()
    assert f"Order {order.number} does not match." in html
    assert "condition 1: Order total is greater than 5000 (actual: &#x27;20.00&#x27;): failed" in html
    response = admin_client.get(reverse("admin:rules_rule_test", args=[rule.pk]), {"order_number": "nope"})
    assert "no order with number" in response.content.decode()


def test_backtest_view(admin_client):
    rule = Rule.objects.create(name="b", conditions={}, actions=[{"type": "add_tag", "params": {"tag": "x"}}])
    make_order()
    response = admin_client.get(reverse("admin:rules_rule_backtest", args=[rule.pk]), {"days": "7"})
    assert "1 of 1 orders of the last 7 days would have matched" in response.content.decode()
    assert not RuleRun.objects.exists()


def test_a_disabled_rule_is_announced_on_the_list(admin_client):
    Rule.objects.create(name="broken", actions=[], disabled_reason="condition 1: invalid regular expression")
    response = admin_client.get(reverse("admin:rules_rule_changelist"))
    assert "Rule &#x27;broken&#x27; was disabled after an error" in response.content.decode()


@pytest.mark.parametrize("name", ["rulerun", "notification", "webhookcall", "coupon", "restrictedregion"])
def test_other_lists_render(admin_client, name):
    assert admin_client.get(reverse(f"admin:rules_{name}_changelist")).status_code == 200
