"""The engine: every action through the order services, firing once, errors that disable a rule, loops,
triggers, priorities and date ranges, schedules, 'Test this rule' and the backtest."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from oms.actors import Actor, ActorKind
from oms.webhooks import sign
from orders import services as order_services
from orders.choices import EventType, ExceptionReason, HoldKind, OrderStatus, OrderType, PaymentMethod
from orders.models import OrderEvent, Tag
from orders.tests.factories import WarehouseFactory, make_order, order_in_status, pay_in_full, stocked_product
from rules import services
from rules.facts import gather_facts
from rules.models import Coupon, Notification, OutboxStatus, Rule, RuleRun, WebhookCall
from rules.notifications import webhook_secret

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
BIG = {"all": [{"fact": "order.total", "op": "gt", "value": "100"}]}


def act(action_type: str, /, **params) -> list[dict]:
    return [{"type": action_type, "params": params}]


def fresh(order):
    order.refresh_from_db()
    return order


# --- every action ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "hold_kind"),
    [("normal", HoldKind.REVIEW), ("finance", HoldKind.FINANCE), ("delayed", HoldKind.DELAYED)],
)
def test_hold_for_review(make_rule, kind, hold_kind):
    make_rule(actions=act("hold_for_review", kind=kind, reason="look at it"))
    order = fresh(make_order())
    assert (order.status, order.hold_kind, order.hold_reason) == (
        OrderStatus.ON_HOLD,
        hold_kind,
        "look at it",
    )


def test_second_hold_is_skipped_not_an_error(make_rule):
    make_rule(actions=act("hold_for_review", kind="finance", reason="a"), priority=1)
    second = make_rule(actions=act("hold_for_review", kind="delayed", reason="b"), priority=2)
    order = fresh(make_order())
    assert order.hold_kind == HoldKind.FINANCE
    run = RuleRun.objects.get(rule=second)
    assert run.errors == [] and run.actions_done[0]["skipped"] == "already on hold (Finance review)"


def test_flag_exception(make_rule):
    make_rule(actions=act("flag_exception", reason="check the address"))
    order = fresh(make_order())
    assert order.exception_reason == ExceptionReason.RULE_FLAGGED
    assert order.exception_detail == "check the address"


def test_set_status_goes_through_the_verbs(make_rule):
    make_rule(actions=act("set_status", status="awaiting_shipment"), trigger="payment_received")
    order = pay_in_full(make_order())
    assert order.status == OrderStatus.AWAITING_SHIPMENT  # confirm_order reserved the stock
    assert order.lines.first().quantity_reserved == 2


def test_set_status_cancel_and_refusals_are_recorded(make_rule):
    cancel = make_rule(actions=act("set_status", status="cancelled"))
    order = fresh(make_order())
    assert order.status == OrderStatus.CANCELLED and order.cancel_reason == f"by rule {cancel.name}"
    cancel.delete()
    refused = make_rule(actions=act("set_status", status="completed"))
    order = fresh(make_order())
    run = RuleRun.objects.get(rule=refused)
    assert run.errors[0]["code"] == "transition_not_allowed"
    assert Rule.objects.get(pk=refused.pk).enabled, "a refusal by the order is not a broken rule"


def test_set_status_never_releases_a_finance_hold(make_rule):
    make_rule(
        actions=act("set_status", status="pending_payment"),
        trigger="status_changed",
        trigger_status="on_hold",
    )
    order = make_order()
    order_services.hold_order(order, kind=HoldKind.FINANCE, reason="big", actor=ACTOR)
    assert fresh(order).status == OrderStatus.ON_HOLD
    assert RuleRun.objects.get().errors[0]["code"] == "finance_permission_required"


def test_add_tag_and_add_note(make_rule):
    make_rule(actions=[*act("add_tag", tag="VIP"), *act("add_note", text="call the buyer")])
    order = make_order()
    assert list(order.tags.values_list("name", flat=True)) == ["VIP"]
    note = OrderEvent.objects.get(order=order, type=EventType.NOTE_ADDED)
    assert note.message == "call the buyer" and note.actor_kind == ActorKind.RULE
    assert Tag.objects.filter(name="VIP").count() == 1


def test_assign_warehouse_and_an_unknown_one_disables_the_rule(make_rule):
    other = WarehouseFactory(code="north")
    rule = make_rule(actions=act("assign_warehouse", warehouse="north"))
    assert fresh(make_order()).warehouse == other
    rule.delete()
    broken = make_rule(actions=act("assign_warehouse", warehouse="nowhere"))
    order = make_order()
    broken.refresh_from_db()
    assert not broken.enabled and "unknown warehouse 'nowhere'" in broken.disabled_reason
    assert RuleRun.objects.get(rule=broken, order=order).errors[0]["code"] == "rule_config"


def test_convert_to_presale(make_rule):
    make_rule(actions=act("convert_to_presale"))
    assert fresh(make_order()).order_type == OrderType.PRESALE


def test_merge_orders_with_the_buyers_other_unshipped_order(make_rule):
    product = stocked_product()
    first = order_in_status(OrderStatus.AWAITING_SHIPMENT, lines=[(product, 1)], buyer_phone="13911112222")
    make_rule(actions=act("merge_orders"), trigger="payment_received")
    second = pay_in_full(make_order([(product, 1)], buyer_phone="13911112222"))
    assert fresh(second).merged_into_id == first.pk, "the newer order ships with the oldest"
    run = RuleRun.objects.get(order=second)
    assert "merged" in json.dumps(run.actions_done, ensure_ascii=False)


def test_merge_orders_without_a_partner_is_skipped(make_rule):
    make_rule(actions=act("merge_orders"), trigger="order_created")
    order = fresh(make_order())
    assert order.merged_into_id is None
    assert RuleRun.objects.get(order=order).errors == []


def test_notify_customer_by_email(make_rule, django_capture_on_commit_callbacks):
    make_rule(
        actions=act(
            "notify_customer", channel="email", template="{customer.name}: {order.number} {order.total}"
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(buyer_email="buyer@example.com", buyer_name="李四")
    notification = Notification.objects.get(order=order)
    assert notification.status == OutboxStatus.SENT
    assert mail.outbox[-1].to == ["buyer@example.com"]
    assert mail.outbox[-1].body == f"李四: {order.number} {order.total}"


def test_notification_without_an_address_fails_without_touching_the_order(
    make_rule, django_capture_on_commit_callbacks
):
    make_rule(actions=[*act("notify_customer", channel="email", template="hi"), *act("add_tag", tag="x")])
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order()
    notification = Notification.objects.get(order=order)
    assert notification.status == OutboxStatus.FAILED and "no address" in notification.last_error
    assert order.tags.count() == 1


def test_nothing_is_sent_when_the_change_rolls_back(make_rule, django_capture_on_commit_callbacks):
    make_rule(actions=act("notify_customer", channel="sms", template="hi"))
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        make_order()
        raise RuntimeError("boom")
    assert callbacks == [] and not Notification.objects.exists()


def test_issue_coupon(make_rule):
    rule = make_rule(actions=act("issue_coupon", amount="25.50", valid_days=7))
    order = make_order()
    coupon = Coupon.objects.get()
    assert (coupon.rule, coupon.order, coupon.customer, coupon.amount) == (
        rule,
        order,
        order.customer,
        Decimal("25.50"),
    )
    assert coupon.is_valid and len(coupon.code) == 12


class _Receiver:
    """A local webhook receiver that checks the X-OMS-Signature."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                assert self.headers["X-OMS-Signature"] == sign(webhook_secret(), body)
                receiver.bodies.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_call_webhook_is_signed_and_sent_after_commit(make_rule, django_capture_on_commit_callbacks):
    receiver = _Receiver()
    try:
        rule = make_rule(actions=act("call_webhook", url=receiver.url))
        with django_capture_on_commit_callbacks(execute=True):
            order = make_order()
        call = WebhookCall.objects.get()
        assert call.status == OutboxStatus.SENT and call.response_code == 200
        [body] = receiver.bodies
        assert body["order"]["number"] == order.number and body["rule"]["id"] == rule.pk
    finally:
        receiver.close()


def test_a_failing_webhook_is_retried_with_backoff(make_rule, django_capture_on_commit_callbacks):
    receiver = _Receiver(status=503)
    try:
        make_rule(actions=act("call_webhook", url=receiver.url))
        with django_capture_on_commit_callbacks(execute=True):
            make_order()
        call = WebhookCall.objects.get()
        assert call.status == OutboxStatus.PENDING and call.attempts == 1 and call.last_error == "HTTP 503"
        assert call.next_attempt_at > timezone.now()
    finally:
        receiver.close()


# --- firing once, errors, loops -------------------------------------------------------------------------


def test_a_rule_fires_once_per_occurrence(make_rule):
    rule = make_rule(actions=act("add_tag", tag="seen"))
    order = make_order()
    services.on_order_created(order_id=order.pk, actor=ACTOR)
    services.run_rules(["order_created"], order.pk, trigger_key="created")
    assert RuleRun.objects.filter(rule=rule).count() == 1
    assert OrderEvent.objects.filter(order=order, type=EventType.RULE_FIRED).count() == 1


def test_status_change_rules_fire_per_change(make_rule):
    rule = make_rule(actions=act("add_note", text="moved"), trigger="status_changed")
    order = pay_in_full(make_order())
    order_services.confirm_order(order, actor=ACTOR)
    keys = list(RuleRun.objects.filter(rule=rule).values_list("trigger_key", flat=True))
    assert len(keys) == 2 and all(key.startswith("status:") for key in keys)


def test_trigger_status_limits_status_rules(make_rule):
    rule = make_rule(
        actions=act("add_note", text="x"), trigger="status_changed", trigger_status="awaiting_shipment"
    )
    order = pay_in_full(make_order())
    assert not RuleRun.objects.filter(rule=rule).exists()
    order_services.confirm_order(order, actor=ACTOR)
    assert RuleRun.objects.filter(rule=rule).count() == 1


def test_a_rule_that_cannot_be_evaluated_is_reported_and_disabled(make_rule):
    rule = make_rule(actions=act("add_tag", tag="never"))
    Rule.objects.filter(pk=rule.pk).update(
        conditions={"fact": "order.buyer_note", "op": "regex", "value": "("}
    )
    order = fresh(make_order())
    assert order.status == OrderStatus.PENDING_PAYMENT and order.tags.count() == 0
    rule.refresh_from_db()
    assert not rule.enabled and "invalid regular expression" in rule.disabled_reason
    run = RuleRun.objects.get(rule=rule)
    assert not run.matched and "invalid regular expression" in run.errors[0]["message"]
    make_order()
    assert RuleRun.objects.filter(rule=rule).count() == 1, "a disabled rule no longer runs"


def test_a_missing_fact_disables_the_rule(make_rule, monkeypatch):
    rule = make_rule(BIG)
    monkeypatch.setattr(services, "facts_for_order", lambda order_id, names: {"order.status": "x"})
    order = fresh(make_order())
    rule.refresh_from_db()
    assert order.pk and not rule.enabled and "was not provided" in rule.disabled_reason


def test_an_unexpected_crash_in_an_action_never_breaks_the_order(make_rule, monkeypatch):
    from rules import effects

    def boom(action, ctx):
        raise ZeroDivisionError("oops")

    monkeypatch.setitem(effects.EFFECTS, "add_note", boom)
    rule = make_rule(actions=[*act("add_note", text="x"), *act("add_tag", tag="after")])
    order = make_order()
    assert order.tags.count() == 1, "later actions still run"
    rule.refresh_from_db()
    assert not rule.enabled and "ZeroDivisionError" in rule.disabled_reason


def test_rules_that_bounce_the_status_stop_at_the_nesting_limit(make_rule):
    make_rule(
        actions=act("set_status", status="pending_payment"),
        trigger="status_changed",
        trigger_status="on_hold",
    )
    make_rule(
        actions=act("hold_for_review", kind="normal", reason="again"),
        trigger="status_changed",
        trigger_status="pending_payment",
    )
    order = make_order()
    order_services.hold_order(order, kind=HoldKind.REVIEW, reason="start", actor=ACTOR)
    runs = RuleRun.objects.filter(order=order).count()
    assert 0 < runs <= services.MAX_NESTING + 1


def test_priority_and_stop_after_match(make_rule):
    make_rule(actions=act("add_tag", tag="second"), priority=20)
    make_rule(actions=act("add_tag", tag="first"), priority=10, stop_after_match=True)
    order = make_order()
    assert list(order.tags.values_list("name", flat=True)) == ["first"]


def test_active_date_range(make_rule):
    now = timezone.now()
    make_rule(actions=act("add_tag", tag="later"), active_from=now + dt.timedelta(days=1))
    make_rule(actions=act("add_tag", tag="over"), active_until=now - dt.timedelta(days=1))
    make_rule(actions=act("add_tag", tag="now"), active_from=now - dt.timedelta(days=1))
    assert list(make_order().tags.values_list("name", flat=True)) == ["now"]


def test_later_rules_see_what_earlier_ones_did(make_rule):
    make_rule(actions=act("hold_for_review", reason="x"), priority=1)
    make_rule(
        {"all": [{"fact": "order.status", "op": "eq", "value": "on_hold"}]},
        act("add_tag", tag="held"),
        priority=2,
    )
    assert make_order().tags.filter(name="held").exists()


def test_payment_received_trigger(make_rule):
    rule = make_rule(actions=act("add_tag", tag="paid"), trigger="payment_received")
    order = make_order()
    assert not order.tags.exists()
    order_services.record_payment(order, amount="1.00", method=PaymentMethod.ALIPAY, actor=ACTOR)
    order_services.record_payment(order, amount="19.00", method=PaymentMethod.ALIPAY, actor=ACTOR)
    assert RuleRun.objects.filter(rule=rule).count() == 2


def test_bulk_created_orders_run_creation_and_sync_rules(make_rule, django_capture_on_commit_callbacks):
    from orders.services.bulk import create_orders_bulk
    from orders.tests.factories import ADDRESS

    synced = make_rule(actions=act("add_tag", tag="synced"), trigger="order_synced")
    created = make_rule(actions=act("add_tag", tag="new"))
    product = stocked_product()
    data = order_services.OrderInput(lines=[order_services.LineInput(sku=product.sku, quantity=1)], **ADDRESS)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = create_orders_bulk([data], actor=Actor.channel("shop"), event_type=EventType.SYNCED)
    order = outcome.orders[0]
    assert sorted(order.tags.values_list("name", flat=True)) == ["new", "synced"]
    assert RuleRun.objects.filter(rule__in=[synced, created]).count() == 2


def bulk_inputs(count: int, **fields) -> list:
    from orders.tests.factories import ADDRESS

    product = stocked_product()
    return [
        order_services.OrderInput(
            lines=[order_services.LineInput(sku=product.sku, quantity=n + 1)], **{**ADDRESS, **fields}
        )
        for n in range(count)
    ]


def create_bulk(inputs: list) -> list:
    from orders.services.bulk import create_orders_bulk

    outcome = create_orders_bulk(inputs, actor=Actor.channel("shop"), event_type=EventType.SYNCED)
    return [fresh(outcome.orders[index]) for index in range(len(inputs))]


def test_a_bulk_page_runs_creation_rules_in_a_fixed_number_of_queries(make_rule):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rule = make_rule(BIG, act("add_tag", tag="big"))
    inputs = bulk_inputs(8)  # totals 10, 20, ... 80: none matches
    create_bulk(bulk_inputs(1))  # the customer and the day's number counter exist from here on
    queries = []
    for page in (inputs[:2], inputs[2:]):
        with CaptureQueriesContext(connection) as ctx:
            create_bulk(page)
        queries.append(len(ctx.captured_queries) - len(page))  # create_bulk's fresh() reads
    assert queries[0] == queries[1], "2 orders and 6 orders take the same number of queries"
    assert not RuleRun.objects.filter(rule=rule).exists()


def test_bulk_creation_fires_matching_rules_once_per_order(make_rule):
    big = make_rule(BIG, act("add_tag", tag="big"), trigger="order_synced")
    every = make_rule(actions=act("add_note", text="seen"))
    orders = create_bulk(bulk_inputs(6))  # totals 10 ... 60; only 120 and up would be big
    orders += create_bulk(bulk_inputs(1, shipping_fee="200.00"))
    assert list(RuleRun.objects.filter(rule=big).values_list("order_id", flat=True)) == [orders[-1].pk]
    assert RuleRun.objects.filter(rule=every).count() == 7
    assert orders[-1].tags.filter(name="big").exists() and not orders[0].tags.exists()
    services.on_orders_created(order_ids=[o.pk for o in orders], actor=Actor.channel("shop"))
    assert RuleRun.objects.count() == 8, "a second call for the same orders fires nothing"
    assert OrderEvent.objects.filter(type=EventType.RULE_FIRED).count() == 8


def test_a_bad_rule_in_a_bulk_page_is_recorded_once_and_disabled(make_rule):
    rule = make_rule(actions=act("add_tag", tag="never"))
    Rule.objects.filter(pk=rule.pk).update(
        conditions={"fact": "order.buyer_note", "op": "regex", "value": "("}
    )
    orders = create_bulk(bulk_inputs(3))
    assert all(order.pk and not order.tags.exists() for order in orders)
    rule.refresh_from_db()
    assert not rule.enabled and RuleRun.objects.filter(rule=rule).count() == 1


def test_a_bulk_page_judges_each_order_after_the_earlier_ones_acted(make_rule):
    """Same verdicts as the per-order path: cancelling the buyer's first order makes the next one the first."""
    make_rule(
        {"all": [{"fact": "customer.is_first_order", "op": "is_true"}]}, act("set_status", status="cancelled")
    )
    orders = create_bulk(bulk_inputs(3))
    assert [order.status for order in orders] == [OrderStatus.CANCELLED] * 3


def test_a_failing_order_in_a_bulk_page_leaves_the_others(make_rule, monkeypatch):
    make_rule(actions=act("add_tag", tag="seen"))
    real_fire = services.fire
    calls = []

    def fire_but_fail_first(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real_fire(*args, **kwargs)

    monkeypatch.setattr(services, "fire", fire_but_fail_first)
    orders = create_bulk(bulk_inputs(3))
    assert [order.tags.exists() for order in orders] == [False, True, True]


def test_imported_orders_trigger_import_rules(make_rule):
    rule = make_rule(actions=act("add_tag", tag="imported"), trigger="order_imported")
    make_order(actor=Actor.system("x"))
    assert not RuleRun.objects.exists()
    product = stocked_product()
    data = order_services.OrderInput(lines=[order_services.LineInput(sku=product.sku, quantity=1)])
    order = order_services.create_order(data, actor=Actor.importer("x.xlsx"), event_type=EventType.IMPORTED)
    assert RuleRun.objects.get(rule=rule).order == order


# --- schedules ------------------------------------------------------------------------------------------


def test_schedule_rule_runs_over_old_unpaid_orders_once(make_rule):
    rule = make_rule(
        actions=act("add_tag", tag="unpaid"),
        trigger="schedule",
        schedule_statuses=["pending_payment"],
        schedule_min_age_minutes=30,
        schedule_every_minutes=60,
    )
    schedule = Schedule.objects.get(name=f"rules: rule {rule.pk}")
    assert schedule.func == "rules.tasks.run_scheduled_rule_task" and schedule.minutes == 60
    old = make_order(placed_at=timezone.now() - dt.timedelta(hours=2))
    new = make_order()
    paid = pay_in_full(make_order(placed_at=timezone.now() - dt.timedelta(hours=2)))
    from rules.tasks import run_scheduled_rule_task

    assert run_scheduled_rule_task(rule.pk) == {"scanned": 1, "fired": 1, "failed": False}
    assert old.tags.filter(name="unpaid").exists()
    assert not new.tags.exists() and not paid.tags.exists()
    assert run_scheduled_rule_task(rule.pk)["scanned"] == 0, "fired once per order"
    rule.enabled = False
    services.save_rule(rule)
    assert not Schedule.objects.filter(name=f"rules: rule {rule.pk}").exists()


# --- facts ----------------------------------------------------------------------------------------------


def test_facts_of_a_batch_take_a_fixed_number_of_queries(django_assert_num_queries):
    product = stocked_product(category="shirts")
    orders = [make_order([(product, n + 1)]) for n in range(5)]
    order_services.add_tag(orders[0], Tag.objects.create(name="VIP"), actor=ACTOR)
    with django_assert_num_queries(5):  # orders (+ history subqueries), lines, stock, tags, regions
        facts = gather_facts([order.pk for order in orders])
    first = facts[orders[0].pk]
    assert first["order.tags"] == ["VIP"] and first["lines.category"] == ["shirts"]
    assert (
        first["customer.orders_last_30_days"] == 1
        and facts[orders[4].pk]["customer.orders_last_30_days"] == 5
    )
    assert first["stock.any_line_short"] is False and first["stock.min_available"] == 100
    assert first["address.region"] == ("浙江省", "杭州市", "西湖区") and first["address.complete"] is True
    assert facts[orders[4].pk]["customer.lifetime_spend"] == Decimal("150.00")
    assert (
        facts[orders[4].pk]["customer.is_first_order"] is False and first["customer.is_first_order"] is True
    )


def test_only_requested_facts_are_read(django_assert_num_queries):
    order = make_order()
    with django_assert_num_queries(1):
        assert gather_facts([order.pk], {"order.total"}) == {order.pk: {"order.total": Decimal("20.00")}}


# --- test this rule, backtest ---------------------------------------------------------------------------


def test_try_rule_explains_which_condition_failed(make_rule):
    rule = make_rule(
        {
            "all": [
                {"fact": "order.total", "op": "gt", "value": "5000"},
                {"fact": "address.province", "op": "eq", "value": "浙江省"},
            ]
        },
        act("add_tag", tag="x"),
    )
    order = make_order()
    outcome = services.try_rule(rule, order.number)
    assert not outcome.matched and outcome.would_do == []
    assert outcome.explanation[0] == "condition 1: Order total is greater than 5000 (actual: '20.00'): failed"
    assert outcome.explanation[1].endswith("not checked")
    assert not RuleRun.objects.filter(rule=rule, order=order).exclude(trigger_key="created").exists()
    rule.conditions = {"all": [{"fact": "order.total", "op": "lt", "value": "5000"}]}
    outcome = services.try_rule(rule, order.number)
    assert outcome.matched and outcome.would_do == ["Add tag (tag=x)"]
    assert services.try_rule(rule, "SO-NOPE").error == "no order with number 'SO-NOPE'"


def test_backtest_counts_matches_without_acting(make_rule, django_assert_max_num_queries):
    rule = Rule(conditions=BIG, actions=act("hold_for_review", reason="x"))
    cheap, dear = stocked_product(price=Decimal("10")), stocked_product(price=Decimal("500"))
    orders = [make_order([(dear if n % 3 == 0 else cheap, 1)]) for n in range(9)]
    make_order([(dear, 1)], placed_at=timezone.now() - dt.timedelta(days=40))
    with django_assert_max_num_queries(3 * 2 + 2):  # 3 batches of (orders) + the final empty one + sample
        outcome = services.backtest_rule(rule, days=30, batch_size=4, sample_size=2)
    assert (outcome.scanned, outcome.matched) == (9, 3)
    assert [row["number"] for row in outcome.sample] == [orders[0].number, orders[3].number]
    assert all(fresh(order).status == OrderStatus.PENDING_PAYMENT for order in orders)
    assert not RuleRun.objects.exists()


def test_backtest_reports_a_bad_rule():
    outcome = services.backtest_rule(Rule(conditions={"fact": "nope"}, actions=[]), days=1)
    assert outcome.error.startswith("condition 1: unknown fact 'nope'")


def test_order_in_status_still_works_with_rules_on(make_rule):
    make_rule(actions=act("add_tag", tag="t"), trigger="status_changed")
    assert order_in_status(OrderStatus.SHIPPED).tags.count() == 1


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"all": [{"fact": "order.total", "op": "gt", "value": "10"}]},
        {
            "any": [
                {"fact": "order.total", "op": "lt", "value": "10"},
                {"fact": "order.tags", "op": "contains", "value": "VIP"},
            ]
        },
        {"not": {"fact": "address.province", "op": "eq", "value": "浙江省"}},
        {"all": [{"not": {"any": [{"fact": "order.buyer_note", "op": "regex", "value": "^急"}]}}]},
        {"fact": "stock.min_available", "op": "gte", "value": 3},
    ],
)
def test_the_fast_matcher_agrees_with_evaluate(spec):
    from rules.conditions import evaluate, matches, parse_conditions

    facts = {
        "order.total": Decimal("20"),
        "order.tags": ["vip"],
        "address.province": "浙江省",
        "order.buyer_note": "急单",
        "stock.min_available": None,
    }
    node = parse_conditions(spec)
    assert matches(node, facts) is evaluate(node, facts).matched


def test_the_fast_matcher_reports_a_missing_fact():
    from rules.conditions import RuleEvaluationError, matches, parse_conditions

    with pytest.raises(RuleEvaluationError, match="was not provided"):
        matches(parse_conditions({"fact": "order.total", "op": "gt", "value": "1"}), {})
