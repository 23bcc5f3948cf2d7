"""Admin forms of the rules: the rule with its conditions/actions JSON (edited by the builder or by hand),
and the small forms of 'Test this rule' and 'Backtest'. Validation messages come from the pure modules."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from orders.choices import OrderStatus
from rules.actions_spec import ACTIONS, TEMPLATE_FIELDS, TRIGGERS, validate_actions
from rules.conditions import FACTS, OPERATORS, Arity, validate_conditions
from rules.models import Rule


class JSONTextarea(forms.Textarea):
    """A monospace textarea showing JSON indented (the builder reads and writes it)."""

    def format_value(self, value: Any) -> str:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return json.dumps(value, ensure_ascii=False, indent=2)


def _parse_json(raw: Any, empty: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    if not raw.strip():
        return empty
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ValidationError(_("not valid JSON: %(error)s") % {"error": error}, code="invalid_json")


class RuleForm(forms.ModelForm):
    """A rule; conditions and actions are validated with messages naming the bad condition or action."""

    conditions = forms.CharField(
        label=_("Conditions (JSON)"),
        required=False,
        widget=JSONTextarea(attrs={"rows": 10, "class": "oms-json"}),
    )
    actions = forms.CharField(
        label=_("Actions (JSON)"), widget=JSONTextarea(attrs={"rows": 10, "class": "oms-json"})
    )
    schedule_statuses = forms.MultipleChoiceField(
        label=_("Orders in statuses"),
        choices=OrderStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For 'On a schedule' rules: only orders in these statuses (none ticked: any status)."),
    )

    class Meta:
        model = Rule
        fields = [
            "name",
            "description",
            "enabled",
            "trigger",
            "trigger_status",
            "priority",
            "stop_after_match",
            "active_from",
            "active_until",
            "conditions",
            "actions",
            "schedule_every_minutes",
            "schedule_statuses",
            "schedule_min_age_minutes",
            "schedule_lookback_days",
        ]

    def clean_conditions(self) -> Any:
        spec = _parse_json(self.cleaned_data.get("conditions"), {})
        messages = validate_conditions(spec)
        if messages:
            raise ValidationError([str(message) for message in messages])
        return spec

    def clean_actions(self) -> Any:
        actions = _parse_json(self.cleaned_data.get("actions"), [])
        messages = validate_actions(actions)
        if messages:
            raise ValidationError([str(message) for message in messages])
        return actions


class RuleTestForm(forms.Form):
    """'Test this rule' on one order."""

    order_number = forms.CharField(label=_("Order number"), max_length=64)


class BacktestForm(forms.Form):
    """'Backtest' over the last N days."""

    days = forms.IntegerField(label=_("Orders of the last (days)"), min_value=1, max_value=366, initial=30)


def builder_schema() -> dict[str, Any]:
    """What the condition/action builder offers: facts with their operators, actions with their params."""
    facts = {}
    for name, fact in FACTS.items():
        facts[name] = {
            "label": str(fact.label),
            "type": fact.type.value,
            "choices": list(fact.choices()) if fact.choices else [],
            "ops": [
                {
                    "name": op.name,
                    "label": str(op.label % {"fact": "", "value": ""}).strip(),
                    "arity": op.arity.value,
                }
                for op in OPERATORS[fact.type].values()
            ],
        }
    actions = {
        code: {
            "label": str(spec.label),
            "description": str(spec.description),
            "params": [
                {
                    "name": param.name,
                    "type": param.type.value,
                    "label": str(param.label),
                    "required": param.required,
                    "choices": list(param.choices),
                }
                for param in spec.params
            ],
        }
        for code, spec in ACTIONS.items()
    }
    return {
        "facts": facts,
        "actions": actions,
        "placeholders": {name: str(label) for name, label in TEMPLATE_FIELDS.items()},
        "triggers": {code: str(label) for code, label in TRIGGERS.items()},
        "arities": [arity.value for arity in Arity],
    }
