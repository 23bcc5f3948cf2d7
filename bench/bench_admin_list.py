"""Admin order list at 1,000,000×scale orders on PostgreSQL: OrderAdmin against Django's default changelist.

Both configurations render the same list (same columns, filters, queryset) through
`ModelAdmin.changelist_view` with a RequestFactory request of a superuser, fully rendered, on the same data in
the same run. The comparison is a subclass of OrderAdmin with Django's defaults: `Paginator` (a full
`COUNT(*)`), `show_full_result_count = True` (a second `COUNT(*)`), no pinned exception ordering, and plain
`search_fields` matched with `icontains`.

Orders are generated with one `INSERT … SELECT generate_series` (the demo generator needs 10+ minutes for a
million orders): channel, warehouse, statuses, placed_at spread over 90 days, phones of repeat buyers,
receiver names, ~0.7% exception orders (5% of open ones), ~10% tagged, lines on 1% of the orders. VACUUM ANALYZE runs after loading: the state autovacuum
keeps a long-lived table in (visibility map set, so counts and deep pages read the indexes only).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from urllib.parse import urlencode

from bench.common import BenchResult, bench_database, percentile

TARGET_ORDERS = 1_000_000
TARGET_MS = 100
REPEATS = 15
"""Timed requests per scenario and configuration (after one warm-up), fewer when one request is slow."""
BUDGET_SECONDS = 40
"""Upper bound of the time spent on one scenario of one configuration."""

CHANNELS = ["tmall", "jd", "douyin", "pinduoduo", "wechat", "offline"]
WAREHOUSES = ["hz", "sh", "gz"]
TAGS = [("VIP", "red"), ("gift", "green"), ("fragile", "orange"), ("urgent", "red"), ("b2b", "blue")]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛"]
PLACES = [
    ("浙江省", "杭州市"),
    ("上海市", "上海市"),
    ("广东省", "广州市"),
    ("广东省", "深圳市"),
    ("北京市", "北京市"),
    ("江苏省", "南京市"),
    ("四川省", "成都市"),
    ("湖北省", "武汉市"),
]
EXCEPTIONS = ["address_incomplete", "payment_overdue", "stock_short", "suspected_duplicate", "amount_anomaly"]

# Cumulative share of each status (the rest is closed): a shop with 90 days of history.
STATUS_SHARES = [
    ("pending_payment", 0.02),
    ("pending_review", 0.05),
    ("awaiting_shipment", 0.13),
    ("on_hold", 0.135),
    ("partially_shipped", 0.14),
    ("shipped", 0.30),
    ("delivered", 0.45),
    ("completed", 0.92),
    ("cancelled", 0.98),
]


def _sql_array(values: list[str]) -> str:
    """A PostgreSQL text[] literal of trusted constants."""
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


def _default_literal(field) -> str:
    """SQL literal of a column the generator does not know (added later): NULL or the field's default."""
    if field.null:
        return "NULL"
    value = field.get_default()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return "'" + json.dumps(value).replace("'", "''") + "'::jsonb"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise RuntimeError(f"bench_admin_list: no generator for orders_order.{field.column}")


def _order_expressions(count: int, channel_ids: list[int], warehouse_ids: list[int], customers: int) -> dict:
    """SQL expression per orders_order column, over `s` (g, r1..r5 random) and `t` (placed_at)."""
    status = "CASE " + " ".join(f"WHEN s.r1 < {share} THEN '{name}'" for name, share in STATUS_SHARES)
    status += " ELSE 'closed' END"
    surnames = _sql_array(list(SURNAMES))
    given = _sql_array(GIVEN)
    provinces = _sql_array([p for p, _c in PLACES])
    cities = _sql_array([c for _p, c in PLACES])
    exceptions = _sql_array(EXCEPTIONS)
    place = f"(1 + (s.g * 7) % {len(PLACES)})"
    phone = "'138' || lpad(s.customer::text, 8, '0')"
    shipped = "s.r1 >= 0.135 AND s.r1 < 0.92"
    paid = "(s.r1 >= 0.02 AND s.r1 < 0.92 OR s.r1 >= 0.98)"
    exception = "s.r5 < 0.05 AND s.r1 < 0.135"
    refunded = "s.r1 >= 0.92 AND s.r1 < 0.98 AND s.r2 < 0.5"
    return {
        "id": "s.g",
        "number": "'SO' || to_char(t.placed_at AT TIME ZONE 'Asia/Shanghai', 'YYMMDD') "
        "|| lpad((s.g % 1000000)::text, 6, '0')",
        "channel_id": f"(ARRAY{channel_ids})[1 + s.g % {len(channel_ids)}]",
        "external_id": "'E' || s.g",
        "order_type": "'normal'",
        "status": status,
        "held_from_status": "CASE WHEN s.r1 >= 0.13 AND s.r1 < 0.135 THEN 'pending_review' ELSE '' END",
        "payment_status": f"CASE WHEN {paid} THEN 'paid' WHEN {refunded} THEN 'refunded' ELSE 'unpaid' END",
        "fulfillment_status": "CASE WHEN s.r1 >= 0.135 AND s.r1 < 0.14 THEN 'partially_fulfilled' "
        "WHEN s.r1 >= 0.14 AND s.r1 < 0.30 THEN 'fulfilled' "
        "WHEN s.r1 >= 0.30 AND s.r1 < 0.98 AND s.r1 < 0.92 THEN 'delivered' "
        "WHEN s.r1 >= 0.98 THEN 'delivered' ELSE 'unfulfilled' END",
        "stock_status": "CASE WHEN s.r1 >= 0.05 AND s.r1 < 0.135 THEN 'reserved' "
        f"WHEN {shipped} OR s.r1 >= 0.98 THEN 'deducted' "
        "WHEN s.r1 >= 0.92 THEN 'released' ELSE 'none' END",
        "customer_id": "s.customer",
        "warehouse_id": f"CASE WHEN s.r1 >= 0.05 THEN (ARRAY{warehouse_ids})"
        f"[1 + floor(s.r2 * {len(warehouse_ids)})::int] END",
        "currency": "'CNY'",
        "subtotal": "t.amount",
        "discount": "0",
        "shipping_fee": "0",
        "tax": "0",
        "total": "t.amount",
        "paid_amount": f"CASE WHEN {paid} OR {refunded} THEN t.amount ELSE 0 END",
        "refunded_amount": f"CASE WHEN {refunded} THEN t.amount ELSE 0 END",
        "buyer_name": f"({surnames})[1 + (s.customer * 13) % {len(SURNAMES)}] "
        f"|| ({given})[1 + (s.customer * 5) % {len(GIVEN)}]",
        "buyer_phone": phone,
        "buyer_email": "''",
        "receiver_name": f"({surnames})[1 + floor(s.r3 * {len(SURNAMES)})::int] "
        f"|| ({given})[1 + floor(s.r4 * {len(GIVEN)})::int]",
        "receiver_phone": f"CASE WHEN s.r4 < 0.8 THEN {phone} "
        "ELSE '139' || lpad(floor(s.r3 * 100000000)::bigint::text, 8, '0') END",
        "province": f"({provinces})[{place}]",
        "city": f"({cities})[{place}]",
        "district": "''",
        "street": "'文三路' || (1 + s.g % 500) || '号'",
        "postcode": "''",
        "buyer_note": "''",
        "seller_note": "''",
        "placed_at": "t.placed_at",
        "paid_at": f"CASE WHEN {paid} OR {refunded} THEN t.placed_at + interval '3 minutes' END",
        "shipped_at": f"CASE WHEN {shipped} THEN t.placed_at + interval '1 day' END",
        "delivered_at": "CASE WHEN s.r1 >= 0.30 AND s.r1 < 0.92 THEN t.placed_at + interval '3 days' END",
        "completed_at": "CASE WHEN s.r1 >= 0.45 AND s.r1 < 0.92 THEN t.placed_at + interval '10 days' END",
        "cancelled_at": "CASE WHEN s.r1 >= 0.92 AND s.r1 < 0.98 THEN t.placed_at + interval '1 hour' END",
        "cancel_reason": "CASE WHEN s.r1 >= 0.92 AND s.r1 < 0.98 THEN '买家取消' ELSE '' END",
        "hold_kind": "CASE WHEN s.r1 >= 0.13 AND s.r1 < 0.135 THEN 'review' ELSE '' END",
        "hold_reason": "CASE WHEN s.r1 >= 0.13 AND s.r1 < 0.135 THEN '核对地址' ELSE '' END",
        "held_at": "CASE WHEN s.r1 >= 0.13 AND s.r1 < 0.135 THEN t.placed_at + interval '1 hour' END",
        "exception_reason": f"CASE WHEN {exception} THEN ({exceptions})"
        f"[1 + floor(s.r2 * {len(EXCEPTIONS)})::int] ELSE '' END",
        "exception_detail": f"CASE WHEN {exception} THEN '需要处理' ELSE '' END",
        "exception_at": f"CASE WHEN {exception} THEN t.placed_at + interval '10 minutes' END",
        "created_at": "t.placed_at",
        "updated_at": "t.placed_at",
    }


def load_orders(count: int) -> dict:
    """Channels, warehouses, tags, products, customers, `count` orders, tags on ~10%, lines on 1%; VACUUM ANALYZE."""
    from django.db import connection

    from channels.models import Channel
    from orders.models import Order, OrderLine, Product, Tag, Warehouse

    warehouses = [
        Warehouse.objects.create(code=code, name=f"{code} 仓", province=p, city=c)
        for code, (p, c) in zip(WAREHOUSES, PLACES, strict=False)
    ]
    channels = [
        Channel.objects.create(
            code=code, name=f"{code} 旗舰店", platform=code, default_warehouse=warehouses[0]
        )
        for code in CHANNELS
    ]
    tags = [Tag.objects.create(name=name, color=color) for name, color in TAGS]
    products = Product.objects.bulk_create(
        [Product(sku=f"SKU{i:04d}", name=f"商品 {i}", price=f"{10 + i}.00") for i in range(50)]
    )
    customers = max(100, count // 3)
    expressions = _order_expressions(count, [c.pk for c in channels], [w.pk for w in warehouses], customers)
    fields = Order._meta.concrete_fields
    columns = [f.column for f in fields]
    select = ", ".join(expressions.get(f.column) or _default_literal(f) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2024)")
        cursor.execute(
            f"""
            INSERT INTO orders_customer (id, name, phone, email, channel_id, channel_buyer_id, dedupe_key,
                                         created_at)
            SELECT k, '客户' || k, '138' || lpad(k::text, 8, '0'), '', NULL, '',
                   'phone:138' || lpad(k::text, 8, '0'), now()
            FROM generate_series(1, {customers}) k
            """
        )
        cursor.execute(
            f"""
            INSERT INTO orders_order ({", ".join(columns)})
            SELECT {select}
            FROM (
                SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
                       1 + floor(random() * {customers})::int AS customer
                FROM generate_series(1, {count}) g
            ) s
            CROSS JOIN LATERAL (
                SELECT now() - interval '90 days' + (s.g - 1 + s.r3) * (interval '90 days' / {count})
                           AS placed_at,
                       round((20 + s.r4 * 480)::numeric, 2) AS amount
            ) t
            """
        )
        through = Order.tags.through._meta
        cursor.execute(
            f"""
            INSERT INTO {through.db_table} (order_id, tag_id)
            SELECT id, (ARRAY{[t.pk for t in tags]})[1 + (id / 10) % {len(tags)}]
            FROM orders_order WHERE id % 10 = 3
            """
        )
        line_columns = {f.column for f in OrderLine._meta.concrete_fields}
        line_values = {
            "order_id": "o.id",
            "product_id": f"(ARRAY{[p.pk for p in products]})[1 + o.id % {len(products)}]",
            "sku": "'SKU' || lpad((o.id % 50)::text, 4, '0')",
            "name": "'商品'",
            "quantity": "1",
            "unit_price": "o.total",
            "discount": "0",
            "total": "o.total",
            "quantity_reserved": "0",
            "quantity_shipped": "0",
            "external_line_id": "''",
        }
        chosen = [c for c in line_values if c in line_columns]
        if line_columns - set(chosen) - {"id"}:
            raise RuntimeError(f"bench_admin_list: no generator for lines {line_columns - set(chosen)}")
        cursor.execute(
            f"INSERT INTO orders_orderline ({', '.join(chosen)}) "
            f"SELECT {', '.join(line_values[c] for c in chosen)} FROM orders_order o WHERE o.id % 100 = 7"
        )
        for table in ("orders_order", "orders_customer"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT number, buyer_phone FROM orders_order WHERE id = %s", [count // 2])
        number, phone = cursor.fetchone()
    return {"channel": channels[1], "number": number, "phone": phone}


def _admins():
    """(OrderAdmin as shipped, the same list with Django's default changelist configuration)."""
    from django.contrib import admin
    from django.core.paginator import Paginator

    from orders.admin import OrderAdmin
    from orders.models import Order

    class DefaultOrderAdmin(OrderAdmin):
        """Django's defaults: full COUNT(*) paginator, full result count, no pinning, icontains search."""

        pin_exceptions = False
        paginator = Paginator
        show_full_result_count = True
        search_fields = ("number", "external_id", "buyer_phone", "receiver_phone", "receiver_name")
        get_search_results = admin.ModelAdmin.get_search_results

    return OrderAdmin(Order, admin.site), DefaultOrderAdmin(Order, admin.site)


def _request(user, params: dict):
    """A GET of the order changelist with `params`, as `user`, with a session and message storage."""
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.signed_cookies import SessionStore
    from django.test import RequestFactory
    from django.urls import resolve, reverse

    path = reverse("admin:orders_order_changelist")
    request = RequestFactory().get(path + ("?" + urlencode(params) if params else ""))
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    request.resolver_match = resolve(path)
    return request


def _render(model_admin, user, params: dict) -> tuple[float, int]:
    """Seconds to build and fully render one changelist page, and the page's size in bytes."""
    started = time.perf_counter()
    response = model_admin.changelist_view(_request(user, params))
    response.render()
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"changelist {params} answered {response.status_code}")
    return elapsed, len(response.content)


def _measure(model_admin, user, params: dict) -> dict:
    """Warm-up, then up to REPEATS timed renders (within BUDGET_SECONDS): median, p95, queries, bytes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        _elapsed, size = _render(model_admin, user, params)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < REPEATS and (len(times) < 3 or time.perf_counter() - started < BUDGET_SECONDS):
        times.append(_render(model_admin, user, params)[0])
    return {
        "median": percentile(times, 50) * 1000,
        "p95": percentile(times, 95) * 1000,
        "queries": len(queries),
        "bytes": size,
        "runs": len(times),
    }


def run(scale: float) -> list[BenchResult]:
    """Load 1,000,000×scale orders, then time six list scenarios in both configurations."""
    count = max(10_000, int(TARGET_ORDERS * scale))
    with bench_database():
        from django.contrib.auth import get_user_model
        from django.utils import translation

        started = time.perf_counter()
        data = load_orders(count)
        load_seconds = time.perf_counter() - started
        user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
        deep = min(1000, count // 100)  # page 1000 exists from 50,000 orders on
        scenarios = [
            ("first_page", "first page", {}),
            (
                "filtered",
                f"status=awaiting_shipment&channel={data['channel'].code}",
                {"status__exact": "awaiting_shipment", "channel__id__exact": data["channel"].pk},
            ),
            ("phone_search", "phone search (full number)", {"q": data["phone"]}),
            ("phone_tail_search", "phone search (last 4 digits)", {"q": data["phone"][-4:]}),
            ("number_search", "order number search", {"q": data["number"]}),
            ("deep_page", f"page {deep}", {"p": deep}),
        ]
        oms_admin, default_admin = _admins()
        figures = {}
        with translation.override("zh-hans"):
            for key, _label, params in scenarios:
                figures[key] = (_measure(oms_admin, user, params), _measure(default_admin, user, params))

    note_base = f"{count:,} orders (loaded in {load_seconds:.0f} s), rendered changelist"
    results = []
    target = f"≤ {TARGET_MS} ms median at {TARGET_ORDERS:,} orders"
    for key, label, _params in scenarios:
        oms, default = figures[key]
        note = (
            f"{label}; {note_base}; OrderAdmin p95 {oms['p95']:.0f} ms, {oms['queries']} queries, "
            f"{oms['runs']} runs; Django default p95 {default['p95']:.0f} ms, {default['queries']} queries, "
            f"{default['runs']} runs"
        )
        if key == "deep_page":
            note += "; CappedPaginator clamps past 10,000 rows to page 200, the default pages with OFFSET"
        results.append(
            BenchResult(
                f"admin_list_{key}_median",
                round(oms["median"], 1),
                "ms",
                "Django default changelist median",
                round(default["median"], 1),
                target,
                note,
            )
        )
        results.append(
            BenchResult(
                f"admin_list_{key}_p95",
                round(oms["p95"], 1),
                "ms",
                "Django default changelist p95",
                round(default["p95"], 1),
                "",
                label,
            )
        )
    return results
