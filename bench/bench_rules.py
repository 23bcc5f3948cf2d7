"""The rules engine: what 50 enabled rules cost on order creation, and a backtest over a million orders.

- `rules_order_creation`: orders/s through orders.services.create_order with 50 enabled 'order created' rules
  (conditions over order, address, customer-history, line and stock facts; none matches, so this is the
  price of gathering facts and evaluating in the creating transaction), against the same creation with no
  rules, in the same database.
- `rules_backtest`: seconds to backtest one rule (total above 5,000 and shipping to one of three provinces)
  over 1,000,000×scale orders on PostgreSQL, against a bare read of the same rows and columns.
"""

from __future__ import annotations

import time
from decimal import Decimal

from bench.common import BenchResult, bench_database

RULES = 50


def _setup_catalog():
    from orders.models import Product, StockLevel, Warehouse

    warehouse = Warehouse.objects.create(code="bench", name="Bench")
    products = Product.objects.bulk_create(
        [Product(sku=f"BR-{i}", name=f"Bench {i}", price=Decimal("99.00")) for i in range(20)]
    )
    StockLevel.objects.bulk_create(
        [StockLevel(product=product, warehouse=warehouse, on_hand=10**6) for product in products]
    )
    return warehouse, products


def _create_orders(count: int, warehouse, products, offset: int) -> float:
    """Create `count` orders through the service; returns orders/s."""
    from oms.actors import Actor
    from orders.services import LineInput, OrderInput, create_order

    actor = Actor.system("bench")
    started = time.perf_counter()
    for i in range(offset, offset + count):
        data = OrderInput(
            lines=[
                LineInput(sku=products[i % len(products)].sku, quantity=1 + i % 3),
                LineInput(sku=products[(i + 7) % len(products)].sku, quantity=1),
            ],
            buyer_name="张三",
            buyer_phone=f"138{i % 5000:08d}",
            receiver_name="张三",
            receiver_phone=f"138{i % 5000:08d}",
            province="浙江省",
            city="杭州市",
            district="西湖区",
            street="文三路 1 号",
            warehouse=warehouse,
        )
        create_order(data, actor=actor)
    return count / (time.perf_counter() - started)


def _make_rules() -> None:
    from rules.models import Rule
    from rules.services import save_rule

    templates = [
        lambda i: {"all": [{"fact": "order.total", "op": "gt", "value": str(100000 + i)}]},
        lambda i: {"all": [{"fact": "address.region", "op": "within", "value": [f"省{i}", "西藏"]}]},
        lambda i: {"all": [{"fact": "customer.orders_last_30_days", "op": "eq", "value": 500 + i}]},
        lambda i: {"any": [{"fact": "lines.sku", "op": "contains", "value": f"NOPE-{i}"}]},
        lambda i: {
            "all": [
                {"fact": "stock.any_line_short", "op": "is_true"},
                {"fact": "order.buyer_note", "op": "contains", "value": f"urgent {i}"},
            ]
        },
    ]
    for i in range(RULES):
        rule = Rule(
            name=f"bench rule {i}",
            trigger="order_created",
            conditions=templates[i % len(templates)](i),
            actions=[{"type": "add_tag", "params": {"tag": f"bench-{i}"}}],
            priority=i,
            enabled=True,
        )
        rule.full_clean()
        save_rule(rule)


_PROVINCES = ["浙江省", "西藏自治区", "新疆维吾尔自治区", "广东省", "青海省", "江苏省", "北京市"]


def _insert_orders(count: int) -> None:
    """Insert `count` orders in one INSERT … SELECT generate_series (PostgreSQL), spread over 300 days."""
    from django.db import connection
    from django.db.models import NOT_PROVIDED

    from orders.models import Order

    provinces = "ARRAY[" + ",".join(f"'{p}'" for p in _PROVINCES) + "]"
    expressions = {
        "number": "'BT' || lpad(g::text, 10, '0')",
        "total": "((g::bigint * 7919) %% 9000 + 1)::numeric",
        "subtotal": "((g::bigint * 7919) %% 9000 + 1)::numeric",
        "province": f"({provinces})[g %% {len(_PROVINCES)} + 1]",
        "city": "'某市'",
        "district": "'某区'",
        "receiver_name": "'张三'",
        "receiver_phone": "'13800000000'",
        "street": "'某路 1 号'",
        "placed_at": "now() - (g %% 432000) * interval '1 minute'",
        "created_at": "now()",
        "updated_at": "now()",
        "currency": "'CNY'",
    }
    columns, values = [], []
    for field in Order._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name in expressions:
            values.append(expressions[field.name])
        elif field.null:
            values.append("NULL")
        elif field.default is not NOT_PROVIDED:
            default = field.default() if callable(field.default) else field.default
            values.append(
                "0"
                if isinstance(default, int | Decimal) and not isinstance(default, bool)
                else f"'{default}'"
            )
        else:
            values.append("''")
    sql = (
        f"INSERT INTO {Order._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM generate_series(1, %s) AS g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [count])
        cursor.execute(f"ANALYZE {Order._meta.db_table}")


def _bare_read(days: int) -> float:
    """Seconds to read the same rows and columns in the same pk batches, without evaluating anything."""
    import datetime as dt

    from django.utils import timezone

    from orders.models import Order
    from rules.facts import _ORDER_FIELDS
    from rules.services import BACKTEST_BATCH

    started = time.perf_counter()
    orders = Order.objects.filter(placed_at__gte=timezone.now() - dt.timedelta(days=days))
    last = 0
    while True:
        rows = list(orders.filter(pk__gt=last).order_by("pk").values_list(*_ORDER_FIELDS)[:BACKTEST_BATCH])
        if not rows:
            break
        last = rows[-1][0]
    return time.perf_counter() - started


def run(scale: float) -> list[BenchResult]:
    """Order creation with and without 50 rules; a backtest over 1,000,000×scale orders."""
    from bench.common import postgres_admin_url

    postgres_admin_url()  # Skip early without PostgreSQL
    count = max(100, int(1000 * scale))
    backtest_orders = max(10_000, int(1_000_000 * scale))
    with bench_database():
        warehouse, products = _setup_catalog()
        _create_orders(20, warehouse, products, 0)  # warm-up
        plain = _create_orders(count, warehouse, products, 20)
        _make_rules()
        with_rules = _create_orders(count, warehouse, products, 20 + count)

        from orders.models import Order
        from rules.models import Rule, RuleRun
        from rules.services import backtest_rule

        assert not RuleRun.objects.exists(), "the benchmark rules are meant not to match"
        from django.db import connection

        with connection.cursor() as cursor:  # the backtest gets a table of its own generated orders
            cursor.execute(f"TRUNCATE {Order._meta.db_table} RESTART IDENTITY CASCADE")
        _insert_orders(backtest_orders)
        rule = Rule(
            conditions={
                "all": [
                    {"fact": "order.total", "op": "gt", "value": "5000"},
                    {
                        "fact": "address.province",
                        "op": "in",
                        "value": ["西藏自治区", "新疆维吾尔自治区", "青海省"],
                    },
                ]
            },
            actions=[{"type": "hold_for_review", "params": {"reason": "x"}}],
        )
        outcome = backtest_rule(rule, days=365)
        assert outcome.scanned == backtest_orders and not outcome.error, outcome
        bare = _bare_read(365)
    return [
        BenchResult(
            "rules_order_creation",
            round(with_rules, 1),
            "orders/s",
            "create_order without rules (orders/s)",
            round(plain, 1),
            note=f"{RULES} enabled rules, {count} orders each way, none matching",
        ),
        BenchResult(
            "rules_backtest",
            round(outcome.seconds, 2),
            "s",
            "bare read of the same rows in the same batches (s)",
            round(bare, 2),
            note=f"{outcome.scanned:,} orders scanned, {outcome.matched:,} matched",
        ),
    ]
