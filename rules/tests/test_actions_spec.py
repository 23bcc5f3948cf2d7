"""Action specs: parameter validation with messages naming the action, templates, triggers and presets.

Pure: no database.
"""

import json
from decimal import Decimal

import pytest
from django.utils import translation
from django.utils.functional import Promise
from hypothesis import given
from hypothesis import strategies as st

from rules.actions_spec import (
    ACTIONS,
    PRESETS,
    TEMPLATE_FIELDS,
    TRIGGERS,
    Action,
    ActionError,
    clean_actions,
    get_preset,
    render_template,
    validate_actions,
)
from rules.conditions import evaluate, validate_conditions


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English whatever translations the project ships."""
    with translation.override("en"):
        yield


def messages(actions) -> list[str]:
    return [str(message) for message in validate_actions(actions)]


VALID = {
    "hold_for_review": {"kind": "finance", "reason": "Large order"},
    "flag_exception": {"reason": "Address looks wrong"},
    "set_status": {"status": "on_hold"},
    "add_tag": {"tag": "大客户"},
    "add_note": {"text": "Call before shipping"},
    "assign_warehouse": {"warehouse": "WH-HZ.01"},
    "convert_to_presale": {},
    "merge_orders": {},
    "notify_customer": {"channel": "sms", "template": "订单{order.number}已收到，金额{order.total}"},
    "issue_coupon": {"amount": "10.50", "valid_days": 30},
    "call_webhook": {"url": "https://hooks.example.com/oms?x=1"},
}


def test_the_registry_has_every_action_type_from_the_issue():
    assert set(ACTIONS) == set(VALID)
    for code, spec in ACTIONS.items():
        assert spec.type == code
        assert isinstance(spec.label, Promise) and isinstance(spec.description, Promise)
        for param in spec.params:
            assert isinstance(param.label, Promise)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_action_type_accepts_valid_params(kind):
    [action] = clean_actions([{"type": kind, "params": VALID[kind]}])
    assert action.type == kind
    assert action.position == 1
    assert set(action.params) == {param.name for param in ACTIONS[kind].params}


def test_cleaned_values_are_typed():
    actions = clean_actions(
        [
            {"type": "issue_coupon", "params": {"amount": "1,000.5", "valid_days": "7"}},
            {"type": "hold_for_review", "params": {"reason": "  check  "}},
            {"type": "convert_to_presale"},
        ]
    )
    assert actions == [
        Action("issue_coupon", 1, {"amount": Decimal("1000.5"), "valid_days": 7}),
        Action("hold_for_review", 2, {"kind": "normal", "reason": "check"}),
        Action("convert_to_presale", 3, {}),
    ]
    assert isinstance(actions[0].params["valid_days"], int)


def test_amount_is_never_a_float():
    [action] = clean_actions([{"type": "issue_coupon", "params": {"amount": 0.1, "valid_days": 1}}])
    assert action.params["amount"] == Decimal("0.1")
    [action] = clean_actions([{"type": "issue_coupon", "params": {"amount": "1.500", "valid_days": 1}}])
    assert str(action.params["amount"]) == "1.50"  # trailing zeros are not extra decimal places


def act(action_type, /, **params):
    return {"type": action_type, "params": params}


COUPON = act("issue_coupon", amount="10", valid_days=30)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (act("issue_coupon", amount="abc", valid_days=30), "'amount' needs a number, got 'abc'"),
        (act("issue_coupon", amount=True, valid_days=30), "'amount' needs a number, got true"),
        (act("issue_coupon", amount="0", valid_days=30), "'amount' must be greater than 0, got '0'"),
        (act("issue_coupon", amount="-5", valid_days=30), "'amount' must be greater than 0, got '-5'"),
        (
            act("issue_coupon", amount="1.005", valid_days=30),
            "'amount' has more than 2 decimal places: '1.005'",
        ),
        (act("issue_coupon", amount="10", valid_days="x"), "'valid_days' needs a whole number, got 'x'"),
        (act("issue_coupon", amount="10", valid_days=1.5), "'valid_days' needs a whole number, got 1.5"),
        (act("issue_coupon", amount="10", valid_days=0), "'valid_days' must be between 1 and 3650, got 0"),
        (
            act("issue_coupon", amount="10", valid_days=3651),
            "'valid_days' must be between 1 and 3650, got 3651",
        ),
        (act("issue_coupon", amount="10"), "'valid_days' is required"),
        (
            act("hold_for_review", kind="urgent", reason="x"),
            "'kind' must be one of normal, finance, delayed, got 'urgent'",
        ),
        (act("hold_for_review", kind="finance"), "'reason' is required"),
        (act("hold_for_review", reason="   "), "'reason' is required"),
        (act("hold_for_review", reason="x" * 201), "'reason' is longer than 200 characters"),
        (act("hold_for_review", reason=5), "'reason' needs text, got 5"),
        (act("hold_for_review", reasn="x"), "unknown parameter 'reasn' (did you mean 'reason'?)"),
        (act("convert_to_presale", when="now"), "unknown parameter 'when'"),
        (
            act("set_status", status="on hold"),
            "'status' must be a code (letters, digits, '_', '-', '.'), got 'on hold'",
        ),
        (
            act("assign_warehouse", warehouse="WH/1"),
            "'warehouse' must be a code (letters, digits, '_', '-', '.'), got 'WH/1'",
        ),
        (
            act("notify_customer", channel="wechat", template="hi"),
            "'channel' must be one of sms, email, got 'wechat'",
        ),
        (
            act("notify_customer", channel="sms", template="{order.numbr}"),
            "unknown placeholder {order.numbr} in 'template' (did you mean {order.number}?)",
        ),
        (
            act("notify_customer", channel="sms", template="{secret}"),
            "unknown placeholder {secret} in 'template'",
        ),
        (act("notify_customer", channel="sms", template="{}"), "unknown placeholder {} in 'template'"),
        (
            act("notify_customer", channel="sms", template="{order.total:.2f}"),
            "placeholder {order.total} cannot have a format",
        ),
        (
            act("notify_customer", channel="sms", template="{order.total!r}"),
            "placeholder {order.total} cannot have a format",
        ),
        (
            act("notify_customer", channel="sms", template="hi {order.number"),
            "'template' has an unmatched '{' or '}' (write {{ or }} for a brace)",
        ),
        (
            act("notify_customer", channel="sms", template="hi }"),
            "'template' has an unmatched '{' or '}' (write {{ or }} for a brace)",
        ),
        (
            act("call_webhook", url="ftp://example.com"),
            "'url' must be an http or https address, got 'ftp://example.com'",
        ),
        (act("call_webhook", url="https://"), "'url' must be an http or https address, got 'https://'"),
        (
            act("call_webhook", url="example.com/hook"),
            "'url' must be an http or https address, got 'example.com/hook'",
        ),
        (
            act("call_webhook", url="https://a b.com"),
            "'url' must be an http or https address, got 'https://a b.com'",
        ),
        ({"type": "hold"}, "unknown action 'hold' (did you mean 'hold_for_review'?)"),
        ({"type": "launch_rocket"}, "unknown action 'launch_rocket'"),
        ({"params": {}}, "unknown action null"),
        ({"type": "add_tag", "params": ["x"]}, """'params' must be an object, got ["x"]"""),
        ({"type": "add_tag", "parms": {"tag": "x"}}, "unknown key 'parms'"),
        ("add_tag", """expected an action {"type": ..., "params": {...}}, got 'add_tag'"""),
    ],
)
def test_action_messages(action, message):
    assert messages([COUPON, action]) == [f"action 2: {message}"]


def test_every_bad_action_is_reported_with_its_position():
    found = validate_actions([act("issue_coupon", amount="abc", valid_days=30), COUPON, {"type": "nope"}])
    assert [(m.path, m.code) for m in found] == [("1", "bad_number"), ("3", "unknown_action")]
    with pytest.raises(ActionError) as caught:
        clean_actions([{"type": "nope"}])
    assert caught.value.code == "invalid_actions"
    assert caught.value.field == "actions"
    assert str(caught.value) == "action 1: unknown action 'nope'"


def test_the_list_itself_is_checked():
    assert messages([]) == ["actions: add at least one action"]
    assert messages({"type": "add_tag"}) == [
        """actions: expected a list of actions, got {"type": "add_tag"}"""
    ]
    assert messages(None) == ["actions: expected a list of actions, got null"]


def test_every_template_field_is_accepted():
    template = " ".join(f"{{{name}}}" for name in TEMPLATE_FIELDS)
    assert messages([act("notify_customer", channel="email", template=template)]) == []
    assert messages([act("notify_customer", channel="email", template="{{literal}} braces")]) == []


def test_render_template():
    template = "订单{order.number}金额{order.total}，优惠券{coupon.code} {{not a field}}"
    values = {"order.number": "SO-1", "order.total": Decimal("12.50")}
    assert render_template(template, values) == "订单SO-1金额12.50，优惠券 {not a field}"


@given(text=st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=50))
def test_plain_text_renders_unchanged(text):
    assert render_template(text, {}) == text


def test_triggers():
    assert list(TRIGGERS) == [
        "order_created",
        "order_updated",
        "status_changed",
        "payment_received",
        "order_imported",
        "order_synced",
        "schedule",
    ]


# --- presets --------------------------------------------------------------------------------------------


def test_there_are_four_presets_with_unique_codes():
    codes = [preset["code"] for preset in PRESETS]
    assert codes == [
        "finance_review_large_order",
        "restricted_region_delay",
        "third_order_coupon",
        "out_of_stock_presale",
    ]
    for preset in PRESETS:
        assert set(preset) == {"code", "name", "description", "trigger", "conditions", "actions"}


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset["code"])
def test_presets_validate_cleanly(preset):
    assert preset["trigger"] in TRIGGERS
    assert validate_conditions(preset["conditions"]) == []
    assert validate_actions(preset["actions"]) == []


def test_get_preset_is_an_editable_plain_copy():
    preset = get_preset("restricted_region_delay")
    assert json.loads(json.dumps(preset)) == preset  # no lazy strings left
    assert preset["name"] == "Delay orders to restricted regions"
    preset["actions"][1]["params"]["template"] = "changed"
    assert get_preset("restricted_region_delay")["actions"][1]["params"]["template"] != "changed"
    with pytest.raises(KeyError):
        get_preset("nope")


@pytest.mark.parametrize(
    ("code", "facts", "matched"),
    [
        ("finance_review_large_order", {"order.total": "5000.01"}, True),
        ("finance_review_large_order", {"order.total": "5000.00"}, False),
        ("restricted_region_delay", {"address.restricted": True}, True),
        ("restricted_region_delay", {"address.restricted": False}, False),
        ("third_order_coupon", {"customer.orders_last_30_days": 3}, True),
        ("third_order_coupon", {"customer.orders_last_30_days": 4}, False),
        ("out_of_stock_presale", {"stock.any_line_short": True}, True),
        ("out_of_stock_presale", {"stock.any_line_short": False}, False),
    ],
)
def test_presets_match_the_orders_they_are_for(code, facts, matched):
    assert evaluate(get_preset(code)["conditions"], facts).matched is matched


def test_preset_sms_renders_the_order_number():
    [_hold, notify] = clean_actions(get_preset("restricted_region_delay")["actions"])
    assert notify.params["channel"] == "sms"
    assert "SO-42" in render_template(notify.params["template"], {"order.number": "SO-42"})
