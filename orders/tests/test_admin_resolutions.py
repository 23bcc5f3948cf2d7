"""Suggested resolutions: history counted by the database, ranked by a pure scoring function."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.actors import Actor
from orders import services
from orders.choices import ExceptionReason
from orders.resolutions import (
    HistoryBucket,
    amount_band,
    rank_resolutions,
    resolution_history,
    suggest_resolutions,
    token_overlap,
    tokens,
)
from orders.tests.factories import ChannelFactory, make_order

ACTOR = Actor.system("tests")
R = ExceptionReason


def test_amount_bands():
    assert amount_band(Decimal("0")) == (Decimal("0"), Decimal("100"))
    assert amount_band(Decimal("499.99")) == (Decimal("100"), Decimal("500"))
    assert amount_band(Decimal("50000")) == (Decimal("10000"), None)


def test_token_overlap():
    assert tokens("Call buyer 地址") == frozenset({"call", "buyer", "地", "址"})
    assert token_overlap(tokens("no street number"), tokens("street number missing")) == 0.5
    assert token_overlap(frozenset(), tokens("x")) == 0.0


def test_ranking_prefers_similar_cases_that_worked():
    buckets = [
        HistoryBucket("release", False, False, False, cases=10, worked=9),
        HistoryBucket("edit_address", True, True, True, cases=4, worked=4),
        HistoryBucket("cancel", False, False, False, cases=6, worked=1),
        HistoryBucket("other", False, False, False, cases=1, worked=1),
    ]
    ranked = rank_resolutions(buckets)
    assert [s.resolution for s in ranked] == ["edit_address", "release", "cancel"]
    assert ranked[0].cases == 4 and ranked[0].success_percent == 100 and ranked[0].similar_cases == 4
    assert len(ranked) == 3


def test_note_overlap_can_tip_the_ranking():
    buckets = [
        HistoryBucket("release", False, False, False, 5, 5),
        HistoryBucket("split", False, False, False, 5, 5),
    ]
    assert rank_resolutions(buckets)[0].resolution == "release"  # tie broken by name
    assert rank_resolutions(buckets, {"split": 0.8})[0].resolution == "split"


def test_no_history_no_suggestions():
    assert rank_resolutions([]) == []


def flagged(reason=R.ADDRESS_INCOMPLETE, **fields):
    order = make_order(**fields)
    services.flag_exception(order, reason=reason, detail="street number missing", actor=ACTOR)
    order.refresh_from_db()
    return order


@pytest.mark.django_db
def test_history_counts_what_worked_per_matching_feature():
    channel = ChannelFactory()
    fixed = flagged(channel=channel)
    services.resolve_exception(fixed, resolution="edit_address", note="street number added", actor=ACTOR)
    refagged = flagged(channel=channel)
    services.resolve_exception(refagged, resolution="release", actor=ACTOR)
    services.flag_exception(refagged, reason=R.ADDRESS_INCOMPLETE, actor=ACTOR)  # came back: did not work
    cancelled = flagged(province="广东省")
    services.resolve_exception(cancelled, resolution="release", actor=ACTOR)
    services.cancel_order(cancelled, reason="gave up", actor=ACTOR)  # cancelled afterwards: did not work
    other_reason = flagged(reason=R.AMOUNT_ANOMALY)
    services.resolve_exception(other_reason, resolution="cancel", actor=ACTOR)

    current = flagged(channel=channel)
    buckets = resolution_history(current)
    by = {(b.resolution, b.same_channel, b.same_region): (b.cases, b.worked) for b in buckets}
    assert by[("edit_address", True, True)] == (1, 1)
    assert by[("release", True, True)] == (1, 0)
    assert by[("release", False, False)] == (1, 0)
    assert not any(b.resolution == "cancel" for b in buckets)
    suggestions = suggest_resolutions(current)
    assert suggestions[0].resolution == "edit_address" and suggestions[0].success_percent == 100
    assert {s.resolution for s in suggestions} == {"edit_address", "release"}


@pytest.mark.django_db
def test_an_order_without_exception_or_history_gets_nothing():
    assert suggest_resolutions(make_order()) == []
    assert suggest_resolutions(flagged()) == []
