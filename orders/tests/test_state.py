"""The order state machine: the pure table and guards, and the whole matrix driven through the services."""

from __future__ import annotations

import itertools
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from oms.actors import Actor, ActorKind
from oms.errors import TransitionNotAllowed
from orders import services, state
from orders.choices import (
    EventType,
    FulfillmentStatus,
    HoldKind,
    OrderStatus,
    OrderType,
    PaymentMethod,
    PaymentStatus,
    StockStatus,
)
from orders.models import OrderEvent
from orders.tests.conftest import take_snapshot
from orders.tests.factories import UserFactory, order_in_status, refund_in_full

S = OrderStatus
ALL = list(S.values)
PAIRS = list(itertools.product(ALL, ALL))
LEGAL = {(source, target) for source, targets in state.TRANSITIONS.items() for target in targets}
RELEASE_TARGETS = state.TRANSITIONS[S.ON_HOLD] - {S.CANCELLED}


def fake_order(status: str = S.PENDING_REVIEW, **fields) -> SimpleNamespace:
    """An order-like object that satisfies every guard unless told otherwise."""
    values = {
        "number": "SO-1",
        "status": status,
        "order_type": OrderType.NORMAL,
        "payment_status": PaymentStatus.PAID,
        "stock_status": StockStatus.RESERVED,
        "address_is_complete": True,
        "held_from_status": "",
    }
    values.update(fields)
    return SimpleNamespace(**values)


def satisfying(source: str, target: str) -> SimpleNamespace:
    """A fake order in `source` whose fields satisfy the guards of the move to `target`."""
    extra = {}
    if source == S.ON_HOLD:
        extra["held_from_status"] = target if target in RELEASE_TARGETS else S.PENDING_REVIEW
    if target == S.CLOSED:
        extra["payment_status"] = PaymentStatus.REFUNDED
    return fake_order(source, **extra)


# --- the pure table --------------------------------------------------------------------------------------


def test_table_covers_every_status():
    assert set(state.TRANSITIONS) == set(ALL)
    assert all(set(targets) <= set(ALL) for targets in state.TRANSITIONS.values())


def test_terminal_statuses():
    assert {S.CANCELLED, S.CLOSED} == state.TERMINAL


def test_no_status_moves_to_itself():
    assert all(source not in targets for source, targets in state.TRANSITIONS.items())


def test_every_status_is_reachable_from_pending_payment():
    seen, todo = {S.PENDING_PAYMENT}, [S.PENDING_PAYMENT]
    while todo:
        for target in state.TRANSITIONS[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    assert seen == set(ALL)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_pure_matrix(source, target):
    """Every pair: a move in the table is legal once its guards are satisfied; anything else is refused."""
    refusal = state.check_transition(satisfying(source, target), target)
    if (source, target) in LEGAL:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.code == "transition_not_allowed"
        assert "SO-1" in refusal.message


def test_refusal_messages_name_the_problem():
    with translation.override("en"):
        assert "already shipped" in state.check_transition(fake_order(S.SHIPPED), S.SHIPPED).message
        assert "cannot be cancelled" in state.check_transition(fake_order(S.SHIPPED), S.CANCELLED).message
        assert "put on hold" in state.check_transition(fake_order(S.CLOSED), S.ON_HOLD).message
        refusal = state.check_transition(fake_order(S.ON_HOLD, held_from_status=S.SHIPPED), S.PENDING_REVIEW)
        assert "shipped" in refusal.message


@pytest.mark.parametrize("status", ALL)
def test_legal_targets_match_the_table_when_guards_pass(status):
    order = fake_order(status, payment_status=PaymentStatus.PAID)
    expected = {t for t in state.allowed_targets(status) if state.check_transition(order, t) is None}
    assert set(state.legal_targets(order)) == expected
    assert state.allowed_targets(status) == state.TRANSITIONS[status]


def test_guards_cover_only_moves_in_the_table():
    assert set(state.GUARDS) <= LEGAL


# --- guards ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payment", PaymentStatus.values)
@pytest.mark.parametrize("order_type", OrderType.values)
def test_guard_payment_for_review(payment, order_type):
    order = fake_order(S.PENDING_PAYMENT, payment_status=payment, order_type=order_type)
    refusal = state.guard_payment_for_review(order, S.PENDING_REVIEW)
    enough = {PaymentStatus.PAID}
    if order_type in (OrderType.PRESALE, OrderType.INSTALLMENT):
        enough.add(PaymentStatus.PARTIALLY_PAID)
    if payment in enough:
        assert refusal is None
    else:
        assert refusal.code == "payment_required"


@pytest.mark.parametrize("complete", [True, False])
@pytest.mark.parametrize("stock", StockStatus.values)
def test_guard_ready_to_ship(complete, stock):
    order = fake_order(S.AWAITING_SHIPMENT, address_is_complete=complete, stock_status=stock)
    refusal = state.guard_ready_to_ship(order, S.SHIPPED)
    if not complete:
        assert refusal.code == "address_incomplete"
    elif stock == StockStatus.WAITING:
        assert refusal.code == "stock_not_reserved"
    else:
        assert refusal is None


@pytest.mark.parametrize("held_from", ALL)
@pytest.mark.parametrize("target", sorted(state.TRANSITIONS[S.ON_HOLD]))
def test_guard_release_to_previous(held_from, target):
    refusal = state.guard_release_to_previous(fake_order(S.ON_HOLD, held_from_status=held_from), target)
    if target == S.CANCELLED:
        if held_from in state.CANCELLABLE_BEFORE_HOLD:
            assert refusal is None
        else:
            assert refusal.code == "transition_not_allowed"
    elif target == held_from:
        assert refusal is None
    else:
        assert refusal.code == "release_target_mismatch"


@pytest.mark.parametrize("payment", PaymentStatus.values)
def test_guard_refunded_to_close(payment):
    refusal = state.guard_refunded_to_close(fake_order(S.SHIPPED, payment_status=payment), S.CLOSED)
    if payment in (PaymentStatus.UNPAID, PaymentStatus.REFUNDED):
        assert refusal is None
    else:
        assert refusal.code == "refund_required"


# --- derived statuses ------------------------------------------------------------------------------------

line_quantities = st.lists(
    st.integers(min_value=1, max_value=50).flatmap(lambda q: st.tuples(st.just(q), st.integers(0, q))),
    min_size=1,
    max_size=8,
)


@given(line_quantities)
def test_fulfillment_status_for(quantities):
    result = state.fulfillment_status_for(quantities)
    shipped = sum(s for _q, s in quantities)
    if shipped == 0:
        assert result == FulfillmentStatus.UNFULFILLED
    elif all(s == q for q, s in quantities):
        assert result == FulfillmentStatus.FULFILLED
    else:
        assert result == FulfillmentStatus.PARTIALLY_FULFILLED


def test_fulfillment_status_examples():
    assert state.fulfillment_status_for([]) == FulfillmentStatus.UNFULFILLED
    assert state.fulfillment_status_for([(2, 0), (1, 0)]) == FulfillmentStatus.UNFULFILLED
    assert state.fulfillment_status_for([(2, 1), (1, 0)]) == FulfillmentStatus.PARTIALLY_FULFILLED
    assert state.fulfillment_status_for([(2, 2), (1, 0)]) == FulfillmentStatus.PARTIALLY_FULFILLED
    assert state.fulfillment_status_for([(2, 2), (1, 1)]) == FulfillmentStatus.FULFILLED


cents = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)


@given(total=cents.filter(lambda d: d > 0), paid=cents, refund_share=st.fractions(0, 1))
def test_payment_status_for(total, paid, refund_share):
    refunded = (paid * Decimal(refund_share.numerator) / Decimal(refund_share.denominator)).quantize(
        Decimal("0.01")
    )
    result = state.payment_status_for(total, paid, refunded)
    if refunded > 0:
        assert result == (PaymentStatus.REFUNDED if refunded == paid else PaymentStatus.PARTIALLY_REFUNDED)
    elif paid == 0:
        assert result == PaymentStatus.UNPAID
    elif paid >= total:
        assert result == PaymentStatus.PAID
    else:
        assert result == PaymentStatus.PARTIALLY_PAID


def test_payment_status_examples():
    d = Decimal
    assert state.payment_status_for(d("100"), d("0"), d("0")) == PaymentStatus.UNPAID
    assert state.payment_status_for(d("100"), d("30"), d("0")) == PaymentStatus.PARTIALLY_PAID
    assert state.payment_status_for(d("100"), d("100"), d("0")) == PaymentStatus.PAID
    assert state.payment_status_for(d("100"), d("120"), d("0")) == PaymentStatus.PAID
    assert state.payment_status_for(d("100"), d("100"), d("40")) == PaymentStatus.PARTIALLY_REFUNDED
    assert state.payment_status_for(d("100"), d("100"), d("100")) == PaymentStatus.REFUNDED


# --- the whole matrix through the services ---------------------------------------------------------------


def build(source: str, target: str):
    """An order honestly in `source`, prepared so the guards of the move to `target` are satisfied."""
    kwargs = {"lines": None}
    if source == S.ON_HOLD:
        if target in RELEASE_TARGETS:
            kwargs["from_status"] = target
        elif target == S.CANCELLED:
            kwargs["from_status"] = S.AWAITING_SHIPMENT  # so the cancel has stock to release
    order = order_in_status(source, **kwargs)
    if target == S.CLOSED and (source, target) in LEGAL:
        order = refund_in_full(order)
    return order


def move(order, source: str, target: str, actor: Actor):
    """Attempt source → target through the verb a clerk would use for that target."""
    if source == target:
        return services.transition_order(order, target, actor=actor)
    if source == S.ON_HOLD and target in RELEASE_TARGETS:
        return services.release_hold(order, actor=actor, note="ok")
    if target == S.PENDING_REVIEW and source == S.PENDING_PAYMENT:
        return services.record_payment(order, amount=order.total, method=PaymentMethod.ALIPAY, actor=actor)
    if target == S.AWAITING_SHIPMENT:
        return services.confirm_order(order, actor=actor)
    if target == S.PARTIALLY_SHIPPED:
        first = order.lines.order_by("pk").first()
        return services.ship_order(
            order, carrier="SF", tracking_number="T1", quantities={first.pk: 1}, actor=actor
        )
    if target == S.SHIPPED:
        return services.ship_order(order, carrier="SF", tracking_number="T2", actor=actor)
    if target == S.DELIVERED:
        return services.mark_delivered(order, actor=actor)
    if target == S.COMPLETED:
        return services.complete_order(order, actor=actor)
    if target == S.ON_HOLD:
        return services.hold_order(order, kind=HoldKind.REVIEW, reason="check the address", actor=actor)
    if target == S.CANCELLED:
        return services.cancel_order(order, reason="buyer asked", actor=actor)
    if target == S.CLOSED:
        return services.close_order(order, reason="closed", actor=actor)
    return services.transition_order(order, target, actor=actor)


@pytest.fixture
def boss(db):
    """A user allowed everything, so only the state machine can refuse."""
    return UserFactory(username="boss", is_superuser=True)


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_service_matrix(source, target, boss):
    """Every (source, target) pair via the services: one STATUS_CHANGED event, or a refusal, no writes."""
    order = build(source, target)
    actor = Actor.for_user(boss)
    before = take_snapshot()
    changes = OrderEvent.objects.filter(order=order, type=EventType.STATUS_CHANGED)
    count = changes.count()
    if (source, target) in LEGAL:
        move(order, source, target, actor)
        order.refresh_from_db()
        assert order.status == target
        assert changes.count() == count + 1
        event = changes.order_by("-pk").first()
        assert (event.actor_kind, event.actor_user, event.actor_label) == (ActorKind.USER, boss, "boss")
        assert (event.data["source"], event.data["target"]) == (source, target)
        if target == S.ON_HOLD:
            assert order.held_from_status == source
        if source == S.ON_HOLD:
            assert (order.hold_kind, order.held_from_status) == ("", "") or target == S.CANCELLED
    else:
        with pytest.raises(TransitionNotAllowed) as refused:
            move(order, source, target, actor)
        assert refused.value.code == "transition_not_allowed"
        assert refused.value.field == "status"
        assert take_snapshot() == before
