"""What a rule can do: action types with their parameter schema and validation, triggers, and presets.

Pure: this module only describes and validates actions. rules/effects.py carries them out through the order
services, keyed by the same action type. An action is stored as {"type": "add_tag", "params": {"tag": "VIP"}}.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oms.errors import ValidationFailed
from oms.money import CENT
from rules.conditions import ValidationMessage, did_you_mean, parse_decimal, show

TRIGGERS: dict[str, str | Promise] = {
    "order_created": gettext_lazy("Order created"),
    "order_updated": gettext_lazy("Order updated"),
    "status_changed": gettext_lazy("Status changed"),
    "payment_received": gettext_lazy("Payment received"),
    "order_imported": gettext_lazy("Order imported"),
    "order_synced": gettext_lazy("Order synced from a channel"),
    "schedule": gettext_lazy("On a schedule"),
}
"""When a rule runs: the trigger codes a Rule stores, with their labels."""

TEMPLATE_FIELDS: dict[str, str | Promise] = {
    "order.number": gettext_lazy("Order number"),
    "order.platform_order_no": gettext_lazy("Platform order number"),
    "order.total": gettext_lazy("Order total"),
    "order.status": gettext_lazy("Order status"),
    "order.placed_at": gettext_lazy("Time the order was placed"),
    "order.channel": gettext_lazy("Shop name"),
    "customer.name": gettext_lazy("Customer name"),
    "address.receiver": gettext_lazy("Receiver name"),
    "address.province": gettext_lazy("Province"),
    "address.city": gettext_lazy("City"),
    "address.district": gettext_lazy("District"),
    "coupon.code": gettext_lazy("Coupon code"),
    "coupon.amount": gettext_lazy("Coupon amount"),
    "coupon.valid_until": gettext_lazy("Coupon valid until"),
}
"""The placeholders a message template may use, written {order.number}; effects.py supplies their values."""


class ParamType(StrEnum):
    """How an action parameter is validated."""

    TEXT = "text"  # free text
    CODE = "code"  # a short identifier: status, warehouse code
    CHOICE = "choice"  # one of Param.choices
    DECIMAL = "decimal"  # a positive amount, at most 2 decimal places
    INTEGER = "integer"  # a whole number within [minimum, maximum]
    URL = "url"  # an http or https address
    TEMPLATE = "template"  # text with {placeholders} from TEMPLATE_FIELDS


@dataclass(frozen=True)
class Param:
    """One parameter of an action: name, type, label, and what values it accepts."""

    name: str
    type: ParamType
    label: str | Promise
    required: bool = True
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 500


@dataclass(frozen=True)
class ActionSpec:
    """An action type: its stable code, label, what it does, and its parameters."""

    type: str
    label: str | Promise
    description: str | Promise
    params: tuple[Param, ...] = ()


@dataclass(frozen=True)
class Action:
    """A validated action of a rule: its type, 1-based position, and cleaned parameters (Decimals, ints)."""

    type: str
    position: int
    params: dict[str, Any]


_REASON = Param("reason", ParamType.TEXT, gettext_lazy("Reason"), max_length=200)

ACTIONS: dict[str, ActionSpec] = {
    spec.type: spec
    for spec in (
        ActionSpec(
            "hold_for_review",
            gettext_lazy("Hold for review"),
            gettext_lazy(
                "Put the order on hold until someone reviews it (finance review for large amounts)."
            ),
            (
                Param(
                    "kind",
                    ParamType.CHOICE,
                    gettext_lazy("Review"),
                    False,
                    "normal",
                    ("normal", "finance", "delayed"),
                ),
                _REASON,
            ),
        ),
        ActionSpec(
            "flag_exception",
            gettext_lazy("Flag as exception"),
            gettext_lazy("Mark the order as an exception for a clerk to resolve."),
            (_REASON,),
        ),
        ActionSpec(
            "set_status",
            gettext_lazy("Set status"),
            gettext_lazy("Move the order to a status, if the status pipeline allows the move."),
            (Param("status", ParamType.CODE, gettext_lazy("Status"), max_length=30),),
        ),
        ActionSpec(
            "add_tag",
            gettext_lazy("Add tag"),
            gettext_lazy("Add a tag to the order."),
            (Param("tag", ParamType.TEXT, gettext_lazy("Tag"), max_length=50),),
        ),
        ActionSpec(
            "add_note",
            gettext_lazy("Add note"),
            gettext_lazy("Add an internal note to the order."),
            (Param("text", ParamType.TEXT, gettext_lazy("Note"), max_length=1000),),
        ),
        ActionSpec(
            "assign_warehouse",
            gettext_lazy("Assign warehouse"),
            gettext_lazy("Ship the order from the given warehouse."),
            (Param("warehouse", ParamType.CODE, gettext_lazy("Warehouse code"), max_length=50),),
        ),
        ActionSpec(
            "convert_to_presale",
            gettext_lazy("Convert to presale"),
            gettext_lazy("Treat the order as a presale: it waits for stock instead of failing allocation."),
        ),
        ActionSpec(
            "merge_orders",
            gettext_lazy("Merge with the buyer's other orders"),
            gettext_lazy(
                "Ship the order in one parcel with the same buyer's other unshipped orders to the same address."
            ),
        ),
        ActionSpec(
            "notify_customer",
            gettext_lazy("Notify customer"),
            gettext_lazy("Send the customer a message; placeholders like {order.number} are filled in."),
            (
                Param("channel", ParamType.CHOICE, gettext_lazy("Send by"), choices=("sms", "email")),
                Param("template", ParamType.TEMPLATE, gettext_lazy("Message")),
            ),
        ),
        ActionSpec(
            "issue_coupon",
            gettext_lazy("Issue coupon"),
            gettext_lazy("Give the customer a coupon worth the amount, valid for a number of days."),
            (
                Param("amount", ParamType.DECIMAL, gettext_lazy("Amount")),
                Param(
                    "valid_days", ParamType.INTEGER, gettext_lazy("Valid for (days)"), minimum=1, maximum=3650
                ),
            ),
        ),
        ActionSpec(
            "call_webhook",
            gettext_lazy("Call webhook"),
            gettext_lazy("POST the order to an outside address."),
            (Param("url", ParamType.URL, gettext_lazy("URL"), max_length=2000),),
        ),
    )
}
"""Every action type a rule may use, keyed by the code stored in the rule's JSON."""


class ActionError(ValidationFailed):
    """A list of actions that cannot be used; `messages` lists every problem found."""

    default_code = "invalid_actions"

    def __init__(self, messages: list[ValidationMessage]):
        super().__init__("; ".join(str(m) for m in messages), field="actions")
        self.messages = messages


class _Invalid(Exception):
    """A problem in one action: a stable code and a message template filled with its parameters."""

    def __init__(self, code: str, template: str, **params: Any):
        self.code = code
        self.problem = template % params if params else template
        super().__init__(self.problem)


def _unknown(code: str, plain: str, hinted: str, word: Any, candidates: Any, **params: Any) -> _Invalid:
    """An _Invalid for an unknown name, with "did you mean" when a close candidate exists."""
    hint = did_you_mean(word, candidates)
    return _Invalid(code, hinted if hint else plain, hint=hint, **params)


def _template_fields(template: str) -> list[str]:
    """The placeholders of a template, in order; _Invalid if braces do not balance or a format is given."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        raise _Invalid(
            "bad_template", _("'template' has an unmatched '{' or '}' (write {{ or }} for a brace)")
        )
    for _literal, name, spec, conversion in parts:
        if name is not None and (spec or conversion):
            raise _Invalid("bad_template", _("placeholder {%(name)s} cannot have a format"), name=name)
    return [name for _literal, name, _spec, _conversion in parts if name is not None]


def _clean_number(param: Param, raw: Any, names: dict[str, Any]) -> Decimal | int:
    """An amount (> 0, whole cents) or a whole number within the parameter's bounds."""
    number = parse_decimal(raw)
    if param.type is ParamType.DECIMAL:
        if number is None:
            raise _Invalid("bad_number", _("'%(param)s' needs a number, got %(got)s"), **names)
        if number <= 0:
            raise _Invalid("out_of_range", _("'%(param)s' must be greater than 0, got %(got)s"), **names)
        if number != number.quantize(CENT):
            raise _Invalid("bad_number", _("'%(param)s' has more than 2 decimal places: %(got)s"), **names)
        return number.quantize(CENT)
    if number is None or number != number.to_integral_value():
        raise _Invalid("bad_number", _("'%(param)s' needs a whole number, got %(got)s"), **names)
    low, high = param.minimum, param.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        raise _Invalid(
            "out_of_range", _("'%(param)s' must be between %(low)s and %(high)s, got %(got)s"), **names
        )
    return int(number)


def _clean_param(param: Param, raw: Any) -> Any:
    """One parameter's value, cleaned; raises _Invalid with a message a manager can act on."""
    raw = str(raw) if isinstance(raw, Promise) else raw
    names = {"param": param.name, "got": show(raw), "low": param.minimum, "high": param.maximum}
    if param.type in (ParamType.DECIMAL, ParamType.INTEGER):
        return _clean_number(param, raw, names)
    if not isinstance(raw, str):
        raise _Invalid("bad_value", _("'%(param)s' needs text, got %(got)s"), **names)
    text = raw.strip()
    if len(text) > param.max_length:
        template = _("'%(param)s' is longer than %(max)d characters")
        raise _Invalid("too_long", template, max=param.max_length, **names)
    if param.type is ParamType.CHOICE and text not in param.choices:
        template = _("'%(param)s' must be one of %(choices)s, got %(got)s")
        raise _Invalid("bad_choice", template, choices=", ".join(param.choices), **names)
    if param.type is ParamType.CODE and not all(c.isalnum() or c in "_-." for c in text):
        template = _("'%(param)s' must be a code (letters, digits, '_', '-', '.'), got %(got)s")
        raise _Invalid("bad_code", template, **names)
    if param.type is ParamType.URL:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in text):
            raise _Invalid("bad_url", _("'%(param)s' must be an http or https address, got %(got)s"), **names)
    if param.type is ParamType.TEMPLATE:
        for name in _template_fields(text):
            if name not in TEMPLATE_FIELDS:
                plain = _("unknown placeholder {%(name)s} in '%(param)s'")
                hinted = _("unknown placeholder {%(name)s} in '%(param)s' (did you mean {%(hint)s}?)")
                raise _unknown("bad_placeholder", plain, hinted, name, TEMPLATE_FIELDS, name=name, **names)
    return text


def _clean_action(raw: Any, position: int) -> Action:
    """One action, validated against its spec; raises _Invalid at the first problem."""
    if not isinstance(raw, Mapping):
        template = _('expected an action {"type": ..., "params": {...}}, got %(got)s')
        raise _Invalid("invalid_shape", template, got=show(raw))
    for key in raw:
        if key not in ("type", "params"):
            raise _Invalid("unknown_key", _("unknown key '%(key)s'"), key=key)
    kind = raw.get("type")
    spec = ACTIONS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        plain, hinted = _("unknown action %(type)s"), _("unknown action %(type)s (did you mean '%(hint)s'?)")
        raise _unknown("unknown_action", plain, hinted, kind, ACTIONS, type=show(kind))
    given = raw.get("params") or {}
    if not isinstance(given, Mapping):
        raise _Invalid("invalid_shape", _("'params' must be an object, got %(got)s"), got=show(given))
    known = {param.name: param for param in spec.params}
    for name in given:
        if name not in known:
            plain = _("unknown parameter '%(name)s'")
            hinted = _("unknown parameter '%(name)s' (did you mean '%(hint)s'?)")
            raise _unknown("unknown_param", plain, hinted, name, known, name=name)
    params = {}
    for param in spec.params:
        value = given.get(param.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if param.required:
                raise _Invalid("missing_param", _("'%(param)s' is required"), param=param.name)
            params[param.name] = param.default
            continue
        params[param.name] = _clean_param(param, value)
    return Action(spec.type, position, params)


def clean_actions(actions: Any) -> list[Action]:
    """A rule's actions, validated and cleaned in order; ActionError lists every problem."""
    problem = None
    if not isinstance(actions, list | tuple):
        problem = _Invalid("invalid_shape", _("expected a list of actions, got %(got)s"), got=show(actions))
    elif not actions:
        problem = _Invalid("no_actions", _("add at least one action"))
    if problem:
        raise ActionError([ValidationMessage("", problem.code, _("actions: %(p)s") % {"p": problem.problem})])
    cleaned, messages = [], []
    for position, raw in enumerate(actions, 1):
        try:
            cleaned.append(_clean_action(raw, position))
        except _Invalid as error:
            where = _("action %(position)d") % {"position": position}
            messages.append(ValidationMessage(str(position), error.code, f"{where}: {error.problem}"))
    if messages:
        raise ActionError(messages)
    return cleaned


def validate_actions(actions: Any) -> list[ValidationMessage]:
    """Every problem in a list of actions, each naming its action ("action 2: ..."); [] if valid."""
    try:
        clean_actions(actions)
    except ActionError as error:
        return error.messages
    return []


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """Fill a validated message template's {placeholders} from values; a missing value renders empty."""
    parts = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            value = values.get(name)
            parts.append("" if value is None else str(value))
    return "".join(parts)


def _condition(fact: str, op: str, value: Any = None) -> dict[str, Any]:
    leaf = {"fact": fact, "op": op}
    return leaf if value is None else {**leaf, "value": value}


PRESETS: tuple[dict[str, Any], ...] = (
    {
        "code": "finance_review_large_order",
        "name": gettext_lazy("Finance review for large orders"),
        "description": gettext_lazy("Orders above 5,000 wait for a finance review before they ship."),
        "trigger": "order_created",
        "conditions": {"all": [_condition("order.total", "gt", "5000")]},
        "actions": [
            {
                "type": "hold_for_review",
                "params": {"kind": "finance", "reason": gettext_lazy("Order total above 5,000")},
            }
        ],
    },
    {
        "code": "restricted_region_delay",
        "name": gettext_lazy("Delay orders to restricted regions"),
        "description": gettext_lazy(
            "Orders shipping to a restricted region are held as delayed shipments and the customer gets "
            "an SMS. Maintain the provinces, cities or districts under Rules › Restricted regions."
        ),
        "trigger": "order_created",
        "conditions": {"all": [_condition("address.restricted", "is_true")]},
        "actions": [
            {
                "type": "hold_for_review",
                "params": {
                    "kind": "delayed",
                    "reason": gettext_lazy("Shipping address in a restricted region"),
                },
            },
            {
                "type": "notify_customer",
                "params": {
                    "channel": "sms",
                    "template": gettext_lazy(
                        "Your order {order.number} ships to a restricted area and will be delayed. "
                        "Sorry for the wait."
                    ),
                },
            },
        ],
    },
    {
        "code": "third_order_coupon",
        "name": gettext_lazy("Coupon on the 3rd order in 30 days"),
        "description": gettext_lazy(
            "A customer placing their 3rd order within 30 days gets a 10 yuan coupon and an SMS about it."
        ),
        "trigger": "order_created",
        "conditions": {"all": [_condition("customer.orders_last_30_days", "eq", 3)]},
        "actions": [
            {"type": "issue_coupon", "params": {"amount": "10", "valid_days": 30}},
            {
                "type": "notify_customer",
                "params": {
                    "channel": "sms",
                    "template": gettext_lazy(
                        "Thank you for your order {order.number}! Here is a {coupon.amount} yuan coupon "
                        "{coupon.code} for your next purchase, valid until {coupon.valid_until}."
                    ),
                },
            },
        ],
    },
    {
        "code": "out_of_stock_presale",
        "name": gettext_lazy("Presale when a line is out of stock"),
        "description": gettext_lazy("An order with a line short of stock becomes a presale."),
        "trigger": "order_created",
        "conditions": {"all": [_condition("stock.any_line_short", "is_true")]},
        "actions": [{"type": "convert_to_presale", "params": {}}],
    },
)
"""Ready-made rules a manager can start from; use get_preset() for an editable copy."""


def _resolve(value: Any) -> Any:
    """A preset with translatable texts turned into plain strings of the active language."""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, Mapping):
        return {key: _resolve(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(item) for item in value]
    return copy.copy(value)


def get_preset(code: str) -> dict[str, Any]:
    """An editable copy of the preset with this code, texts in the active language; KeyError if unknown."""
    for preset in PRESETS:
        if preset["code"] == code:
            return _resolve(preset)
    raise KeyError(code)
