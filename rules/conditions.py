"""Rule conditions: the fact registry, a whitelist of operators per fact type, and a pure evaluator.

A condition spec is JSON that a manager builds in the admin (or a power user types):

    leaf    {"fact": "order.total", "op": "gt", "value": "5000"}
    groups  {"all": [...]}, {"any": [...]}, {"not": {...}}, nested up to MAX_DEPTH levels

Nothing here touches the database: rules/facts.py gathers one order's facts into a dict and `evaluate()`
matches a spec against it. Numbers compare as Decimal, never float. Positions in messages are 1-based within
each group, joined by dots ("condition 1.3"); a `not` wraps its condition without adding a level.
"""

from __future__ import annotations

import difflib
import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oms.errors import OMSError, ValidationFailed

MAX_DEPTH = 10
MAX_REGEX_LENGTH = 500


class FactType(StrEnum):
    """The value types a fact can have; each has its own set of operators."""

    DECIMAL = "decimal"
    INTEGER = "integer"
    TEXT = "text"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    LIST = "list_of_text"
    REGION = "region"


def _platform_codes() -> list[str]:
    """The platform codes OMS has an adapter for (read lazily so this module imports no app models)."""
    from channels.choices import Platform

    return list(Platform.values)


@dataclass(frozen=True)
class Fact:
    """One fact a condition can test: dotted name, type, label, and bounds or choices where they apply."""

    name: str
    type: FactType
    label: str | Promise
    minimum: int | None = None
    maximum: int | None = None
    choices: Callable[[], Iterable[str]] | None = None


_DEC, _INT, _TEXT, _CHOICE = FactType.DECIMAL, FactType.INTEGER, FactType.TEXT, FactType.CHOICE
_BOOL, _LIST, _REGION = FactType.BOOLEAN, FactType.LIST, FactType.REGION

# fmt: off
FACTS: dict[str, Fact] = {fact.name: fact for fact in (
    Fact("order.total", _DEC, gettext_lazy("Order total")),
    Fact("order.subtotal", _DEC, gettext_lazy("Goods subtotal")),
    Fact("order.channel", _CHOICE, gettext_lazy("Channel code")),
    Fact("order.platform", _CHOICE, gettext_lazy("Platform"), choices=_platform_codes),
    Fact("order.type", _CHOICE, gettext_lazy("Order type")),
    Fact("order.status", _CHOICE, gettext_lazy("Order status")),
    Fact("order.payment_status", _CHOICE, gettext_lazy("Payment status")),
    Fact("order.buyer_note", _TEXT, gettext_lazy("Buyer note")),
    Fact("order.seller_note", _TEXT, gettext_lazy("Seller note")),
    Fact("order.tags", _LIST, gettext_lazy("Order tags")),
    Fact("order.placed_hour", _INT, gettext_lazy("Hour the order was placed (0-23)"), 0, 23),
    Fact("order.placed_weekday", _INT, gettext_lazy("Weekday placed (1 Monday - 7 Sunday)"), 1, 7),
    Fact("order.item_count", _INT, gettext_lazy("Number of order lines"), 0),
    Fact("address.province", _TEXT, gettext_lazy("Province")),
    Fact("address.city", _TEXT, gettext_lazy("City")),
    Fact("address.district", _TEXT, gettext_lazy("District")),
    Fact("address.region", _REGION, gettext_lazy("Shipping region")),
    Fact("address.complete", _BOOL, gettext_lazy("Address is complete")),
    Fact("address.restricted", _BOOL, gettext_lazy("Address is in a restricted region (managed list)")),
    Fact("customer.orders_last_7_days", _INT, gettext_lazy("Customer's orders in the last 7 days"), 0),
    Fact("customer.orders_last_30_days", _INT, gettext_lazy("Customer's orders in the last 30 days"), 0),
    Fact("customer.orders_last_90_days", _INT, gettext_lazy("Customer's orders in the last 90 days"), 0),
    Fact("customer.lifetime_spend", _DEC, gettext_lazy("Customer's lifetime spend")),
    Fact("customer.is_first_order", _BOOL, gettext_lazy("Customer's first order")),
    Fact("lines.sku", _LIST, gettext_lazy("SKUs on the order")),
    Fact("lines.category", _LIST, gettext_lazy("Product categories on the order")),
    Fact("lines.quantity", _INT, gettext_lazy("Total units"), 0),
    Fact("lines.max_quantity", _INT, gettext_lazy("Largest quantity on one line"), 0),
    Fact("stock.any_line_short", _BOOL, gettext_lazy("A line is short of stock")),
    Fact("stock.short_skus", _LIST, gettext_lazy("SKUs short of stock")),
    Fact("stock.min_available", _INT, gettext_lazy("Lowest available stock among the lines")),
)}
# fmt: on
"""Every fact conditions may test. Customer order counts include the order being evaluated."""

_TYPE_NOUNS = {
    _DEC: gettext_lazy("a number"),
    _INT: gettext_lazy("a whole number"),
    _TEXT: gettext_lazy("text"),
    _CHOICE: gettext_lazy("a choice"),
    _BOOL: gettext_lazy("a yes/no fact"),
    _LIST: gettext_lazy("a list"),
    _REGION: gettext_lazy("a region"),
}


# --- values ---------------------------------------------------------------------------------------------

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_REGION_SEPARATOR = re.compile(r"\s*[/／>]\s*")
_REGION_SUFFIXES = (
    *("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "自治州"),
    *("新区", "地区", "省", "市", "区", "县", "盟"),
)
_MUNICIPALITIES = frozenset({"北京", "上海", "天津", "重庆", "香港", "澳门"})
_REGION_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


def parse_decimal(value: object) -> Decimal | None:
    """Read a number exactly (str, int, Decimal, '5,000'; floats via str()); None if it is not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float | str):
        text = str(value).strip()
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def did_you_mean(word: object, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a misspelt or shortened word, for "did you mean ...?" hints."""
    if not isinstance(word, str) or not word:
        return None
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return close[0]
    starting = [candidate for candidate in candidates if candidate.startswith(word)]
    return starting[0] if len(starting) == 1 else None


def show(value: object) -> str:
    """A value as it appears in a message: text in quotes, anything else as JSON."""
    if isinstance(value, str | Promise):
        return f"'{value}'"
    return json.dumps(value, ensure_ascii=False, default=str)


def _fold(text: str) -> str:
    """Text as compared: case and surrounding spaces ignored."""
    return text.strip().casefold()


def _region_part(name: str) -> str:
    """One level of a region without its administrative suffix: '浙江省' and '浙江' both become '浙江'."""
    name = name.strip()
    if name in _REGION_PLACEHOLDERS:
        return ""
    for suffix in _REGION_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)].casefold()
    return name.casefold()


def region_path(parts: Iterable[str]) -> tuple[str, ...]:
    """A comparable (province, city, district) path: suffixes and placeholder levels dropped.

    Municipalities come as ('北京市', '北京市', '朝阳区') or ('北京市', '市辖区', '朝阳区'); both become
    ('北京', '朝阳'), the same as a manager's '北京/朝阳区'. Elsewhere a repeated name is a real level:
    '吉林省/吉林市' is the city, not the whole province.
    """
    path: list[str] = []
    for part in parts:
        name = _region_part(part)
        if name and not (path == [name] and name in _MUNICIPALITIES):
            path.append(name)
    return tuple(path)


def _within(actual: tuple[str, ...], regions: tuple[tuple[str, ...], ...]) -> bool:
    """Whether a region path lies inside any of the given regions (prefix match by level)."""
    return any(actual[: len(region)] == region for region in regions)


# --- operators ------------------------------------------------------------------------------------------


class Arity(StrEnum):
    """What value an operator takes."""

    NONE = "none"  # no value: is_empty, is_true
    ONE = "one"  # one value
    PAIR = "pair"  # [low, high]
    MANY = "many"  # a non-empty list
    ONE_OR_MANY = "one_or_many"  # one value or a non-empty list


@dataclass(frozen=True)
class Operator:
    """A whitelisted comparison: name, the value it takes, its test, a sentence template for describe()."""

    name: str
    arity: Arity
    test: Callable[[Any, Any], bool]
    label: str | Promise


_OPERATOR_LABELS = {
    "eq": gettext_lazy("%(fact)s is %(value)s"),
    "ne": gettext_lazy("%(fact)s is not %(value)s"),
    "gt": gettext_lazy("%(fact)s is greater than %(value)s"),
    "gte": gettext_lazy("%(fact)s is at least %(value)s"),
    "lt": gettext_lazy("%(fact)s is less than %(value)s"),
    "lte": gettext_lazy("%(fact)s is at most %(value)s"),
    "between": gettext_lazy("%(fact)s is between %(value)s"),
    "in": gettext_lazy("%(fact)s is one of %(value)s"),
    "not_in": gettext_lazy("%(fact)s is none of %(value)s"),
    "contains": gettext_lazy("%(fact)s contains %(value)s"),
    "not_contains": gettext_lazy("%(fact)s does not contain %(value)s"),
    "startswith": gettext_lazy("%(fact)s starts with %(value)s"),
    "endswith": gettext_lazy("%(fact)s ends with %(value)s"),
    "regex": gettext_lazy("%(fact)s matches the pattern %(value)s"),
    "is_empty": gettext_lazy("%(fact)s is empty"),
    "is_true": gettext_lazy("%(fact)s: yes"),
    "is_false": gettext_lazy("%(fact)s: no"),
    "within": gettext_lazy("%(fact)s is within %(value)s"),
    "not_within": gettext_lazy("%(fact)s is not within %(value)s"),
}


def _table(
    *operators: tuple[str, Arity, Callable[[Any, Any], bool]], **labels: Promise
) -> dict[str, Operator]:
    labels = {**_OPERATOR_LABELS, **labels}
    return {name: Operator(name, arity, test, labels[name]) for name, arity, test in operators}


_ONE, _PAIR, _MANY, _SOME, _NONE = Arity.ONE, Arity.PAIR, Arity.MANY, Arity.ONE_OR_MANY, Arity.NONE
_NUMBER_OPERATORS = _table(
    ("eq", _ONE, operator.eq),
    ("ne", _ONE, operator.ne),
    ("gt", _ONE, operator.gt),
    ("gte", _ONE, operator.ge),
    ("lt", _ONE, operator.lt),
    ("lte", _ONE, operator.le),
    ("between", _PAIR, lambda a, e: e[0] <= a <= e[1]),
    ("in", _MANY, lambda a, e: any(a == x for x in e)),
    ("not_in", _MANY, lambda a, e: all(a != x for x in e)),
)

OPERATORS: dict[FactType, dict[str, Operator]] = {
    _DEC: _NUMBER_OPERATORS,
    _INT: _NUMBER_OPERATORS,
    _TEXT: _table(
        ("eq", _ONE, lambda a, e: _fold(a) == e),
        ("ne", _ONE, lambda a, e: _fold(a) != e),
        ("contains", _ONE, lambda a, e: e in _fold(a)),
        ("not_contains", _ONE, lambda a, e: e not in _fold(a)),
        ("startswith", _ONE, lambda a, e: _fold(a).startswith(e)),
        ("endswith", _ONE, lambda a, e: _fold(a).endswith(e)),
        ("regex", _ONE, lambda a, e: e.search(a) is not None),
        ("in", _MANY, lambda a, e: _fold(a) in e),
        ("not_in", _MANY, lambda a, e: _fold(a) not in e),
        ("is_empty", _NONE, lambda a, e: not a.strip()),
    ),
    _CHOICE: _table(
        ("eq", _ONE, operator.eq),
        ("ne", _ONE, operator.ne),
        ("in", _MANY, lambda a, e: a in e),
        ("not_in", _MANY, lambda a, e: a not in e),
    ),
    _LIST: _table(
        ("contains", _SOME, lambda a, e: any(x in a for x in e)),
        ("contains_all", _SOME, lambda a, e: all(x in a for x in e)),
        ("not_contains", _SOME, lambda a, e: not any(x in a for x in e)),
        ("is_empty", _NONE, lambda a, e: not a),
        contains=gettext_lazy("%(fact)s include any of %(value)s"),
        contains_all=gettext_lazy("%(fact)s include all of %(value)s"),
        not_contains=gettext_lazy("%(fact)s include none of %(value)s"),
    ),
    _BOOL: _table(("is_true", _NONE, lambda a, e: a is True), ("is_false", _NONE, lambda a, e: a is False)),
    _REGION: _table(("within", _SOME, _within), ("not_within", _SOME, lambda a, e: not _within(a, e))),
}
"""The operators allowed for each fact type, in the order the admin offers them.

Text compares ignoring case and surrounding spaces (a regex is applied as written); choices compare exactly;
a list `contains` any of the values, `contains_all` all of them, `not_contains` none of them.
"""

_ALL_OPERATOR_NAMES = sorted({name for ops in OPERATORS.values() for name in ops})


def operators_for(fact_name: str) -> dict[str, Operator]:
    """The operators a fact accepts (empty for an unknown fact), for building the admin's operator menu."""
    fact = FACTS.get(fact_name)
    return OPERATORS[fact.type] if fact else {}


# --- parsed conditions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """One checked condition: a fact, an operator and the parsed value (raw: the value as written)."""

    path: str
    fact: Fact
    op: Operator
    value: Any
    raw: Any


@dataclass(frozen=True)
class Group:
    """All or any of several conditions."""

    path: str
    mode: str
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Negation:
    """The opposite of one condition."""

    path: str
    child: Node


type Node = Leaf | Group | Negation


@dataclass(frozen=True)
class ValidationMessage:
    """One problem in a spec: where (path "1.3", "" for the whole spec), a stable code, the full message."""

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class ConditionError(ValidationFailed):
    """A condition spec that cannot be used; `messages` lists every problem found."""

    default_code = "invalid_conditions"

    def __init__(self, messages: list[ValidationMessage]):
        super().__init__("; ".join(str(m) for m in messages), field="conditions")
        self.messages = messages


class RuleEvaluationError(OMSError):
    """A rule that cannot be evaluated (missing fact, bad regex, ...): the caller reports and disables it."""

    default_code = "rule_error"


class _Invalid(Exception):
    """A problem in one condition: a stable code and a message template filled with its parameters."""

    def __init__(self, code: str, template: str, **params: Any):
        self.code = code
        self.problem = template % params if params else template
        super().__init__(self.problem)


def _where(path: str) -> str:
    return _("condition %(path)s") % {"path": path} if path else _("conditions")


def _message(path: str, error: _Invalid) -> ValidationMessage:
    return ValidationMessage(path, error.code, f"{_where(path)}: {error.problem}")


def _hinted(
    code: str, plain: str, hinted: str, word: Any, candidates: Iterable[str], **params: Any
) -> _Invalid:
    """An _Invalid for an unknown name, with "did you mean" when a close candidate exists."""
    hint = did_you_mean(word, candidates)
    return _Invalid(code, hinted if hint else plain, hint=hint, **params)


class _Parser:
    """Walks a spec once, building the parsed tree and collecting every problem with its position."""

    def __init__(self) -> None:
        self.messages: list[ValidationMessage] = []

    def node(self, raw: Any, path: tuple[int, ...], depth: int) -> Node | None:
        where = ".".join(map(str, path))
        try:
            if depth > MAX_DEPTH:
                raise _Invalid(
                    "too_deep", _("conditions are nested more than %(max)d levels deep"), max=MAX_DEPTH
                )
            if not isinstance(raw, Mapping):
                template = _(
                    'expected a condition {"fact", "op", "value"} or a group {"all"}, {"any"}, {"not"}'
                )
                raise _Invalid("invalid_shape", template + _(", got %(got)s"), got=show(raw))
            if "fact" in raw or not any(key in raw for key in ("all", "any", "not")):
                where = where or "1"
                return self.leaf(raw, where)
            return self.group(raw, path, where, depth)
        except _Invalid as error:
            self.messages.append(_message(where, error))
            return None

    def group(self, raw: Mapping, path: tuple[int, ...], where: str, depth: int) -> Node | None:
        if len(raw) != 1:
            keys = ", ".join(map(str, raw))
            raise _Invalid(
                "invalid_shape", _("a group has one key, 'all', 'any' or 'not'; got %(keys)s"), keys=keys
            )
        mode, body = next(iter(raw.items()))
        if mode == "not":
            if not isinstance(body, Mapping):
                raise _Invalid("invalid_shape", _("'not' needs one condition, got %(got)s"), got=show(body))
            child = self.node(body, path, depth + 1)
            return Negation(where, child) if child is not None else None
        if not isinstance(body, list | tuple):
            template = _("'%(mode)s' needs a list of conditions, got %(got)s")
            raise _Invalid("invalid_shape", template, mode=mode, got=show(body))
        if not body and not (mode == "all" and depth == 1):
            raise _Invalid("empty_group", _("'%(mode)s' needs at least one condition"), mode=mode)
        children = [self.node(child, (*path, position), depth + 1) for position, child in enumerate(body, 1)]
        if any(child is None for child in children):
            return None
        return Group(where, mode, tuple(children))

    def leaf(self, raw: Mapping, path: str) -> Leaf:
        for key in raw:
            if key not in ("fact", "op", "value"):
                plain, hinted = (
                    _("unknown key '%(key)s'"),
                    _("unknown key '%(key)s' (did you mean '%(hint)s'?)"),
                )
                raise _hinted("unknown_key", plain, hinted, key, ("fact", "op", "value"), key=key)
        name = raw.get("fact")
        if name in (None, ""):
            raise _Invalid("missing_fact", _("choose a fact"))
        fact = FACTS.get(name) if isinstance(name, str) else None
        if fact is None:
            plain, hinted = _("unknown fact %(fact)s"), _("unknown fact %(fact)s (did you mean '%(hint)s'?)")
            raise _hinted("unknown_fact", plain, hinted, name, FACTS, fact=show(name))
        op_name = raw.get("op")
        operators = OPERATORS[fact.type]
        names = {
            "op": show(op_name),
            "fact": fact.name,
            "ops": ", ".join(operators),
            "noun": _TYPE_NOUNS[fact.type],
        }
        if op_name in (None, ""):
            raise _Invalid("missing_operator", _("'%(fact)s' needs an operator (one of: %(ops)s)"), **names)
        op = operators.get(op_name) if isinstance(op_name, str) else None
        if op is None and op_name in _ALL_OPERATOR_NAMES:
            raise _Invalid("wrong_operator", _("operator %(op)s does not apply to %(noun)s"), **names)
        if op is None:
            plain = _("unknown operator %(op)s (use one of: %(ops)s)")
            hinted = _("unknown operator %(op)s (did you mean '%(hint)s'?)")
            raise _hinted("unknown_operator", plain, hinted, op_name, operators, **names)
        raw_value = raw.get("value")
        return Leaf(path, fact, op, _parse_value(fact, op, raw_value), raw_value)


def _parse_value(fact: Fact, op: Operator, raw: Any) -> Any:
    """The value of one leaf, parsed for its operator; raises _Invalid with a manager-readable problem."""
    names = {"op": op.name, "fact": fact.name, "got": show(raw)}
    if op.arity is Arity.NONE:
        if raw not in (None, ""):
            raise _Invalid("unexpected_value", _("operator '%(op)s' takes no value, got %(got)s"), **names)
        return None
    if raw is None or raw == [] or (isinstance(raw, str) and not raw.strip()):
        raise _Invalid("missing_value", _("'%(fact)s' needs a value for operator '%(op)s'"), **names)
    if op.arity is Arity.ONE:
        return _parse_scalar(fact, op, raw)
    if op.arity is Arity.ONE_OR_MANY and not isinstance(raw, list | tuple):
        return (_parse_scalar(fact, op, raw),)
    if op.arity is Arity.PAIR:
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            raise _Invalid(
                "bad_value", _("operator 'between' needs two numbers [low, high], got %(got)s"), **names
            )
        low, high = (_parse_scalar(fact, op, item) for item in raw)
        if low > high:
            template = _("'between' lower bound %(low)s is above upper bound %(high)s")
            raise _Invalid("bad_value", template, low=low, high=high)
        return low, high
    if not isinstance(raw, list | tuple):
        raise _Invalid("bad_value", _("operator '%(op)s' needs a list of values, got %(got)s"), **names)
    return tuple(_parse_scalar(fact, op, item) for item in raw)


def _parse_scalar(fact: Fact, op: Operator, raw: Any) -> Any:
    """One value of the fact's type: Decimal, folded text, compiled regex, choice code or region path."""
    names = {"fact": fact.name, "got": show(raw), "low": fact.minimum, "high": fact.maximum}
    if fact.type in (_DEC, _INT):
        number = parse_decimal(raw)
        if number is None or (fact.type is _INT and number != number.to_integral_value()):
            template = _("'%(fact)s' needs a number, got %(got)s")
            if fact.type is _INT:
                template = _("'%(fact)s' needs a whole number, got %(got)s")
            raise _Invalid("bad_number", template, **names)
        low, high = fact.minimum, fact.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            template = _("'%(fact)s' must be between %(low)s and %(high)s, got %(got)s")
            if high is None:
                template = _("'%(fact)s' must be at least %(low)s, got %(got)s")
            raise _Invalid("out_of_range", template, **names)
        return number
    if not isinstance(raw, str) or not raw.strip():
        raise _Invalid("bad_value", _("'%(fact)s' needs text, got %(got)s"), **names)
    if fact.type is _TEXT and op.name == "regex":
        if len(raw) > MAX_REGEX_LENGTH:
            template = _("regular expression is longer than %(max)d characters")
            raise _Invalid("bad_regex", template, max=MAX_REGEX_LENGTH)
        try:
            return re.compile(raw)
        except re.error as error:
            raise _Invalid("bad_regex", _("invalid regular expression: %(error)s"), error=error)
    if fact.type is _CHOICE:
        code = raw.strip()
        allowed = list(fact.choices()) if fact.choices else [code]
        if code not in allowed:
            plain = _("'%(fact)s' has no choice %(got)s (choices: %(choices)s)")
            hinted = _("'%(fact)s' has no choice %(got)s (did you mean '%(hint)s'?)")
            raise _hinted("bad_choice", plain, hinted, code, allowed, choices=", ".join(allowed), **names)
        return code
    if fact.type is _REGION:
        levels = _REGION_SEPARATOR.split(raw.strip())
        if len(levels) > 3:
            template = _("region %(got)s has more than 3 levels (province/city/district)")
            raise _Invalid("bad_region", template, **names)
        path = region_path(levels)
        if not all(level.strip() for level in levels) or not path:
            raise _Invalid("bad_region", _("region %(got)s has an empty level"), **names)
        return path
    return _fold(raw)


def validate_conditions(spec: Any) -> list[ValidationMessage]:
    """Every problem in a condition spec (JSON text or parsed), each naming its condition; [] if valid."""
    try:
        parse_conditions(spec)
    except ConditionError as error:
        return error.messages
    return []


def parse_conditions(spec: Any) -> Node | None:
    """The parsed tree of a spec (None: no conditions, always matches); ConditionError if invalid."""
    if isinstance(spec, str):
        try:
            spec = json.loads(spec) if spec.strip() else None
        except ValueError as error:
            error = _Invalid("invalid_json", _("not valid JSON: %(error)s"), error=error)
            raise ConditionError([_message("", error)])
    if spec is None or (isinstance(spec, Mapping) and not spec):
        return None
    parser = _Parser()
    node = parser.node(spec, (), 1)
    if parser.messages:
        raise ConditionError(parser.messages)
    return node


def facts_used(spec: Any) -> set[str]:
    """The fact names a (valid) spec reads, so fact gathering can skip costly facts nobody asks for."""
    node = spec if isinstance(spec, Leaf | Group | Negation) else parse_conditions(spec)
    if node is None:
        return set()
    if isinstance(node, Leaf):
        return {node.fact.name}
    if isinstance(node, Negation):
        return facts_used(node.child)
    return set().union(*(facts_used(child) for child in node.children))


# --- evaluation -----------------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """A fact or value as JSON can store it (Decimals as text, tuples and sets as lists)."""
    if isinstance(value, Decimal | Promise):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(_json_safe(item) for item in value)
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


@dataclass
class TraceNode:
    """How one condition or group came out: passed True/False, or None when short-circuiting skipped it."""

    path: str
    kind: str
    passed: bool | None
    fact: str = ""
    op: str = ""
    expected: Any = None
    actual: Any = None
    description: str = ""
    children: list[TraceNode] = field(default_factory=list)

    def leaves(self) -> Iterator[TraceNode]:
        """The leaf conditions under this node, in order."""
        if self.kind == "leaf":
            yield self
        for child in self.children:
            yield from child.leaves()

    def checks(self) -> Iterator[TraceNode]:
        """Checks as a manager reads them: leaves, a `not` over a leaf as one check, a `not` over a group."""
        if self.kind == "not":
            yield self
            if self.fact:  # a negated leaf: this node already carries the leaf's fact and values
                return
        if self.kind == "leaf":
            yield self
        for child in self.children:
            yield from child.checks()

    def as_dict(self) -> dict[str, Any]:
        """The trace as JSON-ready data, for storing on a rule run."""
        data = {"path": self.path, "kind": self.kind, "passed": self.passed, "description": self.description}
        if self.fact:
            data.update(fact=self.fact, op=self.op, expected=self.expected, actual=self.actual)
        if self.children:
            data["children"] = [child.as_dict() for child in self.children]
        return data


@dataclass(frozen=True)
class EvaluationResult:
    """Whether a spec matched one order's facts, and the trace that shows why."""

    matched: bool
    trace: TraceNode | None

    def leaves(self) -> list[TraceNode]:
        """Every leaf condition, evaluated or skipped."""
        return list(self.trace.leaves()) if self.trace else []

    def checks(self) -> list[TraceNode]:
        """Every check as a manager reads it (see TraceNode.checks), evaluated or skipped."""
        return list(self.trace.checks()) if self.trace else []

    def failed(self) -> list[TraceNode]:
        """The checks that were evaluated and did not hold: "which condition failed"."""
        return [check for check in self.checks() if check.passed is False]

    def explain(self) -> list[str]:
        """One line per check for 'Test this rule': the condition, the order's actual value, the outcome."""
        outcomes = {True: _("passed"), False: _("failed"), None: _("not checked")}
        lines = []
        for check in self.checks():
            actual = show(check.actual) if check.fact and check.passed is not None else "-"
            template = _("%(where)s: %(description)s (actual: %(actual)s): %(outcome)s")
            if not check.fact:
                template = _("%(where)s: %(description)s: %(outcome)s")
            where, outcome = _where(check.path), outcomes[check.passed]
            lines.append(
                template
                % {"where": where, "description": check.description, "actual": actual, "outcome": outcome}
            )
        return lines

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {"matched": self.matched, "trace": self.trace.as_dict() if self.trace else None}


def _fact_value(leaf: Leaf, value: Any) -> Any:
    """A fact's value in the form its operators compare; None for a number fact that has no value."""
    kind = leaf.fact.type
    if kind in (_DEC, _INT):
        number = parse_decimal(value)
        ok = value is None or number is not None
        result: Any = number
    elif kind in (_TEXT, _CHOICE):
        ok = value is None or (isinstance(value, str | int | Decimal) and not isinstance(value, bool))
        result = "" if value is None else str(value)
        result = result.strip() if kind is _CHOICE else result
    elif kind is _LIST:
        ok = value is None or isinstance(value, list | tuple | set | frozenset)
        result = frozenset(_fold(str(item)) for item in value or () if item is not None) if ok else None
    elif kind is _BOOL:
        ok = value is None or value in (True, False)
        result = bool(value)
    else:
        parts = _REGION_SEPARATOR.split(value) if isinstance(value, str) else value
        ok = value is None or (isinstance(parts, list | tuple) and len(parts) <= 3)
        result = region_path(str(part or "") for part in parts or ()) if ok else None
    if not ok:
        raise RuleEvaluationError(
            _("%(where)s: fact '%(fact)s' has an unusable value %(got)s")
            % {"where": _where(leaf.path), "fact": leaf.fact.name, "got": show(_json_safe(value))},
            code="bad_fact",
            path=leaf.path,
            fact=leaf.fact.name,
        )
    return result


def _run(node: Node, facts: Mapping[str, Any]) -> TraceNode:
    """Evaluate a node, short-circuiting like Python's and/or; skipped conditions stay in the trace."""
    if isinstance(node, Negation):
        return _negation_trace(node, _run(node.child, facts))
    if isinstance(node, Group):
        children: list[TraceNode] = []
        decided: bool | None = None
        for child in node.children:
            if decided is not None:
                children.append(_skipped(child))
                continue
            trace = _run(child, facts)
            children.append(trace)
            if trace.passed is (node.mode == "any"):
                decided = trace.passed
        passed = decided if decided is not None else node.mode == "all"
        return TraceNode(node.path, node.mode, passed, description=_describe(node), children=children)
    if node.fact.name not in facts:
        raise RuleEvaluationError(
            _("%(where)s: fact '%(fact)s' was not provided")
            % {"where": _where(node.path), "fact": node.fact.name},
            code="missing_fact",
            path=node.path,
            fact=node.fact.name,
        )
    raw_actual = facts[node.fact.name]
    actual = _fact_value(node, raw_actual)
    try:
        passed = actual is not None and bool(node.op.test(actual, node.value))
    except Exception as error:  # a rule must never crash the order flow; the caller disables it
        raise RuleEvaluationError(
            _("%(where)s: could not be evaluated: %(error)s") % {"where": _where(node.path), "error": error},
            code="evaluation_failed",
            path=node.path,
            fact=node.fact.name,
        )
    return _leaf_trace(node, passed, _json_safe(raw_actual))


def _leaf_trace(leaf: Leaf, passed: bool | None, actual: Any) -> TraceNode:
    return TraceNode(
        leaf.path,
        "leaf",
        passed,
        fact=leaf.fact.name,
        op=leaf.op.name,
        expected=_json_safe(leaf.raw),
        actual=actual,
        description=_describe(leaf),
    )


def _negation_trace(node: Negation, child: TraceNode) -> TraceNode:
    """A `not` in the trace; over a leaf it also carries the leaf's fact and values, as one check."""
    passed = None if child.passed is None else not child.passed
    trace = TraceNode(node.path, "not", passed, description=_describe(node), children=[child])
    if child.kind == "leaf":
        trace.fact, trace.op, trace.expected, trace.actual = (
            child.fact,
            child.op,
            child.expected,
            child.actual,
        )
    return trace


def _skipped(node: Node) -> TraceNode:
    """The trace of a node short-circuiting never evaluated."""
    if isinstance(node, Leaf):
        return _leaf_trace(node, None, None)
    if isinstance(node, Negation):
        return _negation_trace(node, _skipped(node.child))
    children = [_skipped(child) for child in node.children]
    return TraceNode(node.path, node.mode, None, description=_describe(node), children=children)


def matches(node: Node | None, facts: Mapping[str, Any]) -> bool:
    """Whether a parsed tree matches, without building a trace: the fast path for live runs and backtests.

    Same semantics and errors as evaluate() (RuleEvaluationError for a missing or unusable fact).
    """
    if node is None:
        return True
    if isinstance(node, Negation):
        return not matches(node.child, facts)
    if isinstance(node, Group):
        if node.mode == "any":
            return any(matches(child, facts) for child in node.children)
        return all(matches(child, facts) for child in node.children)
    try:
        raw_actual = facts[node.fact.name]
    except KeyError:
        raise RuleEvaluationError(
            _("%(where)s: fact '%(fact)s' was not provided")
            % {"where": _where(node.path), "fact": node.fact.name},
            code="missing_fact",
            path=node.path,
            fact=node.fact.name,
        )
    actual = _fact_value(node, raw_actual)
    try:
        return actual is not None and bool(node.op.test(actual, node.value))
    except Exception as error:  # a rule must never crash the order flow; the caller disables it
        raise RuleEvaluationError(
            _("%(where)s: could not be evaluated: %(error)s") % {"where": _where(node.path), "error": error},
            code="evaluation_failed",
            path=node.path,
            fact=node.fact.name,
        )


def evaluate(spec: Any, facts: Mapping[str, Any]) -> EvaluationResult:
    """Match a spec (JSON, parsed dict or parse_conditions() tree) against one order's facts.

    An invalid spec, a fact missing from `facts` or a fact with an unusable value raises RuleEvaluationError
    with a stable code (bad_regex, unknown_fact, missing_fact, bad_fact, ...): the caller disables the rule.
    """
    if isinstance(spec, Leaf | Group | Negation):
        node: Node | None = spec
    else:
        try:
            node = parse_conditions(spec)
        except ConditionError as error:
            first = error.messages[0]
            raise RuleEvaluationError(error.message, code=first.code, path=first.path)
    if node is None:
        return EvaluationResult(True, None)
    trace = _run(node, facts)
    return EvaluationResult(bool(trace.passed), trace)


# --- description ----------------------------------------------------------------------------------------


def _show_value(leaf: Leaf) -> str:
    """A leaf's value as written, for sentences: text quoted, lists comma-separated."""

    def one(item: Any) -> str:
        return f'"{item}"' if leaf.fact.type is _TEXT else str(item)

    if leaf.op.arity is Arity.PAIR:
        return _("%(low)s and %(high)s") % {"low": one(leaf.raw[0]), "high": one(leaf.raw[1])}
    if isinstance(leaf.raw, list | tuple):
        return ", ".join(one(item) for item in leaf.raw)
    return one(leaf.raw)


def _describe(node: Node, nested: bool = False) -> str:
    if isinstance(node, Leaf):
        return str(node.op.label) % {
            "fact": node.fact.label,
            "value": "" if node.op.arity is Arity.NONE else _show_value(node),
        }
    if isinstance(node, Negation):
        return _("not (%(condition)s)") % {"condition": _describe(node.child)}
    if not node.children:
        return _("always")
    joiner = _(" and ") if node.mode == "all" else _(" or ")
    text = joiner.join(_describe(child, nested=True) for child in node.children)
    return f"({text})" if nested and len(node.children) > 1 else text


def describe(spec: Any) -> str:
    """The conditions as a sentence in the active language, e.g. 'Order total is greater than 5000'."""
    node = spec if isinstance(spec, Leaf | Group | Negation) else parse_conditions(spec)
    return _("always") if node is None else _describe(node)
