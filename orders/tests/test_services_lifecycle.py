"""Lifecycle verbs: hold and release (finance review), cancel, close, exceptions, notes; their refusals."""

from __future__ import annotations

import pytest

from oms.actors import Actor, ActorKind
from oms.errors import OMSError, TransitionNotAllowed, ValidationFailed
from orders import services
from orders.choices import EventType, ExceptionReason, HoldKind, OrderStatus, PaymentStatus
from orders.models import OrderEvent
from orders.tests.factories import (
    ADDRESS,
    TEST_ACTOR,
    UserFactory,
    group_with_perms,
    order_in_status,
    stocked_product,
)

S = OrderStatus
pytestmark = pytest.mark.django_db


def event_types(order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).order_by("pk").values_list("type", flat=True))


def test_hold_records_kind_reason_and_previous_status(clerk_actor):
    order = order_in_status(S.AWAITING_SHIPMENT)
    services.hold_order(order, kind=HoldKind.REVIEW, reason="address looks wrong", actor=clerk_actor)
    order.refresh_from_db()
    assert (order.status, order.held_from_status, order.hold_kind, order.hold_reason) == (
        S.ON_HOLD,
        S.AWAITING_SHIPMENT,
        HoldKind.REVIEW,
        "address looks wrong",
    )
    assert order.held_at is not None and order.is_held
    assert event_types(order)[-2:] == [EventType.STATUS_CHANGED, EventType.HOLD_SET]
    hold_set = OrderEvent.objects.get(order=order, type=EventType.HOLD_SET)
    assert (hold_set.actor_kind, hold_set.actor_label, hold_set.data) == (
        ActorKind.USER,
        "clerk",
        {"kind": "review"},
    )


def test_release_returns_to_the_previous_status_and_clears_the_hold(clerk_actor):
    order = order_in_status(S.ON_HOLD, from_status=S.AWAITING_SHIPMENT)
    services.release_hold(order, actor=clerk_actor, note="address confirmed by phone")
    order.refresh_from_db()
    assert order.status == S.AWAITING_SHIPMENT
    assert (order.held_from_status, order.hold_kind, order.hold_reason, order.held_at) == ("", "", "", None)
    released = OrderEvent.objects.get(order=order, type=EventType.HOLD_RELEASED)
    assert (released.message, released.data) == ("address confirmed by phone", {"kind": "review"})
    changed = OrderEvent.objects.filter(order=order, type=EventType.STATUS_CHANGED).order_by("-pk").first()
    assert changed.data["released_kind"] == "review"
    assert changed.data["released_reason"] == "held for tests"


def test_release_of_an_order_not_on_hold(clerk_actor, snapshot):
    order = order_in_status(S.PENDING_REVIEW)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.release_hold(order, actor=clerk_actor)
    assert (refused.value.code, refused.value.field) == ("not_on_hold", "status")
    assert snapshot() == before


def test_finance_hold_needs_finance_permission(clerk, snapshot):
    order = order_in_status(S.ON_HOLD, hold_kind=HoldKind.FINANCE)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.release_hold(order, actor=Actor.for_user(clerk))
    assert (refused.value.code, refused.value.field) == ("finance_permission_required", "status")
    with pytest.raises(TransitionNotAllowed):
        services.release_hold(order, actor=Actor.api(clerk))
    assert snapshot() == before


def test_finance_hold_released_by_finance(finance_user):
    order = order_in_status(S.ON_HOLD, hold_kind=HoldKind.FINANCE)
    services.release_hold(order, actor=Actor.for_user(finance_user))
    order.refresh_from_db()
    assert order.status == S.PENDING_REVIEW


def test_finance_permission_through_a_group():
    finance = group_with_perms("Finance", ["orders.finance_review_order"])
    user = UserFactory(username="accountant", groups=[finance])
    order = order_in_status(S.ON_HOLD, hold_kind=HoldKind.FINANCE)
    services.release_hold(order, actor=Actor.for_user(user))
    order.refresh_from_db()
    assert order.status == S.PENDING_REVIEW


def test_a_review_hold_needs_no_finance_permission(clerk):
    order = order_in_status(S.ON_HOLD, hold_kind=HoldKind.REVIEW)
    services.release_hold(order, actor=Actor.for_user(clerk))
    order.refresh_from_db()
    assert order.status == S.PENDING_REVIEW


def test_confirm_cannot_release_a_hold(finance_user, snapshot):
    """confirm_order must not sneak a held order past release_hold (and its finance check)."""
    order = order_in_status(S.ON_HOLD, from_status=S.AWAITING_SHIPMENT, hold_kind=HoldKind.FINANCE)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.confirm_order(order, actor=Actor.for_user(finance_user))
    assert refused.value.code == "release_required"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("source", "target", "verb"),
    [
        (S.PENDING_REVIEW, S.ON_HOLD, "hold_order"),
        (S.ON_HOLD, S.PENDING_REVIEW, "release_hold"),
        (S.PENDING_REVIEW, S.AWAITING_SHIPMENT, "confirm_order"),
        (S.AWAITING_SHIPMENT, S.SHIPPED, "ship_order"),
        (S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED, "ship_order"),
        (S.SHIPPED, S.DELIVERED, "mark_delivered"),
        (S.AWAITING_SHIPMENT, S.CANCELLED, "cancel_order"),
        (S.PENDING_PAYMENT, S.CLOSED, "close_order"),
    ],
)
def test_transition_order_refuses_moves_that_have_a_verb(source, target, verb, snapshot):
    """The generic door cannot skip stock moves, shipments, hold details or the finance check."""
    order = order_in_status(source, hold_kind=HoldKind.FINANCE)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.transition_order(order, target, actor=TEST_ACTOR)
    assert (refused.value.code, refused.value.params["verb"]) == ("verb_required", verb)
    assert snapshot() == before


def test_transition_order_moves_without_side_effects():
    order = order_in_status(S.DELIVERED)
    services.transition_order(order, S.COMPLETED, actor=Actor.channel("tmall"), message="trade finished")
    order.refresh_from_db()
    assert order.status == S.COMPLETED and order.completed_at is not None
    event = OrderEvent.objects.filter(order=order, type=EventType.STATUS_CHANGED).order_by("-pk").first()
    assert (event.actor_kind, event.actor_label, event.message) == (
        ActorKind.CHANNEL,
        "tmall",
        "trade finished",
    )


def test_transition_to_review_needs_payment(snapshot):
    order = order_in_status(S.PENDING_PAYMENT)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.transition_order(order, S.PENDING_REVIEW, actor=TEST_ACTOR)
    assert refused.value.code == "payment_required"
    assert snapshot() == before


def test_release_to_a_paid_pending_payment_order():
    """An order paid while held (from pending payment) moves on to review when released."""
    order = order_in_status(S.ON_HOLD, from_status=S.PENDING_PAYMENT)
    services.record_payment(order, amount=order.total, method="alipay", actor=TEST_ACTOR)
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (S.ON_HOLD, PaymentStatus.PAID)
    services.release_hold(order, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.status == S.PENDING_REVIEW
    moves = [e.data["target"] for e in order.events.filter(type=EventType.STATUS_CHANGED).order_by("pk")]
    assert moves[-2:] == [S.PENDING_PAYMENT, S.PENDING_REVIEW]


def test_release_of_an_unpaid_order_stays_pending_payment():
    order = order_in_status(S.ON_HOLD, from_status=S.PENDING_PAYMENT)
    services.release_hold(order, actor=TEST_ACTOR)
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT


def test_a_rule_cannot_release_a_finance_hold():
    order = order_in_status(S.ON_HOLD, hold_kind="finance")
    with pytest.raises(TransitionNotAllowed) as refused:
        services.release_hold(order, actor=Actor.rule("auto release"))
    assert refused.value.code == "finance_permission_required"


def test_zero_total_order_is_paid_and_goes_to_review():
    product = stocked_product()
    order = services.create_order(
        services.OrderInput(
            lines=[services.LineInput(sku=product.sku, quantity=1, unit_price="0")], **ADDRESS
        ),
        actor=TEST_ACTOR,
    )
    assert (order.status, order.payment_status) == (S.PENDING_REVIEW, PaymentStatus.PAID)


def test_close_needs_a_reason():
    order = order_in_status(S.PENDING_PAYMENT)
    with pytest.raises(ValidationFailed) as refused:
        services.close_order(order, reason=" ", actor=TEST_ACTOR)
    assert (refused.value.code, refused.value.field) == ("reason_required", "reason")


def test_cancel_records_reason_and_time(clerk_actor):
    order = order_in_status(S.PENDING_REVIEW)
    services.cancel_order(order, reason="buyer asked", actor=clerk_actor)
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (S.CANCELLED, "buyer asked")
    assert order.cancelled_at is not None
    event = OrderEvent.objects.filter(order=order, type=EventType.STATUS_CHANGED).order_by("-pk").first()
    assert event.data == {"source": S.PENDING_REVIEW, "target": S.CANCELLED, "reason": "buyer asked"}


def test_cancel_after_a_hold_that_began_after_shipping_is_refused(snapshot):
    order = order_in_status(S.ON_HOLD, from_status=S.PARTIALLY_SHIPPED)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.cancel_order(order, reason="too late", actor=TEST_ACTOR)
    assert refused.value.code == "transition_not_allowed"
    assert snapshot() == before


def test_close_refuses_a_paid_order(snapshot):
    order = order_in_status(S.SHIPPED)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.close_order(order, reason="lost", actor=TEST_ACTOR)
    assert refused.value.code == "refund_required"
    assert snapshot() == before


def test_close_an_unpaid_order():
    order = order_in_status(S.PENDING_PAYMENT)
    services.close_order(order, reason="payment timed out", actor=Actor.system("scheduler"))
    order.refresh_from_db()
    assert order.status == S.CLOSED
    event = OrderEvent.objects.filter(order=order, type=EventType.STATUS_CHANGED).get()
    assert (event.actor_kind, event.actor_label, event.message) == (
        ActorKind.SYSTEM,
        "scheduler",
        "payment timed out",
    )


def test_delivered_and_completed_stamp_their_times():
    order = order_in_status(S.COMPLETED)
    assert order.delivered_at is not None and order.completed_at is not None
    assert order.fulfillment_status == "delivered"


BAD = [
    ("cancel_order", {"reason": ""}, ValidationFailed, "reason_required", "reason"),
    ("cancel_order", {"reason": "   "}, ValidationFailed, "reason_required", "reason"),
    ("hold_order", {"kind": HoldKind.REVIEW, "reason": ""}, ValidationFailed, "reason_required", "reason"),
    ("hold_order", {"kind": "nap", "reason": "tired"}, ValidationFailed, "invalid_choice", "kind"),
    ("flag_exception", {"reason": "gremlins"}, ValidationFailed, "invalid_choice", "reason"),
    ("resolve_exception", {"resolution": ""}, ValidationFailed, "reason_required", "resolution"),
    ("resolve_exception", {"resolution": "fixed"}, OMSError, "no_exception", None),
    ("add_note", {"text": "  "}, ValidationFailed, "required", "text"),
]


@pytest.mark.parametrize(
    ("verb", "kwargs", "error", "code", "field"), BAD, ids=[f"{r[0]}:{r[3]}" for r in BAD]
)
def test_lifecycle_bad_input(verb, kwargs, error, code, field, snapshot):
    order = order_in_status(S.AWAITING_SHIPMENT)
    before = snapshot()
    with pytest.raises(error) as refused:
        getattr(services, verb)(order, actor=TEST_ACTOR, **kwargs)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert snapshot() == before


def test_exceptions_are_flagged_and_resolved(clerk_actor):
    order = order_in_status(S.PENDING_REVIEW)
    services.flag_exception(
        order, reason=ExceptionReason.ADDRESS_INCOMPLETE, actor=Actor.rule("address check")
    )
    order.refresh_from_db()
    assert order.exception_reason == ExceptionReason.ADDRESS_INCOMPLETE
    assert order.exception_detail == str(ExceptionReason.ADDRESS_INCOMPLETE.label)
    assert order.exception_at is not None
    flagged = OrderEvent.objects.get(order=order, type=EventType.EXCEPTION_FLAGGED)
    assert (flagged.actor_kind, flagged.actor_label, flagged.data) == (
        ActorKind.RULE,
        "address check",
        {"reason": "address_incomplete"},
    )
    services.resolve_exception(order, resolution="called buyer", note="street added", actor=clerk_actor)
    order.refresh_from_db()
    assert (order.exception_reason, order.exception_detail, order.exception_at) == ("", "", None)
    resolved = OrderEvent.objects.get(order=order, type=EventType.EXCEPTION_RESOLVED)
    assert resolved.data == {"reason": "address_incomplete", "resolution": "called buyer"}
    assert resolved.message == "street added"


def test_notes_are_events(clerk, clerk_actor):
    order = order_in_status(S.PENDING_PAYMENT)
    services.add_note(order.pk, text="  buyer wants a gift wrap  ", actor=clerk_actor)
    note = OrderEvent.objects.get(order=order, type=EventType.NOTE_ADDED)
    assert (note.message, note.actor_user, note.actor_label) == ("buyer wants a gift wrap", clerk, "clerk")
