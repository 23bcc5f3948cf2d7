"""Round trip: import real orders, export them (.xlsx and .csv, per line), import the export → identical orders."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.db import connection
from django.utils import translation

from orders.exporting import export_orders, order_columns
from orders.importing.apply import import_file
from orders.importing.headers import alias_field
from orders.models import Order, OrderEvent, OrderLine, Shipment
from orders.tests.factories import ChannelFactory
from orders.tests.importing_corpus import TODAY, sample, write_csv

pytestmark = pytest.mark.django_db

COMPARED = [
    f.attname
    for f in Order._meta.concrete_fields
    if f.attname not in ("id", "number", "created_at", "updated_at", "stock_status", "warehouse_id")
]
LINE_FIELDS = ("sku", "name", "quantity", "unit_price", "discount", "total")


def _rows(relative: str, count: int | None = None) -> list[list[str]]:
    with sample(relative).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows if count is None else rows[: count + 1]


def _state() -> dict:
    """Every order field and line by (channel, external id), as comparable values."""
    orders = {(o["channel_id"], o["external_id"]): o for o in Order.objects.values(*COMPARED)}
    lines: dict = {}
    for line in OrderLine.objects.order_by("pk").values(
        "order__channel_id", "order__external_id", *LINE_FIELDS
    ):
        key = (line.pop("order__channel_id"), line.pop("order__external_id"))
        lines.setdefault(key, []).append(line)
    shipments = set(Shipment.objects.values_list("order__external_id", "carrier", "tracking_number"))
    return {"orders": orders, "lines": lines, "shipments": shipments}


def _wipe_orders() -> None:
    """Delete every order (events are append-only for the ORM, so raw SQL in this test only)."""
    with connection.cursor() as cursor:
        for model in (OrderEvent, Shipment, OrderLine, Order):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")


@pytest.fixture
def seeded(tmp_path: Path) -> None:
    """Real orders: a Tmall report slice (no lines) and the Online Retail invoices (lines, buyers)."""
    ChannelFactory(code="tmall", name="天猫旗舰店")
    ChannelFactory(code="uk-shop", name="UK shop")
    tmall = write_csv(tmp_path / "tmall.csv", _rows("sheets/tmall_order_report.csv", 400))
    retail = write_csv(
        tmp_path / "retail.csv",
        [r for r in _rows("sheets/online-retail-2010-12-01.csv") if not r[3].startswith("-")],
    )
    assert import_file(tmall, channel="tmall", today=TODAY).created == 400
    assert import_file(retail, channel="uk-shop", today=TODAY).created == 136
    shipped = [
        ["订单编号", "渠道", "下单时间", "订单状态", "总金额", "物流公司", "物流单号", "买家留言"],
        ["S1", "tmall", "2024-01-02 10:00:05", "已发货", "9.90", "顺丰速运", "SF1", "'=1+1 请尽快发货"],
    ]
    assert import_file(write_csv(tmp_path / "s.csv", shipped), today=TODAY).created == 1


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_export_then_import_gives_identical_orders(seeded, tmp_path: Path, fmt: str, language: str) -> None:
    before = _state()
    path = tmp_path / f"orders.{fmt}"
    with translation.override(language), path.open("wb") as handle:
        rows = export_orders(Order.objects.all(), handle, fmt=fmt, per_line=True)
    assert rows == 400 + OrderLine.objects.count() + 1
    # the same file again: nothing to do
    again = import_file(path, today=TODAY)
    assert again.ok, again.errors[:3]
    assert (again.created, again.updated, again.skipped) == (0, 0, 537)
    # into an empty order book: the same orders, field by field
    _wipe_orders()
    result = import_file(path, today=TODAY)
    assert result.ok and result.created == 537, result.errors[:3]
    after = _state()
    assert after["orders"].keys() == before["orders"].keys()
    for key, expected in before["orders"].items():
        assert after["orders"][key] == expected, key
    assert after["lines"] == before["lines"]
    assert after["shipments"] == before["shipments"]


def test_per_order_export_reimports_unchanged(seeded, tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    with path.open("wb") as handle:
        export_orders(Order.objects.all(), handle, per_line=False)
    result = import_file(path, today=TODAY)
    assert result.ok and (result.created, result.updated) == (0, 0), result.errors[:3]
    not_imported = {str(c.header) for c in order_columns(per_line=False) if alias_field(c.header) is None}
    assert len(not_imported) == 6  # OMS number, payment and fulfilment status, currency, warehouse, items
    assert set(result.preview.plan.unknown_columns) == not_imported
