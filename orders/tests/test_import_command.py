"""`manage.py import_orders`: imports, refuses with a non-zero exit and the row errors, dry runs, profiles."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from orders.models import ImportProfile, Order
from orders.tests.factories import ChannelFactory
from orders.tests.importing_corpus import sample, write_csv

pytestmark = pytest.mark.django_db

TMALL = "sheets/tmall_order_report.csv"


def _tmall(tmp_path: Path, count: int = 300) -> list[list[str]]:
    with sample(TMALL).open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[: count + 1]


def _call(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_orders", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def tmall(db):
    """The Tmall shop."""
    return ChannelFactory(code="tmall", name="天猫旗舰店")


def test_imports_and_reimport_is_a_no_op(tmall, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", _tmall(tmp_path))
    code, out, err = _call(str(path), "--channel", "tmall")
    assert code == 0, err
    assert "300 created" in out and Order.objects.count() == 300
    code, out, _err = _call(str(path), "--channel", "天猫旗舰店")
    assert code == 0 and "0 created, 0 updated, 300 unchanged" in out


def test_refused_file_exits_non_zero_with_row_errors(tmall, tmp_path: Path) -> None:
    rows = _tmall(tmp_path, 50)
    rows[5][1] = "abc"
    rows[9][4] = "2099-01-01 00:00:00"
    path = write_csv(tmp_path / "bad.csv", rows)
    out_xlsx = tmp_path / "errors.xlsx"
    code, _out, err = _call(str(path), "--channel", "tmall", "--errors", str(out_xlsx))
    assert code == 1
    assert "row 6, column 总金额: 'abc' is not an amount" in err
    assert "row 10, column 订单创建时间: '2099-01-01 00:00' is in the future" in err
    assert "refused: 2 errors, nothing imported" in err
    assert Order.objects.count() == 0
    sheet = load_workbook(out_xlsx).active
    assert [row[-1] for row in sheet.iter_rows(min_row=2, values_only=True)] == [6, 10]
    code, out, _err = _call(str(path), "--channel", "tmall", "--valid-only")
    assert code == 0 and "48 created" in out and Order.objects.count() == 48


def test_unknown_channel_is_refused(tmall, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", _tmall(tmp_path, 5))
    code, _out, err = _call(str(path), "--channel", "jd")
    assert code == 1 and "unknown channel 'jd'" in err


def test_dry_run_writes_nothing(tmall, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", _tmall(tmp_path, 20))
    code, out, _err = _call(str(path), "--channel", "tmall", "--dry-run")
    assert code == 0 and "20 to create" in out and Order.objects.count() == 0


def test_profile_by_name(tmall, tmp_path: Path) -> None:
    ImportProfile.objects.create(
        name="book", column_mapping={"单号X": "external_order_id"}, default_channel=tmall, day_first=True
    )
    path = write_csv(tmp_path / "p.csv", [["单号X", "下单时间", "总金额"], ["Z1", "03/04/2024 10:00", "5"]])
    code, _out, err = _call(str(path), "--profile", "book")
    assert code == 0, err
    assert Order.objects.get(external_id="Z1").placed_at.month == 4
    with pytest.raises(CommandError, match="unknown import profile 'nope'"):
        call_command("import_orders", str(path), "--profile", "nope")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_orders", str(tmp_path / "missing.csv"))
