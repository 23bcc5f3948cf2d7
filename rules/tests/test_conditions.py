"""The pure condition evaluator: every operator of every fact type, nesting, messages, traces, descriptions.

No database: these tests build fact dicts by hand.
"""

import json
from decimal import Decimal

import pytest
from django.utils import translation
from django.utils.functional import Promise
from hypothesis import given
from hypothesis import strategies as st

from channels.choices import Platform
from rules.conditions import (
    FACTS,
    MAX_DEPTH,
    OPERATORS,
    Arity,
    ConditionError,
    FactType,
    Leaf,
    Operator,
    RuleEvaluationError,
    describe,
    did_you_mean,
    evaluate,
    facts_used,
    operators_for,
    parse_conditions,
    parse_decimal,
    region_path,
    validate_conditions,
)


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English whatever translations the project ships."""
    with translation.override("en"):
        yield


def check(fact: str, op: str, value, actual) -> bool:
    """Evaluate one leaf against one fact value."""
    leaf = {"fact": fact, "op": op}
    if value is not None:
        leaf["value"] = value
    return evaluate(leaf, {fact: actual}).matched


def messages(spec) -> list[str]:
    return [str(message) for message in validate_conditions(spec)]


def leaf(fact="order.total", op="gt", value="5000"):
    return {"fact": fact, "op": op, "value": value}


# --- registry -------------------------------------------------------------------------------------------


def test_every_fact_has_a_lazy_label_and_operators():
    for name, fact in FACTS.items():
        assert fact.name == name
        assert "." in name
        assert isinstance(fact.label, Promise)
        assert OPERATORS[fact.type]


def test_fact_names_from_the_issue_are_registered():
    expected = {
        "order.total", "order.subtotal", "order.channel", "order.platform", "order.type", "order.status",
        "order.payment_status", "order.buyer_note", "order.seller_note", "order.tags", "order.placed_hour",
        "order.placed_weekday", "order.item_count", "address.province", "address.city", "address.district",
        "address.region", "address.complete", "address.restricted", "customer.orders_last_7_days", "customer.orders_last_30_days",
        "customer.orders_last_90_days", "customer.lifetime_spend", "customer.is_first_order", "lines.sku",
        "lines.category", "lines.quantity", "lines.max_quantity", "stock.any_line_short", "stock.short_skus",
        "stock.min_available",
    }  # fmt: skip
    assert set(FACTS) == expected


def test_operator_names_per_type():
    assert list(OPERATORS[FactType.DECIMAL]) == [
        "eq",
        "ne",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "in",
        "not_in",
    ]
    assert OPERATORS[FactType.INTEGER] == OPERATORS[FactType.DECIMAL]
    assert list(OPERATORS[FactType.TEXT]) == [
        "eq", "ne", "contains", "not_contains", "startswith", "endswith", "regex", "in", "not_in", "is_empty",
    ]  # fmt: skip
    assert list(OPERATORS[FactType.CHOICE]) == ["eq", "ne", "in", "not_in"]
    assert list(OPERATORS[FactType.LIST]) == ["contains", "contains_all", "not_contains", "is_empty"]
    assert list(OPERATORS[FactType.BOOLEAN]) == ["is_true", "is_false"]
    assert list(OPERATORS[FactType.REGION]) == ["within", "not_within"]


def test_operators_for():
    assert list(operators_for("customer.is_first_order")) == ["is_true", "is_false"]
    assert operators_for("order.nope") == {}


# --- numbers --------------------------------------------------------------------------------------------

NUMBER_CASES = [
    ("eq", "5000", "5000.00", True),
    ("eq", "5000", "5000.01", False),
    ("eq", 5000, Decimal("5000"), True),
    ("ne", "5000", "5000.01", True),
    ("ne", "5000", 5000, False),
    ("gt", "5000", "5000.01", True),
    ("gt", "5000", "5000", False),
    ("gte", "5000", "5000", True),
    ("gte", "5000", "4999.99", False),
    ("lt", "100", "99.99", True),
    ("lt", "100", "100", False),
    ("lte", "100", "100.00", True),
    ("lte", "100", "100.01", False),
    ("between", ["10", "20"], "10", True),
    ("between", ["10", "20"], "20", True),
    ("between", ["10", "20"], "15.5", True),
    ("between", ["10", "20"], "20.01", False),
    ("between", ["10", "20"], "9.99", False),
    ("in", ["1", "2.50"], "2.5", True),
    ("in", ["1", "2.50"], "3", False),
    ("not_in", ["1", "2.50"], "3", True),
    ("not_in", ["1", "2.50"], "1.0", False),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), NUMBER_CASES)
def test_decimal_operators(op, value, actual, expected):
    assert check("order.total", op, value, actual) is expected


INTEGER_CASES = [
    ("eq", 3, 3, True),
    ("eq", "3", 4, False),
    ("ne", 3, 4, True),
    ("ne", 3, 3, False),
    ("gt", 2, 3, True),
    ("gt", 3, 3, False),
    ("gte", 3, 3, True),
    ("gte", 3, 2, False),
    ("lt", 3, 2, True),
    ("lt", 3, 3, False),
    ("lte", 3, 3, True),
    ("lte", 3, 4, False),
    ("between", [2, 4], 4, True),
    ("between", [2, 4], 5, False),
    ("in", [1, 3], 3, True),
    ("in", [1, 3], 2, False),
    ("not_in", [1, 3], 2, True),
    ("not_in", [1, 3], 1, False),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), INTEGER_CASES)
def test_integer_operators(op, value, actual, expected):
    assert check("customer.orders_last_30_days", op, value, actual) is expected


def test_number_value_accepts_thousands_separators_and_json_numbers():
    assert check("order.total", "gt", "5,000", "5000.01")
    assert check("order.total", "gt", 5000, "5000.01")
    assert check("order.total", "eq", 99.9, "99.90")


def test_decimal_never_goes_through_float():
    # 0.1 + 0.2 == 0.3 exactly as Decimals; as floats it would be 0.30000000000000004.
    assert check("order.total", "eq", "0.3", Decimal("0.1") + Decimal("0.2"))
    assert check("order.total", "gt", "0.3", "0.30000000000000001")
    assert parse_decimal(0.1) == Decimal("0.1")
    assert parse_decimal(True) is None
    assert parse_decimal("NaN") is None
    assert parse_decimal("Infinity") is None
    assert parse_decimal([1]) is None


_decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False)
_COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


@given(actual=_decimals, value=_decimals, op=st.sampled_from(sorted(_COMPARE)))
def test_number_comparisons_agree_with_decimal(actual, value, op):
    with translation.override("en"):
        assert check("order.total", op, str(value), actual) is _COMPARE[op](actual, value)
        assert check("order.total", op, str(value), str(actual)) is _COMPARE[op](actual, value)


@given(value=_decimals)
def test_a_difference_float_would_lose_is_kept(value):
    nudged = value + Decimal("1e-12")
    with translation.override("en"):
        assert check("order.total", "gt", str(value), nudged)
        assert not check("order.total", "eq", str(value), nudged)


@given(low=_decimals, high=_decimals, actual=_decimals)
def test_between_is_inclusive(low, high, actual):
    low, high = min(low, high), max(low, high)
    with translation.override("en"):
        assert check("order.total", "between", [str(low), str(high)], actual) is (low <= actual <= high)


def test_number_fact_without_value_fails_every_comparison():
    for op, value in [("eq", "0"), ("ne", "0"), ("gt", "0"), ("lt", "0"), ("in", ["0"]), ("not_in", ["0"])]:
        assert check("customer.lifetime_spend", op, value, None) is False


# --- text -----------------------------------------------------------------------------------------------

TEXT_CASES = [
    ("eq", "Urgent", " urgent ", True),
    ("eq", "Urgent", "urgent please", False),
    ("ne", "Urgent", "urgent please", True),
    ("ne", "Urgent", "URGENT", False),
    ("contains", "急", "请尽快发货，很急", True),
    ("contains", "VIP", "vip customer", True),
    ("contains", "急", "不着急的", True),
    ("contains", "发票", "请尽快发货", False),
    ("not_contains", "发票", "请尽快发货", True),
    ("not_contains", "vip", "VIP customer", False),
    ("startswith", "gift", "Gift wrap please", True),
    ("startswith", "gift", "no gift", False),
    ("endswith", "please", "Gift wrap PLEASE", True),
    ("endswith", "please", "please no", False),
    ("regex", r"1[3-9]\d{9}", "call 13800138000", True),
    ("regex", r"1[3-9]\d{9}", "call 12800138000", False),
    ("regex", "^VIP", "vip", False),
    ("regex", "(?i)^VIP", "vip", True),
    ("in", ["a", "B"], "b", True),
    ("in", ["a", "B"], "c", False),
    ("not_in", ["a", "B"], "c", True),
    ("not_in", ["a", "B"], "A", False),
    ("is_empty", None, "   ", True),
    ("is_empty", None, "", True),
    ("is_empty", None, None, True),
    ("is_empty", None, "x", False),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), TEXT_CASES)
def test_text_operators(op, value, actual, expected):
    assert check("order.buyer_note", op, value, actual) is expected


def test_text_fact_none_is_empty_text():
    assert check("order.seller_note", "eq", "x", None) is False
    assert check("order.seller_note", "not_contains", "x", None) is True


# --- choices --------------------------------------------------------------------------------------------

CHOICE_CASES = [
    ("eq", "tmall_main", "tmall_main", True),
    ("eq", "tmall_main", "TMALL_MAIN", False),
    ("ne", "tmall_main", "jd_main", True),
    ("ne", "tmall_main", "tmall_main", False),
    ("in", ["tmall_main", "jd_main"], "jd_main", True),
    ("in", ["tmall_main", "jd_main"], "pdd", False),
    ("not_in", ["tmall_main", "jd_main"], "pdd", True),
    ("not_in", ["tmall_main", "jd_main"], "tmall_main", False),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), CHOICE_CASES)
def test_choice_operators(op, value, actual, expected):
    assert check("order.channel", op, value, actual) is expected


def test_platform_choices_come_from_the_platform_registry():
    assert check("order.platform", "in", ["taobao", "tmall"], "tmall")
    assert not validate_conditions(leaf("order.platform", "eq", Platform.JD.value))


# --- lists ----------------------------------------------------------------------------------------------

LIST_CASES = [
    ("contains", "VIP", ["vip", "new"], True),
    ("contains", ["a", "b"], ["b"], True),
    ("contains", ["a", "b"], ["c"], False),
    ("contains", "a", [], False),
    ("contains_all", ["a", "b"], ["a", "b", "c"], True),
    ("contains_all", ["a", "b"], ["a"], False),
    ("contains_all", "a", ["A"], True),
    ("not_contains", ["a"], ["b"], True),
    ("not_contains", ["a", "b"], ["b"], False),
    ("not_contains", "a", [], True),
    ("is_empty", None, [], True),
    ("is_empty", None, None, True),
    ("is_empty", None, ["a"], False),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), LIST_CASES)
def test_list_operators(op, value, actual, expected):
    assert check("order.tags", op, value, actual) is expected


def test_list_facts_accept_tuples_and_sets():
    assert check("lines.sku", "contains", "SKU-1", ("sku-1", "SKU-2"))
    assert check("stock.short_skus", "contains_all", ["A", "B"], {"A", "B"})


# --- booleans -------------------------------------------------------------------------------------------

BOOLEAN_CASES = [
    ("is_true", True, True),
    ("is_true", False, False),
    ("is_true", None, False),
    ("is_false", False, True),
    ("is_false", True, False),
    ("is_false", None, True),
]


@pytest.mark.parametrize(("op", "actual", "expected"), BOOLEAN_CASES)
def test_boolean_operators(op, actual, expected):
    assert check("customer.is_first_order", op, None, actual) is expected


# --- regions --------------------------------------------------------------------------------------------

ZJ = ("浙江省", "杭州市", "西湖区")
REGION_CASES = [
    ("within", ["浙江省"], ZJ, True),
    ("within", ["浙江"], ZJ, True),
    ("within", ["浙江省/杭州市"], ("浙江", "杭州", "西湖"), True),
    ("within", ["浙江/杭州市/西湖区"], ZJ, True),
    ("within", ["浙江省/杭州/西湖"], ZJ, True),
    ("within", ["浙江 / 杭州市"], ZJ, True),
    ("within", ["浙江省／杭州市"], ZJ, True),
    ("within", ["浙江省/宁波市"], ZJ, False),
    ("within", ["江苏省"], ZJ, False),
    ("within", ["江"], ("江苏省", "南京市", ""), False),
    ("within", ["浙江省/杭州市/西湖区"], ("浙江省", "杭州市", ""), False),
    ("within", ["江苏省", "浙江省/杭州市"], ZJ, True),
    ("within", "浙江", ZJ, True),
    ("within", ["北京/朝阳区"], ("北京市", "北京市", "朝阳区"), True),
    ("within", ["北京市/朝阳区"], ("北京", "市辖区", "朝阳区"), True),
    ("within", ["北京/海淀区"], ("北京市", "北京市", "朝阳区"), False),
    ("within", ["北京/北京市/朝阳区"], ("北京市", "市辖区", "朝阳区"), True),
    ("within", ["重庆/城口县"], ("重庆市", "县", "城口县"), True),
    ("within", ["吉林省/吉林市"], ("吉林省", "吉林市", "船营区"), True),
    ("within", ["吉林省/吉林市"], ("吉林省", "长春市", "南关区"), False),
    ("within", ["吉林"], ("吉林省", "长春市", "南关区"), True),
    ("within", ["新疆"], ("新疆维吾尔自治区", "乌鲁木齐市", "天山区"), True),
    ("within", ["西藏"], ("西藏自治区", "拉萨市", ""), True),
    ("within", ["内蒙古自治区"], ("内蒙古", "呼和浩特", ""), True),
    ("within", ["广西"], ("广西壮族自治区", "南宁市", ""), True),
    ("within", ["香港"], ("香港特别行政区", "", ""), True),
    ("within", ["上海/浦东"], ("上海", "上海市", "浦东新区"), True),
    ("within", ["浙江"], "浙江省/杭州市/西湖区", True),
    ("within", ["浙江"], None, False),
    ("within", ["浙江"], ["浙江省", None, None], True),
    ("not_within", ["浙江"], ("江苏省", "南京市", ""), True),
    ("not_within", ["浙江省/杭州市"], ZJ, False),
    ("not_within", ["浙江"], None, True),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), REGION_CASES)
def test_region_operators(op, value, actual, expected):
    assert check("address.region", op, value, actual) is expected


def test_region_path_strips_suffixes_placeholders_and_municipality_repeats():
    assert region_path(["浙江省", "杭州市", "西湖区"]) == ("浙江", "杭州", "西湖")
    assert region_path(["北京市", "市辖区", "东城区"]) == ("北京", "东城")
    assert region_path(["北京", "北京市", "东城"]) == ("北京", "东城")
    assert region_path(["吉林省", "吉林市", ""]) == ("吉林", "吉林")
    assert region_path(["", "", ""]) == ()
    assert region_path(["Zhejiang", "Hangzhou"]) == ("zhejiang", "hangzhou")


_PLACES = st.sampled_from(["浙江", "杭州", "西湖", "江苏", "南京", "鼓楼"])
_SUFFIXES = st.sampled_from(["", "省", "市", "区"])


@given(names=st.lists(_PLACES, min_size=1, max_size=3, unique=True), suffixes=st.lists(_SUFFIXES, min_size=3))
def test_a_region_is_within_every_prefix_of_itself_whatever_the_suffixes(names, suffixes):
    actual = [name + suffix for name, suffix in zip(names, suffixes, strict=False)]
    with translation.override("en"):
        for size in range(1, len(names) + 1):
            assert check("address.region", "within", ["/".join(names[:size])], actual)


# --- nesting --------------------------------------------------------------------------------------------

FACTS_OK = {
    "order.total": Decimal("6000.00"),
    "order.tags": ["VIP"],
    "order.buyer_note": "请尽快",
    "address.region": ZJ,
    "stock.any_line_short": False,
}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"all": [leaf(), leaf("order.tags", "contains", "VIP")]}, True),
        ({"all": [leaf(), leaf("order.tags", "contains", "new")]}, False),
        ({"any": [leaf(value="9000"), leaf("order.tags", "contains", "VIP")]}, True),
        ({"any": [leaf(value="9000"), leaf("order.tags", "contains", "new")]}, False),
        ({"not": leaf(value="9000")}, True),
        ({"not": leaf()}, False),
        ({"not": {"not": leaf()}}, True),
        (
            {
                "all": [
                    leaf(),
                    {"any": [leaf(value="9000"), {"not": leaf("order.buyer_note", "contains", "急")}]},
                ]
            },
            True,
        ),
        (
            {
                "all": [
                    leaf(),
                    {"any": [leaf(value="9000"), {"not": leaf("order.buyer_note", "contains", "快")}]},
                ]
            },
            False,
        ),
        ({"all": [{"all": [{"all": [leaf()]}]}]}, True),
        ({"all": []}, True),
        (None, True),
        ({}, True),
        (leaf(), True),
    ],
)
def test_nesting(spec, expected):
    assert evaluate(spec, FACTS_OK).matched is expected


def nested(depth: int) -> dict:
    """A leaf wrapped in `depth` groups."""
    spec = leaf()
    for _ in range(depth):
        spec = {"all": [spec]}
    return spec


def test_nesting_up_to_the_cap_is_allowed():
    assert evaluate(nested(MAX_DEPTH - 1), FACTS_OK).matched
    assert evaluate({"not": nested(MAX_DEPTH - 2)}, FACTS_OK).matched is False


def test_nesting_deeper_than_the_cap_is_refused():
    path = ".".join(["1"] * MAX_DEPTH)
    assert messages(nested(MAX_DEPTH)) == [
        f"condition {path}: conditions are nested more than 10 levels deep"
    ]


def test_a_json_string_is_parsed():
    assert evaluate(json.dumps({"all": [leaf()]}), FACTS_OK).matched
    assert parse_conditions("  ") is None


# --- validation messages --------------------------------------------------------------------------------


def test_messages_for_the_issue_examples():
    spec = {
        "all": [
            {"all": [leaf(), leaf(), leaf("order.totl")]},
            leaf(value="abc"),
            leaf(op="contains", value="1"),
            {"any": [leaf("order.buyer_note", "regex", "[")]},
        ]
    }
    assert messages(spec) == [
        "condition 1.3: unknown fact 'order.totl' (did you mean 'order.total'?)",
        "condition 2: 'order.total' needs a number, got 'abc'",
        "condition 3: operator 'contains' does not apply to a number",
        "condition 4.1: invalid regular expression: unterminated character set at position 0",
    ]
    assert [message.code for message in validate_conditions(spec)] == [
        "unknown_fact",
        "bad_number",
        "wrong_operator",
        "bad_regex",
    ]
    assert [message.path for message in validate_conditions(spec)] == ["1.3", "2", "3", "4.1"]


PLATFORMS = ", ".join(Platform.values)
SHAPE = 'expected a condition {"fact", "op", "value"} or a group {"all"}, {"any"}, {"not"}'
LEAF_JSON = '{"fact": "order.total", "op": "gt", "value": "5000"}'
EXPECTING_NAME = "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
NUMBER_OPS = "eq, ne, gt, gte, lt, lte, between, in, not_in"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (leaf(value=None), "'order.total' needs a value for operator 'gt'"),
        ({"fact": "order.total", "op": "gt"}, "'order.total' needs a value for operator 'gt'"),
        (leaf(value="  "), "'order.total' needs a value for operator 'gt'"),
        (leaf(op="in", value=[]), "'order.total' needs a value for operator 'in'"),
        (leaf("zzz"), "unknown fact 'zzz'"),
        (leaf(5), "unknown fact 5"),
        ({"op": "gt", "value": "1"}, "choose a fact"),
        ({}, "choose a fact"),
        (leaf(op=None), f"'order.total' needs an operator (one of: {NUMBER_OPS})"),
        (leaf(op="gtt"), "unknown operator 'gtt' (did you mean 'gt'?)"),
        (leaf("customer.is_first_order", "xyz"), "unknown operator 'xyz' (use one of: is_true, is_false)"),
        (leaf("order.buyer_note", "gt"), "operator 'gt' does not apply to text"),
        (leaf("order.tags", "eq"), "operator 'eq' does not apply to a list"),
        (leaf("order.channel", "contains"), "operator 'contains' does not apply to a choice"),
        (leaf("customer.is_first_order", "eq"), "operator 'eq' does not apply to a yes/no fact"),
        (leaf("address.region", "eq"), "operator 'eq' does not apply to a region"),
        (leaf("lines.quantity", "regex"), "operator 'regex' does not apply to a whole number"),
        ({**leaf(), "vale": "1"}, "unknown key 'vale' (did you mean 'value'?)"),
        ({**leaf(), "negate": True}, "unknown key 'negate'"),
        (leaf(value=True), "'order.total' needs a number, got true"),
        (leaf(value="NaN"), "'order.total' needs a number, got 'NaN'"),
        (leaf("lines.quantity", value="2.5"), "'lines.quantity' needs a whole number, got '2.5'"),
        (leaf("lines.quantity", value="x"), "'lines.quantity' needs a whole number, got 'x'"),
        (leaf("lines.quantity", value=-1), "'lines.quantity' must be at least 0, got -1"),
        (leaf("order.placed_hour", "eq", 24), "'order.placed_hour' must be between 0 and 23, got 24"),
        (leaf("order.placed_weekday", "eq", 0), "'order.placed_weekday' must be between 1 and 7, got 0"),
        (
            leaf(op="between", value=["10"]),
            """operator 'between' needs two numbers [low, high], got ["10"]""",
        ),
        (leaf(op="between", value="10"), "operator 'between' needs two numbers [low, high], got '10'"),
        (leaf(op="between", value=["20", "10"]), "'between' lower bound 20 is above upper bound 10"),
        (leaf(op="between", value=["1", "x"]), "'order.total' needs a number, got 'x'"),
        (leaf(op="in", value="5000"), "operator 'in' needs a list of values, got '5000'"),
        (leaf(op="in", value=["1", "x"]), "'order.total' needs a number, got 'x'"),
        (leaf("customer.is_first_order", "is_true", True), "operator 'is_true' takes no value, got true"),
        (leaf("order.buyer_note", "is_empty", "x"), "operator 'is_empty' takes no value, got 'x'"),
        (leaf("order.buyer_note", "contains", 5), "'order.buyer_note' needs text, got 5"),
        (leaf("order.buyer_note", "in", ["a", 5]), "'order.buyer_note' needs text, got 5"),
        (leaf("order.tags", "contains", ["a", ""]), "'order.tags' needs text, got ''"),
        (
            leaf("order.buyer_note", "regex", "(a"),
            "invalid regular expression: missing ), unterminated subpattern at position 0",
        ),
        (leaf("order.buyer_note", "regex", "a" * 501), "regular expression is longer than 500 characters"),
        (
            leaf("order.platform", "eq", "taobo"),
            "'order.platform' has no choice 'taobo' (did you mean 'taobao'?)",
        ),
        (
            leaf("order.platform", "in", ["zzzz"]),
            f"'order.platform' has no choice 'zzzz' (choices: {PLATFORMS})",
        ),
        (leaf("address.region", "within", ["浙江//西湖"]), "region '浙江//西湖' has an empty level"),
        (leaf("address.region", "within", ["市辖区"]), "region '市辖区' has an empty level"),
        (
            leaf("address.region", "within", "a/b/c/d"),
            "region 'a/b/c/d' has more than 3 levels (province/city/district)",
        ),
        (leaf("address.region", "within", [5]), "'address.region' needs text, got 5"),
    ],
)
def test_leaf_messages(condition, message):
    assert messages({"all": [leaf(), condition]}) == [f"condition 2: {message}"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([leaf()], f"conditions: {SHAPE}, got [{LEAF_JSON}]"),
        ({"all": [leaf(), "x"]}, f"condition 2: {SHAPE}, got 'x'"),
        (
            {"all": [leaf()], "any": [leaf()]},
            "conditions: a group has one key, 'all', 'any' or 'not'; got all, any",
        ),
        ({"all": leaf()}, f"conditions: 'all' needs a list of conditions, got {LEAF_JSON}"),
        ({"all": [leaf(), {"any": []}]}, "condition 2: 'any' needs at least one condition"),
        ({"any": []}, "conditions: 'any' needs at least one condition"),
        ({"not": {"all": []}}, "conditions: 'all' needs at least one condition"),
        ({"all": [{"not": [leaf()]}]}, f"condition 1: 'not' needs one condition, got [{LEAF_JSON}]"),
        ({"not": leaf(value="x")}, "condition 1: 'order.total' needs a number, got 'x'"),
        ("{not json", "conditions: not valid JSON: " + EXPECTING_NAME),
    ],
)
def test_shape_messages(spec, message):
    assert messages(spec) == [message]


def test_a_root_leaf_is_condition_1():
    assert messages(leaf(value="abc")) == ["condition 1: 'order.total' needs a number, got 'abc'"]


def test_condition_error_carries_every_message():
    with pytest.raises(ConditionError) as caught:
        parse_conditions({"all": [leaf(value="x"), leaf("nope")]})
    error = caught.value
    assert error.code == "invalid_conditions"
    assert error.field == "conditions"
    assert [m.code for m in error.messages] == ["bad_number", "unknown_fact"]
    assert (
        str(error) == "condition 1: 'order.total' needs a number, got 'x'; condition 2: unknown fact 'nope'"
    )


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.sampled_from(list(FACTS) + ["gt", "in"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["all", "any", "not", "fact", "op", "value", "x"]), children, max_size=3
        )
    ),
    max_leaves=12,
)


@given(spec=_json)
def test_validation_never_crashes_on_arbitrary_json(spec):
    with translation.override("en"):
        found = validate_conditions(spec)
        assert all(message.message.startswith(("condition", "conditions")) for message in found)
        if not found:
            describe(spec)


# --- evaluation and trace -------------------------------------------------------------------------------


def test_trace_shows_the_failing_leaf():
    spec = {
        "all": [
            leaf(),
            {"any": [leaf("order.tags", "contains", "new"), leaf("stock.any_line_short", "is_true", None)]},
        ]
    }
    result = evaluate(spec, FACTS_OK)
    assert result.matched is False
    assert [(c.path, c.fact, c.passed) for c in result.failed()] == [
        ("2.1", "order.tags", False),
        ("2.2", "stock.any_line_short", False),
    ]
    first = result.failed()[0]
    assert (first.op, first.expected, first.actual) == ("contains", "new", ["VIP"])
    assert result.trace.kind == "all"
    assert [child.passed for child in result.trace.children] == [True, False]


def test_short_circuit_skips_later_conditions_and_keeps_them_in_the_trace():
    spec = {"all": [leaf(value="9000"), leaf("customer.lifetime_spend", "gt", "1")]}
    result = evaluate(spec, {"order.total": "6000"})  # customer.lifetime_spend is missing, never read
    assert result.matched is False
    assert [(leaf.path, leaf.passed) for leaf in result.leaves()] == [("1", False), ("2", None)]
    assert [check.path for check in result.failed()] == ["1"]
    any_spec = {"any": [leaf(), {"not": leaf("customer.lifetime_spend", "gt", "1")}]}
    result = evaluate(any_spec, {"order.total": "6000"})
    assert result.matched is True
    assert [(check.path, check.kind, check.passed) for check in result.checks()] == [
        ("1", "leaf", True),
        ("2", "not", None),
    ]


def test_a_negated_leaf_is_one_check():
    spec = {"all": [leaf(), {"not": leaf("order.buyer_note", "contains", "快")}]}
    result = evaluate(spec, FACTS_OK)
    assert result.matched is False
    [failed] = result.failed()
    assert (failed.path, failed.kind, failed.fact, failed.actual) == (
        "2",
        "not",
        "order.buyer_note",
        "请尽快",
    )
    assert failed.children[0].passed is True


def test_a_negated_group_is_its_own_check():
    spec = {"not": {"all": [leaf(), leaf("order.tags", "contains", "VIP")]}}
    result = evaluate(spec, FACTS_OK)
    assert result.matched is False
    assert [(check.path, check.kind, check.passed) for check in result.checks()] == [
        ("", "not", False),
        ("1", "leaf", True),
        ("2", "leaf", True),
    ]
    assert [check.kind for check in result.failed()] == ["not"]


def test_explain_lines():
    spec = {
        "all": [
            leaf(),
            {"not": leaf("order.buyer_note", "contains", "快")},
            leaf("stock.any_line_short", "is_true", None),
        ]
    }
    assert evaluate(spec, FACTS_OK).explain() == [
        "condition 1: Order total is greater than 5000 (actual: '6000.00'): passed",
        "condition 2: not (Buyer note contains \"快\") (actual: '请尽快'): failed",
        "condition 3: A line is short of stock: yes (actual: -): not checked",
    ]
    assert evaluate({"not": {"any": [leaf()]}}, FACTS_OK).explain() == [
        "conditions: not (Order total is greater than 5000): failed",
        "condition 1: Order total is greater than 5000 (actual: '6000.00'): passed",
    ]


def test_result_as_dict_is_json():
    spec = {
        "all": [
            leaf(),
            leaf("address.region", "within", ["浙江"]),
            {"not": leaf("order.tags", "is_empty", None)},
        ]
    }
    data = evaluate(spec, {**FACTS_OK, "order.tags": {"b", "a"}}).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["matched"] is True
    assert data["trace"]["children"][0]["actual"] == "6000.00"
    assert data["trace"]["children"][1]["actual"] == list(ZJ)
    assert data["trace"]["children"][2]["actual"] == ["a", "b"]
    assert evaluate(None, {}).as_dict() == {"matched": True, "trace": None}


def test_no_conditions_always_match_with_an_empty_trace():
    result = evaluate(None, {})
    assert result.matched and result.trace is None and result.failed() == [] and result.explain() == []


def test_missing_fact_raises_a_coded_error():
    with pytest.raises(RuleEvaluationError) as caught:
        evaluate({"all": [leaf(), leaf("stock.min_available", "lt", 1)]}, {"order.total": "6000"})
    error = caught.value
    assert error.code == "missing_fact"
    assert error.message == "condition 2: fact 'stock.min_available' was not provided"
    assert error.params == {"path": "2", "fact": "stock.min_available"}


@pytest.mark.parametrize(
    ("fact", "op", "value", "actual"),
    [
        ("order.total", "gt", "1", "abc"),
        ("order.total", "gt", "1", [1]),
        ("order.tags", "contains", "a", "a,b"),
        ("customer.is_first_order", "is_true", None, "yes"),
        ("address.region", "within", "浙江", ["a", "b", "c", "d"]),
        ("address.region", "within", "浙江", 5),
        ("order.buyer_note", "contains", "a", ["a"]),
        ("order.channel", "eq", "a", True),
    ],
)
def test_unusable_fact_value_raises_bad_fact(fact, op, value, actual):
    with pytest.raises(RuleEvaluationError) as caught:
        check(fact, op, value, actual)
    assert caught.value.code == "bad_fact"
    assert caught.value.message.startswith(f"condition 1: fact '{fact}' has an unusable value")


def test_invalid_spec_raises_at_evaluation_with_the_first_problem_code():
    with pytest.raises(RuleEvaluationError) as caught:
        evaluate({"all": [leaf("order.buyer_note", "regex", "[")]}, {"order.buyer_note": "x"})
    assert caught.value.code == "bad_regex"
    assert (
        caught.value.message
        == "condition 1: invalid regular expression: unterminated character set at position 0"
    )
    with pytest.raises(RuleEvaluationError) as caught:
        evaluate(leaf("order.totl"), {})
    assert caught.value.code == "unknown_fact"


def test_an_operator_that_blows_up_is_reported_not_raised_raw():
    boom = Operator("gt", Arity.ONE, lambda a, e: 1 / 0, "%(fact)s boom %(value)s")
    node = Leaf("1", FACTS["order.total"], boom, Decimal("1"), "1")
    with pytest.raises(RuleEvaluationError) as caught:
        evaluate(node, {"order.total": "2"})
    assert caught.value.code == "evaluation_failed"
    assert caught.value.message == "condition 1: could not be evaluated: division by zero"


def test_a_parsed_tree_evaluates_like_its_spec():
    spec = {"any": [leaf(value="9000"), leaf("order.tags", "contains", "vip")]}
    tree = parse_conditions(spec)
    assert evaluate(tree, FACTS_OK).as_dict() == evaluate(spec, FACTS_OK).as_dict()


# --- description ----------------------------------------------------------------------------------------

URGENT = leaf("order.buyer_note", "contains", "急")


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (None, "always"),
        ({"all": []}, "always"),
        (leaf(), "Order total is greater than 5000"),
        (leaf(op="between", value=["10", "20.5"]), "Order total is between 10 and 20.5"),
        (leaf(op="in", value=["1", "2"]), "Order total is one of 1, 2"),
        (leaf("order.buyer_note", "contains", "急"), 'Buyer note contains "急"'),
        (leaf("order.buyer_note", "is_empty", None), "Buyer note is empty"),
        (leaf("order.channel", "not_in", ["a", "b"]), "Channel code is none of a, b"),
        (leaf("order.tags", "contains", "VIP"), "Order tags include any of VIP"),
        (leaf("order.tags", "contains_all", ["a", "b"]), "Order tags include all of a, b"),
        (leaf("customer.is_first_order", "is_true", None), "Customer's first order: yes"),
        (leaf("address.complete", "is_false", None), "Address is complete: no"),
        (
            leaf("address.region", "within", ["浙江省/杭州市", "上海"]),
            "Shipping region is within 浙江省/杭州市, 上海",
        ),
        (leaf("customer.orders_last_30_days", "eq", 0), "Customer's orders in the last 30 days is 0"),
        (
            {"all": [leaf(), {"any": [leaf("order.tags", "contains", "VIP"), {"not": URGENT}]}]},
            "Order total is greater than 5000 and (Order tags include any of VIP or not (Buyer note contains"
            ' "急"))',
        ),
        (
            {"any": [{"all": [leaf()]}, leaf()]},
            "Order total is greater than 5000 or Order total is greater than 5000",
        ),
    ],
)
def test_describe(spec, text):
    assert describe(spec) == text


def test_describe_refuses_an_invalid_spec():
    with pytest.raises(ConditionError):
        describe(leaf(value="x"))


def test_facts_used():
    spec = {"all": [leaf(), {"not": {"any": [leaf("order.tags", "is_empty", None), leaf(value="1")]}}]}
    assert facts_used(spec) == {"order.total", "order.tags"}
    assert facts_used(None) == set()


def test_did_you_mean():
    assert did_you_mean("order.totl", FACTS) == "order.total"
    assert did_you_mean("hold", ["hold_for_review", "flag_exception"]) == "hold_for_review"
    assert (
        did_you_mean("as", ["assign_warehouse_code", "assign_warehouse_zone"]) is None
    )  # ambiguous: no guess
    assert did_you_mean("zzz", FACTS) is None
    assert did_you_mean(5, FACTS) is None
    assert did_you_mean("", FACTS) is None
