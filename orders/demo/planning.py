"""Phase 1 of the demo: the light per-order plan (time, status, stage timestamps) and text generators."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from orders.choices import (
    OrderType,
)
from orders.demo.reference import ESTATES, GIVEN, ROADS, SURNAMES, TOWERS, S

# --- Phase 1: the plan --------------------------------------------------------------------------------


@dataclass(slots=True)
class Plan:
    """One order's skeleton: when, where, who, its final status and the times it passed each stage."""

    placed_at: dt.datetime
    channel: int
    customer: int
    address: int
    status: str = S.COMPLETED
    path: str = ""
    stages: dict[str, dt.datetime] = field(default_factory=dict)
    hold_kind: str = ""
    held_from: str = ""
    cancelled_from: str = ""
    exception: str = ""
    order_type: str = OrderType.NORMAL
    forced: bool = False


@dataclass(slots=True)
class CustomerSeed:
    """A generated buyer with one or two addresses (province, city, district, street, postcode)."""

    name: str
    phone: str
    email: str
    channel: int
    addresses: list[tuple[str, str, str, str, str]]


def stage_path(status: str, held_from: str, cancelled_from: str, path: str) -> list[str]:
    """The stages an order in `status` went through, in order (names are keys of DURATIONS)."""
    happy = {
        S.PENDING_PAYMENT: [],
        S.PENDING_REVIEW: ["paid"],
        S.AWAITING_SHIPMENT: ["paid", "confirmed"],
        S.PARTIALLY_SHIPPED: ["paid", "confirmed", "shipped"],
        S.SHIPPED: ["paid", "confirmed", "shipped"],
        S.DELIVERED: ["paid", "confirmed", "shipped", "delivered"],
        S.COMPLETED: ["paid", "confirmed", "shipped", "delivered", "completed"],
    }
    if status in happy:
        stages = list(happy[status])
        if status == S.SHIPPED and path == "split":
            stages.append("shipped2")
        return stages
    if status == S.ON_HOLD:
        return [*happy[held_from], "held"]
    if status == S.CANCELLED:
        return [*happy[cancelled_from], "cancelled"]
    if path == "refund":
        return [*happy[S.COMPLETED], "returned"]
    return ["timeout"]


def cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def chinese_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def street_address(rng: random.Random) -> str:
    road = f"{rng.choice(ROADS)}{rng.randrange(1, 999)}号"
    if rng.random() < 0.2:
        return f"{road}{rng.choice(TOWERS)}{rng.randrange(2, 40)}楼{rng.randrange(1, 20):02d}室"
    return f"{road}{rng.choice(ESTATES)}{rng.randrange(1, 30)}栋{rng.randrange(1, 4)}单元{rng.randrange(1, 33)}0{rng.randrange(1, 5)}"


def ean13(twelve: str) -> str:
    """Append the EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(twelve))
    return twelve + str((10 - total % 10) % 10)
