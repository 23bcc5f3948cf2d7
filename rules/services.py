"""Running rules: for a trigger occurrence, on a schedule, as a dry run on one order, and as a backtest.

Live runs happen inside the transaction of the change that triggered them (orders.hooks
`dispatch_in_transaction`), so a hold or exception exists before anyone else sees the order. Each matching
rule fires at most once per order and trigger occurrence (RuleRun is unique on rule, order, trigger_key),
writes a RuleRun and a RULE_FIRED timeline event with the rule as actor, and queues its notifications and
webhook calls to be sent after commit. A rule that cannot be evaluated or is misconfigured is recorded on
a RuleRun and disabled; the order flow carries on.

Bulk paths (syncs, imports) create a page of orders at once and call `run_rules_batch` once for the page: the
rules, earlier runs and facts are read for the whole page, then each order is judged and fired as above.

Loops: actions that change the status trigger `status_changed` rules in turn. A rule never re-enters itself
for the same order, and nesting stops at MAX_NESTING levels.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor, ActorKind
from oms.errors import OMSError, ValidationFailed
from orders.choices import EventType
from orders.models import Order
from orders.services import record_event
from rules.actions_spec import Action, ActionError, clean_actions, get_preset
from rules.conditions import (
    ConditionError,
    Node,
    RuleEvaluationError,
    describe,
    evaluate,
    facts_used,
    matches,
    parse_conditions,
)
from rules.effects import EFFECTS, EffectContext, EffectSkipped, RuleConfigError, describe_action
from rules.facts import facts_for_order, gather_facts
from rules.models import Rule, RuleRun

logger = logging.getLogger(__name__)

MAX_NESTING = 3
"""How deep rule-triggered changes may trigger further rules (order created → hold → status changed ...)."""

SCHEDULE_BATCH = 500
BACKTEST_BATCH = 2000

_running: contextvars.ContextVar[tuple[tuple[int, int], ...]] = contextvars.ContextVar(
    "rules_running", default=()
)


# --- compiled rules -------------------------------------------------------------------------------------


@dataclass
class CompiledRule:
    """A rule with its conditions parsed and actions cleaned once; `error` if either is invalid."""

    rule: Rule
    node: Node | None = None
    actions: list[Action] = field(default_factory=list)
    facts: set[str] = field(default_factory=set)
    error: str = ""

    @property
    def pk(self) -> int:
        return self.rule.pk


_compiled: dict[int, tuple[Any, CompiledRule]] = {}


def compile_rule(rule: Rule) -> CompiledRule:
    """Parse a rule's JSON, reusing the cached parse while the rule is unchanged (same updated_at)."""
    cached = _compiled.get(rule.pk) if rule.pk else None
    if cached and cached[0] == rule.updated_at:
        cached[1].rule = rule
        return cached[1]
    compiled = CompiledRule(rule)
    try:
        compiled.node = parse_conditions(rule.conditions)
        compiled.facts = facts_used(compiled.node) if compiled.node else set()
        compiled.actions = clean_actions(rule.actions)
    except (ConditionError, ActionError) as error:
        compiled.error = error.message
    if rule.pk:
        _compiled[rule.pk] = (rule.updated_at, compiled)
    return compiled


def rules_for(
    triggers: Iterable[str], *, status: str = "", now: dt.datetime | None = None
) -> list[CompiledRule]:
    """Active rules of these triggers in run order; status_changed rules filtered by their target status."""
    rules = Rule.objects.active(now).filter(trigger__in=list(triggers))
    result = []
    for rule in rules:
        if rule.trigger == "status_changed" and rule.trigger_status and rule.trigger_status != status:
            continue
        result.append(compile_rule(rule))
    return result


# --- live runs ------------------------------------------------------------------------------------------


def run_rules(
    triggers: Iterable[str],
    order_id: int,
    *,
    trigger_key: str,
    status: str = "",
    rules: list[CompiledRule] | None = None,
    facts: dict[str, Any] | None = None,
) -> list[RuleRun]:
    """Evaluate the active rules of `triggers` on one order and fire those that match (once per key).

    Runs in the caller's transaction. Returns the RuleRuns written (fired or failed).
    """
    stack = _running.get()
    if len(stack) >= MAX_NESTING:
        logger.warning("rules: nesting limit reached for order %s (%s)", order_id, trigger_key)
        return []
    triggers = list(triggers)
    candidates = rules if rules is not None else rules_for(triggers, status=status)
    candidates = [rule for rule in candidates if (rule.pk, order_id) not in stack]
    if not candidates:
        return []
    fired = set(
        RuleRun.objects.filter(
            order_id=order_id, trigger_key=trigger_key, rule_id__in=[rule.pk for rule in candidates]
        ).values_list("rule_id", flat=True)
    )
    candidates = [rule for rule in candidates if rule.pk not in fired]
    if not candidates:
        return []
    names = set().union(*(rule.facts for rule in candidates))
    if facts is None:
        facts = facts_for_order(order_id, names)
        if not facts and not Order.objects.filter(pk=order_id).exists():
            return []
    return _fire_matching(candidates, order_id, trigger=triggers[0], trigger_key=trigger_key, facts=facts)


def _fire_matching(
    candidates: list[CompiledRule], order_id: int, *, trigger: str, trigger_key: str, facts: dict[str, Any]
) -> list[RuleRun]:
    """Evaluate not-yet-fired candidates in run order on one order's facts and fire the matching ones."""
    names = set().union(*(rule.facts for rule in candidates))
    runs: list[RuleRun] = []
    for compiled in candidates:
        if not compiled.rule.enabled:  # disabled by an error on an earlier order of the same batch
            continue
        started = time.perf_counter()
        try:
            if compiled.error:
                raise RuleEvaluationError(compiled.error, code="invalid_rule")
            if not matches(compiled.node, facts):
                continue
            result = evaluate(compiled.node, facts)  # the trace, for the run record
        except RuleEvaluationError as error:
            run = _record_failure(compiled, order_id, trigger, trigger_key, error.message, started)
            if run:
                runs.append(run)
            continue
        run = fire(
            compiled, order_id, trigger=compiled.rule.trigger, trigger_key=trigger_key, trace=result.as_dict()
        )
        if run is None:
            continue
        runs.append(run)
        if compiled.rule.stop_after_match:
            break
        if run.actions_done:  # later rules see the order as the actions left it
            facts = facts_for_order(order_id, names)
    return runs


_CROSS_ORDER_FACTS = ("customer.", "stock.")
"""Facts another order's rule actions can change (history counts, stock); see run_rules_batch."""
_CROSS_ORDER_ACTIONS = {"merge_orders"}


def _may_fire(candidates: list[CompiledRule], facts: dict[str, Any]) -> bool:
    """Whether any candidate matches or cannot be evaluated: only such orders need a savepoint and a run."""
    for compiled in candidates:
        if not compiled.rule.enabled:
            continue
        try:
            if compiled.error or matches(compiled.node, facts):
                return True
        except RuleEvaluationError:
            return True
    return False


def run_rules_batch(
    triggers: Iterable[str], order_ids: list[int], *, trigger_key: str, status: str = ""
) -> list[RuleRun]:
    """`run_rules` for many orders of one trigger occurrence: rules, earlier runs and facts read once per batch.

    Each order that some rule matches (or cannot be evaluated on) then goes through the same evaluation as
    `run_rules`, in its own savepoint as the per-order hook does, in the order of `order_ids`; an order no rule
    matches costs no query. When an order's rules acted and the batch's rules read facts that such
    actions can change on other orders (customer history, stock, merges), the remaining orders' facts are read
    again, so every order is judged as the per-order path would judge it.
    """
    if len(_running.get()) >= MAX_NESTING:
        logger.warning("rules: nesting limit reached for %s orders (%s)", len(order_ids), trigger_key)
        return []
    triggers = list(triggers)
    rules = rules_for(triggers, status=status) if order_ids else []
    if not rules:
        return []
    stack = set(_running.get())
    fired = set(
        RuleRun.objects.filter(
            order_id__in=order_ids, trigger_key=trigger_key, rule_id__in=[rule.pk for rule in rules]
        ).values_list("order_id", "rule_id")
    )
    pending = {
        order_id: [
            rule for rule in rules if (order_id, rule.pk) not in fired and (rule.pk, order_id) not in stack
        ]
        for order_id in dict.fromkeys(order_ids)
    }
    pending = {order_id: candidates for order_id, candidates in pending.items() if candidates}
    if not pending:
        return []
    names = set().union(*(rule.facts for candidates in pending.values() for rule in candidates))
    cross_order = any(name.startswith(_CROSS_ORDER_FACTS) for name in names) or any(
        action.type in _CROSS_ORDER_ACTIONS for rule in rules for action in rule.actions
    )
    ordered = list(pending)
    facts = gather_facts(ordered, names)
    runs: list[RuleRun] = []
    for position, order_id in enumerate(ordered):
        if order_id not in facts or not _may_fire(pending[order_id], facts[order_id]):
            continue
        try:
            with transaction.atomic():
                order_runs = _fire_matching(
                    pending[order_id],
                    order_id,
                    trigger=triggers[0],
                    trigger_key=trigger_key,
                    facts=facts[order_id],
                )
        except Exception:  # as the per-order hook: one order's failure never breaks the others
            logger.exception("rules on order %s (%s) failed", order_id, trigger_key)
            continue
        runs += order_runs
        if cross_order and any(run.actions_done for run in order_runs) and position + 1 < len(ordered):
            facts = gather_facts(ordered[position + 1 :], names)
    return runs


def fire(
    compiled: CompiledRule, order_id: int, *, trigger: str, trigger_key: str, trace: dict | None = None
) -> RuleRun | None:
    """Carry out a matched rule's actions on one order; None if it already fired for this occurrence."""
    rule = compiled.rule
    started = time.perf_counter()
    try:
        with transaction.atomic():
            run = RuleRun.objects.create(
                rule=rule, order_id=order_id, trigger=trigger, trigger_key=trigger_key[:80], trace=trace or {}
            )
    except IntegrityError:
        return None
    actor = Actor.rule(rule.name)
    ctx = EffectContext(rule=rule, order_id=order_id, actor=actor, trigger=trigger)
    done: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    disable_reason = ""
    token = _running.set((*_running.get(), (rule.pk, order_id)))
    try:
        for action in compiled.actions:
            entry = {"position": action.position, "type": action.type}
            try:
                with transaction.atomic():
                    done.append({**entry, "result": str(EFFECTS[action.type](action, ctx))})
            except EffectSkipped as skipped:
                done.append({**entry, "skipped": str(skipped)})
            except RuleConfigError as error:
                errors.append({**entry, "code": error.code, "message": error.message})
                disable_reason = _("action %(n)s: %(message)s") % {
                    "n": action.position,
                    "message": error.message,
                }
            except OMSError as error:
                errors.append({**entry, "code": error.code, "message": error.message})
            except Exception as error:  # a rule must never break the order flow
                logger.exception("rule %s action %s failed on order %s", rule.pk, action.type, order_id)
                message = f"{type(error).__name__}: {error}"
                errors.append({**entry, "code": "unexpected", "message": message})
                disable_reason = _("action %(n)s: %(message)s") % {"n": action.position, "message": message}
    finally:
        _running.reset(token)
    run.actions_done, run.errors = done, errors
    run.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    run.save(update_fields=["actions_done", "errors", "duration_ms"])
    summary = "; ".join(item.get("result") or item.get("skipped", "") for item in done)
    if errors:
        summary = "; ".join(filter(None, [summary, *(item["message"] for item in errors)]))
    record_event(
        Order(pk=order_id),
        type=EventType.RULE_FIRED,
        actor=actor,
        message=_("Rule '%(rule)s' fired: %(summary)s") % {"rule": rule.name, "summary": summary or "—"},
        rule_id=rule.pk,
        run_id=run.pk,
        trigger=trigger,
        trigger_key=trigger_key,
        actions=done,
        errors=errors,
    )
    if errors:
        Rule.objects.filter(pk=rule.pk).update(last_error=errors[-1]["message"][:2000])
    if disable_reason:
        disable_rule(rule, disable_reason)
    _send_after_commit(ctx)
    return run


def _record_failure(
    compiled: CompiledRule, order_id: int, trigger: str, trigger_key: str, message: str, started: float
) -> RuleRun | None:
    """A rule that cannot be evaluated: one RuleRun with the error, and the rule is disabled."""
    run = None
    try:
        with transaction.atomic():
            run = RuleRun.objects.create(
                rule=compiled.rule,
                order_id=order_id,
                trigger=trigger,
                trigger_key=trigger_key[:80],
                matched=False,
                errors=[{"code": "evaluation", "message": message}],
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
    except IntegrityError:
        pass
    disable_rule(compiled.rule, message)
    return run


def disable_rule(rule: Rule, reason: str) -> None:
    """Switch a failing rule off and say why (shown in the admin)."""
    logger.warning("rule %s (%s) disabled: %s", rule.pk, rule.name, reason)
    Rule.objects.filter(pk=rule.pk).update(
        enabled=False, disabled_reason=reason[:500], disabled_at=timezone.now(), last_error=reason[:2000]
    )
    rule.enabled = False
    rule.disabled_reason = reason[:500]


def _send_after_commit(ctx: EffectContext) -> None:
    from django_q.tasks import async_task

    notifications, calls = list(ctx.notifications), list(ctx.webhook_calls)
    if notifications:
        transaction.on_commit(
            lambda: async_task(
                "rules.tasks.send_notifications_task", notifications, q_options={"timeout": 60}
            )
        )
    if calls:
        transaction.on_commit(
            lambda: async_task("rules.tasks.deliver_webhook_calls_task", calls, q_options={"timeout": 60})
        )


# --- hook handlers --------------------------------------------------------------------------------------

_CREATION_TRIGGERS = {
    EventType.IMPORTED: "order_imported",
    EventType.SYNCED: "order_synced",
    ActorKind.IMPORT: "order_imported",
    ActorKind.CHANNEL: "order_synced",
}


def _creation_triggers(actor: Actor | None, event_type: str | None) -> list[str]:
    extra = _CREATION_TRIGGERS.get(event_type or "") or _CREATION_TRIGGERS.get(getattr(actor, "kind", ""))
    return ["order_created", extra] if extra else ["order_created"]


def on_order_created(
    *, order_id: int, actor: Actor | None = None, event_type: str | None = None, **_extra
) -> None:
    """In-transaction hook: rules on 'order created' (and 'imported'/'synced' for those sources)."""
    run_rules(_creation_triggers(actor, event_type), order_id, trigger_key="created")


def on_orders_created(
    *, order_ids: list[int], actor: Actor | None = None, event_type: str | None = None, **_extra
) -> None:
    """In-transaction batch hook (bulk syncs and imports): `on_order_created` for a page of orders at once."""
    run_rules_batch(_creation_triggers(actor, event_type), order_ids, trigger_key="created")


def on_order_created_after_commit(
    *, order_id: int, actor: Actor | None = None, guarded: bool = False, **_extra
) -> None:
    """After-commit hook for creation paths that had no in-transaction call (bulk imports and syncs)."""
    if guarded:
        return
    with transaction.atomic():
        run_rules(_creation_triggers(actor, None), order_id, trigger_key="created")


def on_orders_created_after_commit(
    *, order_ids: list[int], actor: Actor | None = None, guarded: bool = False, **_extra
) -> None:
    """The batch twin of `on_order_created_after_commit`."""
    if guarded:
        return
    with transaction.atomic():
        run_rules_batch(_creation_triggers(actor, None), order_ids, trigger_key="created")


def on_status_changed(*, order_id: int, target: str, event_id: int | None = None, **_extra) -> None:
    """In-transaction hook: 'status changed' rules, keyed by the status-change event."""
    run_rules(["status_changed"], order_id, trigger_key=f"status:{event_id or target}", status=target)


def on_payment_received(*, order_id: int, payment_id: int, kind: str = "payment", **_extra) -> None:
    """In-transaction hook: 'payment received' rules, keyed by the payment (refunds do not trigger)."""
    if kind == "payment":
        run_rules(["payment_received"], order_id, trigger_key=f"payment:{payment_id}")


def on_order_updated(*, order_id: int, event_id: int | None = None, **_extra) -> None:
    """In-transaction hook: 'order updated' rules, keyed by the update event."""
    run_rules(["order_updated"], order_id, trigger_key=f"updated:{event_id or timezone.now().timestamp()}")


def register_hooks() -> None:
    """Connect the rules engine to the order hooks (RulesConfig.ready)."""
    from orders import hooks

    hooks.register_in_transaction("order_created", "rules", on_order_created)
    hooks.register_in_transaction("status_changed", "rules", on_status_changed)
    hooks.register_in_transaction("payment_received", "rules", on_payment_received)
    hooks.register_in_transaction("order_updated", "rules", on_order_updated)
    hooks.register("order_created", "rules:unguarded", on_order_created_after_commit)
    hooks.register_in_transaction("orders_created", "rules", on_orders_created)
    hooks.register("orders_created", "rules:unguarded", on_orders_created_after_commit)


# --- schedules ------------------------------------------------------------------------------------------


def scheduled_orders(rule: Rule, *, now: dt.datetime | None = None):
    """The orders a schedule rule looks at now: status, age and look-back window; not yet fired on."""
    now = now or timezone.now()
    orders = Order.objects.filter(
        placed_at__gte=now - dt.timedelta(days=rule.schedule_lookback_days),
        placed_at__lte=now - dt.timedelta(minutes=rule.schedule_min_age_minutes),
    )
    if rule.schedule_statuses:
        orders = orders.filter(status__in=rule.schedule_statuses)
    return orders.exclude(pk__in=RuleRun.objects.filter(rule=rule, trigger_key="schedule").values("order_id"))


@dataclass
class ScheduleOutcome:
    """What one scheduled pass did."""

    scanned: int = 0
    fired: int = 0
    failed: bool = False


def run_scheduled_rule(rule_id: int, *, batch_size: int = SCHEDULE_BATCH) -> ScheduleOutcome:
    """Run a schedule rule over its matching orders in batches (facts in bulk), firing once per order."""
    outcome = ScheduleOutcome()
    rule = Rule.objects.filter(pk=rule_id, trigger="schedule").first()
    if rule is None or not rule.is_active_at():
        return outcome
    compiled = compile_rule(rule)
    last = 0
    while True:
        batch = scheduled_orders(rule).filter(pk__gt=last).order_by("pk")[:batch_size]
        facts = gather_facts(batch, compiled.facts | {"order.status"})
        if not facts:
            return outcome
        last = max(facts)
        for order_id, order_facts in facts.items():
            outcome.scanned += 1
            with transaction.atomic():
                runs = run_rules(
                    ["schedule"], order_id, trigger_key="schedule", rules=[compiled], facts=order_facts
                )
            outcome.fired += sum(1 for run in runs if run.matched)
            if not rule.enabled:  # disabled by an error
                outcome.failed = True
                return outcome


def sync_schedule(rule: Rule) -> None:
    """Create, update or remove the django-q2 Schedule that runs a schedule rule."""
    from django_q.models import Schedule

    name = f"rules: rule {rule.pk}"
    if rule.trigger == "schedule" and rule.enabled:
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": "rules.tasks.run_scheduled_rule_task",
                "args": repr((rule.pk,)),
                "schedule_type": Schedule.MINUTES,
                "minutes": max(1, rule.schedule_every_minutes),
                "repeats": -1,
            },
        )
    else:
        Schedule.objects.filter(name=name).delete()


def save_rule(rule: Rule, *, user: Any = None) -> Rule:
    """Save a validated rule from the admin: re-enabling clears the disabled reason; schedules follow."""
    if rule.enabled:
        rule.disabled_reason, rule.disabled_at = "", None
    if rule.pk is None and user is not None and getattr(user, "pk", None):
        rule.created_by = user
    rule.save()
    sync_schedule(rule)
    return rule


def create_rule_from_preset(code: str, *, user: Any = None, enabled: bool = False) -> Rule:
    """A new rule copied from a preset (disabled unless `enabled`), with a unique name."""
    try:
        preset = get_preset(code)
    except KeyError:
        raise ValidationFailed(_("unknown preset '%(code)s'") % {"code": code}, code="unknown_preset")
    name, n = preset["name"], 1
    while Rule.objects.filter(name=name).exists():
        n += 1
        name = f"{preset['name']} ({n})"
    rule = Rule(
        name=name,
        description=preset["description"],
        trigger=preset["trigger"],
        conditions=preset["conditions"],
        actions=preset["actions"],
        enabled=enabled,
        preset=code,
    )
    return save_rule(rule, user=user)


# --- dry runs -------------------------------------------------------------------------------------------


@dataclass
class RuleTest:
    """The outcome of 'Test this rule' on one order: matched or not, why, and what it would do."""

    order: Order | None
    matched: bool = False
    explanation: list[str] = field(default_factory=list)
    trace: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    would_do: list[str] = field(default_factory=list)
    error: str = ""
    description: str = ""


def _jsonable_facts(facts: dict[str, Any]) -> dict[str, Any]:
    from orders.services.events import jsonable

    return jsonable(dict(sorted(facts.items())))


def try_rule(rule: Rule, order_number: str) -> RuleTest:
    """Evaluate a rule on one order (by number or external id) without carrying out anything."""
    number = (order_number or "").strip()
    order = Order.objects.filter(number=number).first() or Order.objects.filter(external_id=number).first()
    if order is None:
        return RuleTest(None, error=_("no order with number '%(n)s'") % {"n": number})
    compiled = compile_rule(Rule(conditions=rule.conditions, actions=rule.actions))
    outcome = RuleTest(order)
    if compiled.error:
        outcome.error = compiled.error
        return outcome
    outcome.description = describe(compiled.node)
    outcome.facts = facts_for_order(order.pk, compiled.facts)
    try:
        result = evaluate(compiled.node, outcome.facts)
    except RuleEvaluationError as error:
        outcome.error = error.message
        return outcome
    outcome.facts = _jsonable_facts(outcome.facts)
    outcome.matched = result.matched
    outcome.explanation = result.explain() or [_("no conditions: the rule always matches")]
    outcome.trace = result.as_dict()
    outcome.would_do = [describe_action(action) for action in compiled.actions] if result.matched else []
    return outcome


@dataclass
class Backtest:
    """How a rule would have done over past orders: how many it scanned and matched, with a sample."""

    days: int
    scanned: int = 0
    matched: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Share of scanned orders that matched (0..1)."""
        return self.matched / self.scanned if self.scanned else 0.0


def backtest_rule(
    rule: Rule,
    *,
    days: int,
    sample_size: int = 20,
    batch_size: int = BACKTEST_BATCH,
    now: dt.datetime | None = None,
) -> Backtest:
    """Evaluate a rule over the orders placed in the last `days` days; never carries out any action.

    Orders are read in primary-key batches with their facts gathered in bulk (a fixed number of queries
    per batch, only the facts the conditions use).
    """
    started = time.perf_counter()
    outcome = Backtest(days=days)
    compiled = compile_rule(Rule(conditions=rule.conditions, actions=rule.actions))
    if compiled.error:
        outcome.error = compiled.error
        return outcome
    since = (now or timezone.now()) - dt.timedelta(days=days)
    orders = Order.objects.filter(placed_at__gte=since)
    names = compiled.facts or {"order.total"}
    last = 0
    try:
        while True:
            batch = gather_facts(orders.filter(pk__gt=last).order_by("pk")[:batch_size], names)
            if not batch:
                break
            last = max(batch)
            outcome.scanned += len(batch)
            for order_id, facts in batch.items():
                if matches(compiled.node, facts):
                    outcome.matched += 1
                    if len(outcome.sample) < sample_size:
                        outcome.sample.append({"pk": order_id, **_jsonable_facts(facts)})
    except RuleEvaluationError as error:
        outcome.error = error.message
    if outcome.sample:
        numbers = dict(
            Order.objects.filter(pk__in=[row["pk"] for row in outcome.sample]).values_list("pk", "number")
        )
        for row in outcome.sample:
            row["number"] = numbers.get(row["pk"], "")
    outcome.seconds = round(time.perf_counter() - started, 3)
    return outcome
