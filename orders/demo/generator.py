"""The demo generator: master data, the plan of every order, then the orders written in batches."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from channels.models import Channel
from oms.actors import Actor
from oms.money import CENT
from orders.choices import (
    ExceptionReason,
    HoldKind,
    OrderType,
)
from orders.demo.builder import Built, OrderBuilder, clear_translation_cache
from orders.demo.planning import (
    CustomerSeed,
    Plan,
    chinese_name,
    cumulative,
    ean13,
    stage_path,
    street_address,
)
from orders.demo.reference import (
    AGE_MIX,
    BATCH,
    CANCEL_REASONS,
    CATALOGUE,
    CHANNELS,
    CLERKS,
    DURATIONS,
    EXCEPTIONS_FOR,
    HOUR_WEIGHTS,
    MIN_AGE_DAYS,
    REGIONS,
    TAGS,
    WAREHOUSES,
    WINDOW_DAYS,
    S,
)
from orders.demo.writing import RowWriter, historic_timestamps, progress_bar
from orders.models import (
    Customer,
    CustomerAddress,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Product,
    Shipment,
    ShipmentLine,
    StockLevel,
    Tag,
    Warehouse,
)
from orders.services.creation import reserve_order_numbers, restart_order_numbers
from orders.services.events import event_row


class DemoGenerator:
    """Generate and write demo data: `DemoGenerator(orders=1000, seed=42, today=date).run()`."""

    def __init__(self, *, orders: int, seed: int = 42, today: dt.date | None = None, progress: bool = False):
        self.count = orders
        self.seed = seed
        self.today = today or timezone.localdate()
        self.progress = progress
        self.rng = random.Random(seed)
        tz = timezone.get_current_timezone()
        self.as_of = dt.datetime.combine(self.today, dt.time.min, tzinfo=tz)
        self.stats: Counter = Counter()
        self.reserved: dict[tuple[int, int], int] = defaultdict(int)

    # -- master data ----------------------------------------------------------------------------------

    def _master_data(self) -> None:
        rng = self.rng
        self.warehouses = {}
        for code, name, province, city in WAREHOUSES:
            self.warehouses[code], _c = Warehouse.objects.get_or_create(
                code=code, defaults={"name": name, "province": province, "city": city}
            )
        self.channels = []
        for code, name, platform, _share in CHANNELS:
            channel, _c = Channel.objects.get_or_create(
                code=code, defaults={"name": name, "platform": platform}
            )
            self.channels.append(channel)
        self.channel_weights = [share for *_rest, share in CHANNELS]
        self.tags = {}
        for name, colour in TAGS:
            self.tags[name], _c = Tag.objects.get_or_create(name=name, defaults={"color": colour})
        user_model = get_user_model()
        self.clerks = []
        for username, display in CLERKS:
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user = user_model(username=username, first_name=display, is_staff=True)
                user.set_unusable_password()
                user.save()
            self.clerks.append(Actor.for_user(user))
        products = []
        for category, prefix, bases, variants in CATALOGUE:
            for b, (base, price) in enumerate(bases, start=1):
                for v, (suffix, factor) in enumerate(variants, start=1):
                    amount = price * factor
                    amount = round(amount) - 0.1 if amount < 100 and round(amount) > 1 else round(amount)
                    products.append(
                        Product(
                            sku=f"{prefix}-{b:03d}-{v:02d}",
                            name=f"{base} {suffix}",
                            category=category,
                            barcode=ean13(f"69{rng.randrange(10**10):010d}"),
                            price=Decimal(str(amount)).quantize(CENT),
                        )
                    )
        Product.objects.bulk_create(
            products,
            update_conflicts=True,
            unique_fields=["sku"],
            update_fields=["name", "category", "price"],
        )
        self.products = list(Product.objects.filter(sku__in=[p.sku for p in products]).order_by("sku"))
        ranks = list(range(len(self.products)))
        rng.shuffle(ranks)
        self.product_weights = [1 / (rank + 4) ** 0.9 for rank in ranks]
        self.product_cum = cumulative(self.product_weights)
        self.base_stock = {
            (p.pk, w.pk): rng.choice([0, 5, 30, 80, 150, 300, 600, 1200])
            for p in self.products
            for w in self.warehouses.values()
        }

    # -- phase 1 ----------------------------------------------------------------------------------------

    def _customers(self) -> list[CustomerSeed]:
        rng = self.rng
        provinces = list(REGIONS)
        province_cum = cumulative([REGIONS[p][1] for p in provinces])
        seen: set[str] = set()
        seeds = []
        for _i in range(max(30, int(self.count * 0.45))):
            name = chinese_name(rng)
            phone = ""
            while not phone or phone in seen:
                phone = rng.choice(["13", "15", "18", "17", "19"]) + str(rng.randrange(10**9)).zfill(9)
            seen.add(phone)
            email = (
                f"{phone[-8:]}@{rng.choice(['qq.com', '163.com', '126.com'])}" if rng.random() < 0.25 else ""
            )
            addresses = []
            for _a in range(1 if rng.random() < 0.8 else 2):
                province = rng.choices(provinces, cum_weights=province_cum)[0]
                city, postcode, districts = rng.choice(REGIONS[province][2])
                addresses.append((province, city, rng.choice(districts), street_address(rng), postcode))
            seeds.append(
                CustomerSeed(
                    name, phone, email, rng.choices(range(len(CHANNELS)), self.channel_weights)[0], addresses
                )
            )
        return seeds

    def _plans(self, customers: list[CustomerSeed]) -> list[Plan]:
        rng = self.rng
        days = range(1, WINDOW_DAYS + 1)
        # Growth towards today, weekend bump, and a sales event 30 days ago.
        day_weights = []
        for ago in days:
            day = self.today - dt.timedelta(days=ago)
            weight = 1.6 - ago / WINDOW_DAYS
            weight *= 1.25 if day.weekday() >= 5 else 1.0
            weight *= 3.0 if ago == 30 else 1.0
            day_weights.append(weight)
        day_cum, hour_cum = cumulative(day_weights), cumulative(HOUR_WEIGHTS)
        channel_cum = cumulative(self.channel_weights)
        plans = []
        for _i in range(self.count):
            ago = rng.choices(days, cum_weights=day_cum)[0]
            seconds = rng.choices(range(24), cum_weights=hour_cum)[0] * 3600 + rng.randrange(3600)
            placed = self.as_of - dt.timedelta(days=ago) + dt.timedelta(seconds=seconds)
            customer = rng.randrange(len(customers))
            plan = Plan(
                placed,
                rng.choices(range(len(CHANNELS)), cum_weights=channel_cum)[0],
                customer,
                rng.randrange(len(customers[customer].addresses)),
            )
            self._draw_status(plan)
            plans.append(plan)
        plans.sort(key=lambda p: p.placed_at)
        self._cover(plans)
        return plans

    def _draw_status(self, plan: Plan, status: str | None = None) -> None:
        """Choose the order's status from its age (or force `status`) and its stage timestamps."""
        rng = self.rng
        age = (self.as_of - plan.placed_at).total_seconds() / 86400
        if status is None:
            mix = next(weights for limit, weights in AGE_MIX if age < limit)
            status = rng.choices(list(mix), list(mix.values()))[0]
        plan.status, plan.path, plan.hold_kind, plan.held_from, plan.cancelled_from = status, "", "", "", ""
        plan.order_type = OrderType.NORMAL
        roll = rng.random()
        if roll < 0.03:
            plan.order_type = OrderType.PRESALE
        elif roll < 0.04:
            plan.order_type = OrderType.INSTALLMENT
        elif roll < 0.045:
            plan.order_type = OrderType.TRADE_IN
        if status == S.ON_HOLD:
            plan.hold_kind = rng.choices([HoldKind.REVIEW, HoldKind.FINANCE, HoldKind.DELAYED], [45, 40, 15])[
                0
            ]
            plan.held_from = (
                S.AWAITING_SHIPMENT
                if plan.hold_kind == HoldKind.DELAYED
                else rng.choice([S.PENDING_REVIEW, S.PENDING_REVIEW, S.AWAITING_SHIPMENT])
            )
        elif status == S.CANCELLED:
            plan.cancelled_from = rng.choices(list(CANCEL_REASONS), [50, 30, 20])[0]
        elif status == S.CLOSED:
            plan.path = "refund" if age > 3 and rng.random() < 0.4 else "timeout"
        elif status == S.SHIPPED and rng.random() < 0.05:
            plan.path = "split"
        stages = stage_path(status, plan.held_from, plan.cancelled_from, plan.path)
        durations = [rng.uniform(*DURATIONS[stage]) for stage in stages]
        room = (self.as_of - plan.placed_at).total_seconds() - 60
        if sum(durations) > room:
            durations = [d * room / sum(durations) for d in durations]
        moment, plan.stages = plan.placed_at, {}
        for stage, seconds in zip(stages, durations, strict=True):
            moment = moment + dt.timedelta(seconds=max(seconds, 1))
            plan.stages[stage] = moment
        plan.exception = ""
        if status in EXCEPTIONS_FOR and rng.random() < (0.12 if status != S.SHIPPED else 0.01):
            plan.exception = rng.choice(EXCEPTIONS_FOR[status])

    def _cover(self, plans: list[Plan]) -> None:
        """Make sure every status, both main hold kinds and every exception reason appear at least once."""

        counts = Counter(plan.status for plan in plans)

        def free(plan: Plan) -> bool:
            return not plan.forced and counts[plan.status] > 1

        def candidate(min_days: float) -> Plan | None:
            for plan in reversed(plans):
                if free(plan) and (self.as_of - plan.placed_at).days >= min_days:
                    return plan
            return next((plan for plan in reversed(plans) if free(plan)), None)

        def force(status: str, **extra) -> Plan | None:
            plan = candidate(MIN_AGE_DAYS.get(status, 0))
            if plan is not None:
                counts[plan.status] -= 1
                self._draw_status(plan, status)
                counts[status] += 1
                for name, value in extra.items():
                    setattr(plan, name, value)
                plan.forced = True
            return plan

        for status in S.values:
            if not counts[status]:
                force(status)
        kinds = {plan.hold_kind for plan in plans if plan.status == S.ON_HOLD}
        for kind in (HoldKind.REVIEW, HoldKind.FINANCE):
            if kind not in kinds:
                force(S.ON_HOLD, hold_kind=kind, held_from=S.PENDING_REVIEW)
        reasons = {plan.exception for plan in plans}
        for reason in ExceptionReason.values:
            if reason in reasons:
                continue
            statuses = [status for status, allowed in EXCEPTIONS_FOR.items() if reason in allowed]
            target = next((p for p in reversed(plans) if p.status in statuses and not p.exception), None)
            if target is None:
                target = force(statuses[0])
            if target is not None:
                target.exception = reason
                target.forced = True

    # -- phase 2 ----------------------------------------------------------------------------------------

    def run(self) -> Counter:
        """Write everything in one transaction; returns row counts per model (and per status)."""
        clear_translation_cache()
        with transaction.atomic(), historic_timestamps():
            self.writer = RowWriter()
            self._master_data()
            customers = self._customers()
            plans = self._plans(customers)
            customer_ids, address_use = self._write_customers(customers, plans)
            numbers = self._numbers(plans)
            progress = progress_bar(len(plans), self.progress)
            for start in range(0, len(plans), BATCH):
                chunk = plans[start : start + BATCH]
                self._write_orders(chunk, numbers[start : start + BATCH], customers, customer_ids)
                progress.update(len(chunk))
            progress.close()
            self._write_stock()
        return self.stats

    def _write_customers(self, customers: list[CustomerSeed], plans: list[Plan]) -> tuple[list[int], Counter]:
        first_seen: dict[int, dt.datetime] = {}
        uses: Counter = Counter()
        last_used: dict[tuple[int, int], dt.datetime] = {}
        for plan in plans:
            first_seen.setdefault(plan.customer, plan.placed_at)
            uses[(plan.customer, plan.address)] += 1
            last_used[(plan.customer, plan.address)] = plan.placed_at
        rows = [
            Customer(
                name=c.name,
                phone=c.phone,
                email=c.email,
                channel_id=self.channels[c.channel].pk,
                dedupe_key=f"phone:{c.phone}",
                created_at=first_seen.get(i, self.as_of),
            )
            for i, c in enumerate(customers)
        ]
        Customer.objects.bulk_create(
            rows,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["dedupe_key"],
            update_fields=["name"],
        )
        ids = [row.pk for row in rows]
        addresses = [
            CustomerAddress(
                customer_id=ids[i],
                receiver_name=c.name,
                receiver_phone=c.phone,
                province=a[0],
                city=a[1],
                district=a[2],
                street=a[3],
                postcode=a[4],
                use_count=uses[(i, n)],
                last_used_at=last_used.get((i, n)),
            )
            for i, c in enumerate(customers)
            for n, a in enumerate(c.addresses)
            if uses[(i, n)]
        ]
        CustomerAddress.objects.bulk_create(
            addresses,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=[
                "customer",
                "receiver_name",
                "receiver_phone",
                "province",
                "city",
                "district",
                "street",
            ],
            update_fields=["use_count", "last_used_at"],
        )
        self.stats["customers"] += len(rows)
        self.stats["addresses"] += len(addresses)
        return ids, uses

    def _numbers(self, plans: list[Plan]) -> list[str]:
        per_day = Counter(timezone.localdate(plan.placed_at) for plan in plans)
        restart_order_numbers()  # same seed, same numbers on an empty database
        numbers: list[str] = []
        for day in sorted(per_day):
            numbers.extend(reserve_order_numbers(day, per_day[day]))
        return numbers

    def _write_orders(
        self, plans: list[Plan], numbers: list[str], customers: list[CustomerSeed], customer_ids: list[int]
    ) -> None:
        built = [
            self._build(plan, number, customers[plan.customer], customer_ids[plan.customer])
            for plan, number in zip(plans, numbers, strict=True)
        ]
        writer = self.writer
        writer.write(Order, [b.order for b in built], ids=True)
        lines, shipments, payments, tags = [], [], [], []
        for b in built:
            for line in b.lines:
                line.order_id = b.order.pk
            lines.extend(b.lines)
            for shipment, _parts in b.shipments:
                shipment.order_id = b.order.pk
                shipments.append(shipment)
            for payment in b.payments:
                payment.order_id = b.order.pk
            payments.extend(b.payments)
            tags.extend(Order.tags.through(order_id=b.order.pk, tag_id=tag.pk) for tag in b.tags)
        writer.write(OrderLine, lines, ids=True)
        writer.write(Shipment, shipments, ids=True)
        writer.write(Payment, payments)
        writer.write(Order.tags.through, tags)
        shipment_lines, events = [], []
        for b in built:
            for shipment, parts in b.shipments:
                shipment_lines.extend(
                    ShipmentLine(shipment_id=shipment.pk, order_line_id=b.lines[index].pk, quantity=qty)
                    for index, qty in parts
                )
            for at, type_, actor, message, data in b.events:
                event = event_row(b.order.pk, type=type_, actor=actor, message=message, **data)
                event.created_at = at
                events.append(event)
            for line in b.lines:
                if line.quantity_reserved:
                    self.reserved[(line.product_id, b.order.warehouse_id)] += line.quantity_reserved
        writer.write(ShipmentLine, shipment_lines)
        writer.write(OrderEvent, events)
        for name, count in (
            ("orders", len(built)),
            ("lines", len(lines)),
            ("shipments", len(shipments)),
            ("shipment_lines", len(shipment_lines)),
            ("payments", len(payments)),
            ("order_tags", len(tags)),
            ("events", len(events)),
        ):
            self.stats[name] += count
        self.stats.update(f"status:{b.order.status}" for b in built)

    def _write_stock(self) -> None:
        existing = {(s.product_id, s.warehouse_id): s for s in StockLevel.objects.all()}
        new, changed = [], []
        for key, base in self.base_stock.items():
            reserved = self.reserved.get(key, 0)
            level = existing.get(key)
            if level is None:
                new.append(
                    StockLevel(
                        product_id=key[0], warehouse_id=key[1], on_hand=base + reserved, reserved=reserved
                    )
                )
            else:
                level.on_hand += base + reserved
                level.reserved += reserved
                changed.append(level)
        StockLevel.objects.bulk_create(new, batch_size=BATCH)
        StockLevel.objects.bulk_update(changed, ["on_hand", "reserved"], batch_size=BATCH)
        self.stats["stock_levels"] += len(new) + len(changed)

    def _build(self, plan: Plan, number: str, customer: CustomerSeed, customer_id: int) -> Built:
        return OrderBuilder(self, plan, number, customer, customer_id).build()
