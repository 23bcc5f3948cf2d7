"""Writing import plans to the database: bulk, all or nothing, idempotent, corrected files update only changes.

Real samples (../shared/samples): a slice of the Tmall order report for most tests plus one full-file test,
the UCI Online Retail invoices (valid subset), GBK and .xlsx variants generated in tmp_path.
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oms.actors import ActorKind
from orders.choices import EventType, OrderStatus, PaymentStatus
from orders.importing.apply import import_file
from orders.importing.profile import ImportProfileSpec
from orders.models import Customer, Order, OrderEvent, OrderLine, Product, Shipment
from orders.tests.factories import ChannelFactory, order_in_status, stocked_product
from orders.tests.importing_corpus import TODAY, malformed_corpus, sample, write_csv, write_xlsx

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
TMALL = "sheets/tmall_order_report.csv"
RETAIL = "sheets/online-retail-2010-12-01.csv"
SLICE = 1500


def rows_of(relative: str) -> list[list[str]]:
    """The rows of a real sample CSV (header first)."""
    with sample(relative).open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def tmall_slice(tmp_path: Path, count: int = SLICE, encoding: str = "utf-8", name: str = "tmall.csv") -> Path:
    """The first ``count`` orders of the real Tmall report as a CSV in ``tmp_path``."""
    return write_csv(tmp_path / name, rows_of(TMALL)[: count + 1], encoding)


def counts() -> dict[str, int]:
    """Row counts of every table an import writes."""
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "events": OrderEvent.objects.count(),
        "customers": Customer.objects.count(),
        "products": Product.objects.count(),
        "shipments": Shipment.objects.count(),
    }


@pytest.fixture
def tmall(db):
    """The Tmall shop the report belongs to."""
    return ChannelFactory(code="tmall", name="天猫旗舰店")


@pytest.fixture
def uk_shop(db):
    """The UK web shop of the Online Retail invoices."""
    return ChannelFactory(code="uk-shop", name="UK shop", currency="CNY")


def run(path: Path, **kwargs):
    """Import with the tests' fixed 'today'."""
    kwargs.setdefault("channel", "tmall")
    return import_file(path, today=TODAY, **kwargs)


def test_tmall_slice_imports_orders_with_events(tmall, tmp_path: Path) -> None:
    rows = rows_of(TMALL)[1 : SLICE + 1]
    result = run(tmall_slice(tmp_path))
    assert result.ok and result.applied, result.errors[:3]
    assert (result.created, result.updated, result.skipped) == (SLICE, 0, 0)
    assert counts()["orders"] == SLICE
    assert Order.objects.filter(channel=tmall).count() == SLICE
    first = Order.objects.get(external_id="1")
    assert (first.total, first.province, first.status, first.payment_status) == (
        Decimal("178.80"),
        "上海",
        OrderStatus.PENDING_PAYMENT,
        PaymentStatus.UNPAID,
    )
    assert first.placed_at == datetime(2020, 2, 21, tzinfo=SH)
    assert first.number.startswith("SO200221")
    second = Order.objects.get(external_id="2")
    assert (second.paid_amount, second.payment_status, second.status) == (
        Decimal("21.00"),
        PaymentStatus.PAID,
        OrderStatus.AWAITING_SHIPMENT,
    )
    assert sum(o.total for o in Order.objects.all()) == sum(Decimal(r[1]) for r in rows)
    event = first.events.get()
    assert event.type == EventType.IMPORTED
    assert (event.actor_kind, event.actor_label) == (ActorKind.IMPORT, "tmall.csv")
    assert event.data["file"] == "tmall.csv" and event.data["rows"] == [2]
    assert "tmall.csv" in event.message and "row 2" in event.message
    assert OrderEvent.objects.filter(type=EventType.IMPORTED).count() == SLICE
    closed = Order.objects.filter(status=OrderStatus.CLOSED)
    assert closed.exists() and not closed.exclude(payment_status=PaymentStatus.REFUNDED).exists()


def test_reimport_changes_nothing(tmall, tmp_path: Path, snapshot) -> None:
    path = tmall_slice(tmp_path)
    run(path)
    before = snapshot()
    again = run(path)
    assert (again.created, again.updated, again.skipped) == (0, 0, SLICE)
    assert snapshot() == before


def test_corrected_file_updates_only_changed_orders(tmall, tmp_path: Path) -> None:
    rows = rows_of(TMALL)[: SLICE + 1]
    run(write_csv(tmp_path / "tmall.csv", rows))
    untouched = {o.pk: o.updated_at for o in Order.objects.exclude(external_id__in=["2", "5"])}
    corrected = [list(r) for r in rows]
    # order 2 refunded in full (-> closed, refunded), order 5's address corrected
    corrected[2][6] = corrected[2][2]
    corrected[5][3] = "浙江省"
    result = run(write_csv(tmp_path / "tmall-corrected.csv", corrected))
    assert (result.created, result.updated, result.skipped) == (0, 2, SLICE - 2), result.errors[:3]
    two = Order.objects.get(external_id="2")
    assert (two.status, two.payment_status, two.refunded_amount) == (
        OrderStatus.CLOSED,
        PaymentStatus.REFUNDED,
        Decimal("21.00"),
    )
    event = two.events.get(type=EventType.UPDATED)
    assert event.data["changes"]["status"] == ["awaiting_shipment", "closed"]
    assert event.data["file"] == "tmall-corrected.csv" and event.data["rows"] == [3]
    assert "awaiting_shipment → closed" in event.message
    five = Order.objects.get(external_id="5")
    assert five.province == "浙江省"
    assert five.events.get(type=EventType.UPDATED).data["changes"] == {"province": [rows[5][3], "浙江省"]}
    assert {o.pk: o.updated_at for o in Order.objects.exclude(external_id__in=["2", "5"])} == untouched
    assert OrderEvent.objects.filter(type=EventType.UPDATED).count() == 2


def test_file_with_errors_writes_nothing_unless_valid_only(tmall, tmp_path: Path, snapshot) -> None:
    rows = rows_of(TMALL)[:101]
    rows[10][4] = "2024-13-01"  # impossible date
    rows[20][1] = "九块九"  # not an amount
    path = write_csv(tmp_path / "tmall-bad.csv", rows)
    before = snapshot()
    result = run(path)
    assert result.refused and not result.applied
    assert [(e.row, e.column) for e in result.errors] == [(11, "订单创建时间"), (21, "总金额")]
    assert "row 11, column 订单创建时间: '2024-13-01' is not a date" in result.errors[0].message
    assert snapshot() == before
    workbook = result.error_workbook()
    assert workbook and workbook[:2] == b"PK"

    partial = run(path, valid_only=True)
    assert partial.applied and partial.created == 98 and len(partial.errors) == 2
    assert Order.objects.count() == 98
    assert not Order.objects.filter(external_id__in=[rows[10][0], rows[20][0]]).exists()


def test_dry_run_previews_and_writes_nothing(tmall, tmp_path: Path, snapshot) -> None:
    path = tmall_slice(tmp_path, 200)
    run(path)
    rows = rows_of(TMALL)[:301]
    rows[1][3] = "北京"
    before = snapshot()
    result = run(write_csv(tmp_path / "more.csv", rows), dry_run=True)
    assert (result.created, result.updated, result.skipped, result.applied) == (100, 1, 199, False)
    change = next(c for c in result.preview.changes if c.action == "update")
    assert change.changes == {"province": ("上海", "北京")} and change.number
    assert result.summary()["changes"][0]["changes"] == {"province": ["上海", "北京"]}
    assert snapshot() == before


def test_channel_by_name_and_unknown_channel(tmall, tmp_path: Path, snapshot) -> None:
    header = ["订单编号", "渠道", "下单时间", "总金额"]
    good = write_csv(tmp_path / "named.csv", [header, ["A1", "天猫旗舰店", "2024-01-02 10:00", "9.90"]])
    assert run(good, channel=None).created == 1
    assert Order.objects.get(external_id="A1").channel == tmall
    before = snapshot()
    bad = write_csv(
        tmp_path / "unknown.csv",
        [header, ["A2", "tmall", "2024-01-02 10:00", "9.90"], ["A3", "jd-shop", "2024-01-02 10:00", "5"]],
    )
    result = run(bad, channel=None)
    assert result.refused
    assert [e.message for e in result.errors] == [
        "row 3, column 渠道: unknown channel 'jd-shop': use a channel code or shop name from Channels, "
        "or create the channel first"
    ]
    assert snapshot() == before


def test_same_order_under_code_and_name_is_refused(tmall, tmp_path: Path) -> None:
    header = ["订单编号", "渠道", "下单时间", "总金额"]
    path = write_csv(
        tmp_path / "twice.csv",
        [
            header,
            ["A1", "tmall", "2024-01-02 10:00", "9.90"],
            ["A1", "天猫旗舰店", "2024-01-02 10:00", "9.90"],
        ],
    )
    result = run(path, channel=None)
    assert result.refused and result.errors[0].code == "duplicate_order"
    assert Order.objects.count() == 0


def test_online_retail_creates_products_customers_and_lines(uk_shop, tmp_path: Path) -> None:
    rows = [r for r in rows_of(RETAIL) if not r[3].startswith("-")]
    path = write_csv(tmp_path / "retail.csv", rows)
    result = run(path, channel="uk-shop")
    assert result.ok, result.errors[:3]
    invoices = {r[0] for r in rows[1:]}
    assert result.created == len(invoices) == 136
    assert OrderLine.objects.count() == len(rows) - 1
    skus = {r[1] for r in rows[1:]}
    assert result.new_products == Product.objects.count() == len(skus)
    buyers = {r[6] for r in rows[1:] if r[6]}
    assert Customer.objects.count() == result.new_customers == len(buyers)
    order = Order.objects.get(external_id="536365")
    assert order.lines.count() == 7 and order.customer.channel_buyer_id == "17850"
    expected = sum(Decimal(r[5]) * int(r[3]) for r in rows[1:] if r[0] == "536365")
    assert order.total == order.subtotal == expected.quantize(Decimal("0.01"))
    line = order.lines.get(sku="85123A")
    assert (line.quantity, line.unit_price, line.name) == (
        6,
        Decimal("2.55"),
        "WHITE HANGING HEART T-LIGHT HOLDER",
    )
    # idempotent with lines
    again = run(path, channel="uk-shop")
    assert (again.created, again.updated, again.skipped) == (0, 0, 136)


def test_unknown_sku_is_a_row_error_when_the_profile_says_so(uk_shop, tmp_path: Path) -> None:
    stocked_product(sku="KNOWN-1")
    path = write_csv(
        tmp_path / "skus.csv",
        [
            ["订单编号", "下单时间", "商家编码", "数量", "单价"],
            ["B1", "2024-01-02 10:00", "KNOWN-1", "1", "10"],
            ["B2", "2024-01-02 10:00", "NEW-9", "1", "10"],
        ],
    )
    refused = run(path, channel="uk-shop", create_unknown_skus=False)
    assert [e.code for e in refused.errors] == ["unknown_sku"]
    assert refused.errors[0].message.startswith("row 3, column 商家编码: unknown SKU 'NEW-9'")
    assert Order.objects.count() == 0
    created = run(path, channel="uk-shop")
    assert created.created == 2 and created.new_products == 1
    assert Product.objects.get(sku="NEW-9").price == Decimal("10.00")


def test_line_with_only_a_name_gets_a_stable_sku(uk_shop, tmp_path: Path) -> None:
    rows = [
        ["订单编号", "下单时间", "商品名称", "数量", "单价"],
        ["C1", "2024-01-02 10:00", "青花瓷杯", "2", "5"],
    ]
    run(write_csv(tmp_path / "a.csv", rows), channel="uk-shop")
    rows.append(["C2", "2024-01-03 10:00", "青花瓷杯", "1", "5"])
    run(write_csv(tmp_path / "b.csv", rows), channel="uk-shop")
    assert Product.objects.filter(name="青花瓷杯").count() == 1
    assert len({line.sku for line in OrderLine.objects.all()}) == 1


def test_changed_lines_of_a_historical_order_are_replaced(uk_shop, tmp_path: Path) -> None:
    header = ["订单编号", "下单时间", "商家编码", "数量", "单价"]
    run(
        write_csv(tmp_path / "a.csv", [header, ["D1", "2024-01-02 10:00", "S-1", "1", "10"]]),
        channel="uk-shop",
    )
    result = run(
        write_csv(tmp_path / "b.csv", [header, ["D1", "2024-01-02 10:00", "S-1", "3", "10"]]),
        channel="uk-shop",
    )
    assert result.updated == 1
    order = Order.objects.get(external_id="D1")
    assert [(ln.sku, ln.quantity) for ln in order.lines.all()] == [("S-1", 3)]
    assert order.total == Decimal("30.00")
    assert order.events.get(type=EventType.UPDATED).data["changes"]["lines"] == ["S-1×1", "S-1×3"]


def test_status_of_an_order_in_progress_is_not_overwritten(tmall, tmp_path: Path, snapshot) -> None:
    product = stocked_product(sku="TEE-1")
    order = order_in_status(
        OrderStatus.AWAITING_SHIPMENT, channel=tmall, external_id="E1", lines=[(product, 1)]
    )
    path = write_csv(
        tmp_path / "status.csv",
        [["订单编号", "下单时间", "订单状态", "总金额"], ["E1", "2024-01-02 10:00", "交易关闭", "10"]],
    )
    before = snapshot()
    result = run(path)
    assert [e.code for e in result.errors] == ["order_in_progress"]
    assert order.number in result.errors[0].message
    assert snapshot() == before


def test_tracking_number_creates_a_shipment_once(tmall, tmp_path: Path) -> None:
    rows = [
        ["订单编号", "下单时间", "订单状态", "总金额", "物流公司", "物流单号"],
        ["F1", "2024-01-02 10:00", "卖家已发货，等待买家确认", "10", "顺丰速运", "SF100"],
    ]
    assert run(write_csv(tmp_path / "s.csv", rows)).created == 1
    shipment = Shipment.objects.get()
    assert (shipment.carrier, shipment.tracking_number, shipment.order.status) == (
        "顺丰速运",
        "SF100",
        "shipped",
    )
    assert run(write_csv(tmp_path / "s.csv", rows)).skipped == 1
    assert Shipment.objects.count() == 1


def test_profile_default_status_applies_to_new_orders(tmall, tmp_path: Path) -> None:
    path = tmall_slice(tmp_path, 20)
    result = run(path, profile=ImportProfileSpec(default_status="completed"))
    assert result.created == 20
    assert set(Order.objects.values_list("status", flat=True)) == {"completed"}


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_tmall_slice_in_other_encodings(tmall, tmp_path: Path, encoding: str) -> None:
    result = run(tmall_slice(tmp_path, 500, encoding))
    assert result.ok and result.created == 500


def test_tmall_slice_as_xlsx(tmall, tmp_path: Path) -> None:
    rows = rows_of(TMALL)[:501]
    typed: list[list[object]] = [rows[0]]
    for r in rows[1:]:
        typed.append(
            [
                int(r[0]),
                float(r[1]),
                float(r[2]),
                r[3],
                datetime.fromisoformat(r[4]),
                datetime.fromisoformat(r[5]) if r[5] else None,
                float(r[6]),
            ]
        )
    result = run(write_xlsx(tmp_path / "tmall.xlsx", typed, title="订单报表"))
    assert result.ok and result.created == 500
    assert Order.objects.get(external_id="2").paid_at == datetime(2020, 2, 21, 0, 0, 2, tzinfo=SH)


def test_full_tmall_report(tmall) -> None:
    result = run(sample(TMALL))
    assert result.ok and result.created == 28010, result.errors[:3]
    assert Order.objects.count() == 28010
    assert OrderEvent.objects.filter(type=EventType.IMPORTED).count() == 28010
    assert dict(
        Order.objects.values_list("status").annotate(n=__import__("django").db.models.Count("id"))
    ) == {"awaiting_shipment": 18955, "closed": 5132, "pending_payment": 3923}


CORPUS = malformed_corpus()


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_malformed_corpus_is_refused_with_nothing_written(case, tmall, tmp_path: Path) -> None:
    path = case.make(tmp_path)
    before = counts()
    result = import_file(path, channel=case.plan_kwargs.get("default_channel", "tmall"), today=TODAY)
    assert result.refused, case.name
    assert any(case.expected in e.message for e in result.errors), [e.message for e in result.errors]
    assert counts() == before
