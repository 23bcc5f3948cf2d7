"""Test helpers for the spreadsheet import: the real samples (outside the repo), malformed files.

Real samples live in ``../shared/samples`` from the project root (override with ``OMS_SAMPLES_DIR``).
When they are missing, tests skip with the reason, or fail when ``OMS_REQUIRE_ALL_TESTS=1``.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from orders.importing.plan import build_import_plan
from orders.importing.readers import FileRefused, ReadLimits, read_table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2024, 6, 1)


def require(condition: bool, reason: str) -> None:
    """Skip the test with ``reason`` unless ``condition``; fail instead under ``OMS_REQUIRE_ALL_TESTS=1``."""
    if condition:
        return
    if os.environ.get("OMS_REQUIRE_ALL_TESTS") == "1":
        pytest.fail(f"{reason} (OMS_REQUIRE_ALL_TESTS=1)")
    pytest.skip(reason)


def samples_dir() -> Path:
    """The shared real-sample folder, or skip/fail with a visible reason."""
    path = Path(os.environ.get("OMS_SAMPLES_DIR", PROJECT_ROOT.parent / "shared" / "samples"))
    require(path.is_dir(), f"real samples not found at {path} (expected ../shared/samples)")
    return path


def sample(relative: str) -> Path:
    """One real sample file, e.g. ``sheets/tmall_order_report.csv``, or skip/fail."""
    path = samples_dir() / relative
    require(path.is_file(), f"real sample {relative} not found in {path.parent}")
    return path


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    """Write rows as CSV in the given encoding (as Excel would save them)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[Any]], title: str = "Sheet1") -> Path:
    """Write rows to an .xlsx with openpyxl (test fixtures only; the importer reads with calamine)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def refusal_messages(path: Path, *, limits: ReadLimits | None = None, **plan_kwargs: Any) -> list[str]:
    """Read and plan a file; return the messages that refuse it (empty when it would import)."""
    try:
        table = read_table(path, limits=limits) if limits else read_table(path)
    except FileRefused as exc:
        return [exc.message]
    plan_kwargs.setdefault("default_channel", "manual")
    plan_kwargs.setdefault("today", TODAY)
    plan = build_import_plan(table, **plan_kwargs)
    return [error.message for error in plan.errors]


@dataclass
class MalformedCase:
    """One malformed file and a fragment that its refusal message must contain."""

    name: str
    make: Callable[[Path], Path]
    expected: str
    limits: ReadLimits | None = None
    plan_kwargs: dict[str, Any] = field(default_factory=dict)


HEADER = ["订单编号", "下单时间", "商品名称", "数量", "单价"]


def _csv(name: str, rows: list[list[Any]], encoding: str = "utf-8") -> Callable[[Path], Path]:
    return lambda d: write_csv(d / name, rows, encoding)


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(data)
        return path

    return make


def _xlsx(name: str, rows: list[list[Any]]) -> Callable[[Path], Path]:
    return lambda d: write_xlsx(d / name, rows)


def _big_file(directory: Path) -> Path:
    path = directory / "fifty_mb.csv"
    with path.open("wb") as handle:  # sparse: costs nothing, refused by size before reading
        handle.write("订单编号,下单时间\n".encode())
        handle.truncate(50 * 1024 * 1024 + 1)
    return path


def _zip_of_csv(directory: Path) -> Path:
    path = directory / "orders.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("orders.csv", "订单编号,下单时间\n1,2024-01-01\n")
    return path


def _zip_bomb(directory: Path) -> Path:
    path = directory / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(20):  # 20 MB of zeros packs into ~20 KB: a 1000x ratio
                member.write(block)
    return path


def _truncated_xlsx(directory: Path) -> Path:
    full = write_xlsx(directory / "full.xlsx", [HEADER, ["A1", "2024-01-01", "杯子", 1, 9.9]])
    path = directory / "truncated.xlsx"
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _formulas_xlsx(directory: Path) -> Path:
    return write_xlsx(
        directory / "formulas.xlsx",
        [
            [*HEADER, "小计"],
            ["A1", "2024-01-01", '=HYPERLINK("http://evil.example","点我")', 2, 5, "=D2*E2"],
        ],
    )


def _encrypted_xlsx(directory: Path) -> Path:
    path = directory / "locked.xlsx"
    name = "EncryptedPackage".encode("utf-16-le")
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500 + name + b"\0" * 100)
    return path


def _xlsx_named_csv(directory: Path) -> Path:
    path = directory / "real.csv"
    path.write_bytes(
        write_xlsx(directory / "x.xlsx", [HEADER, ["A1", "2024-01-01", "杯子", 1, 9.9]]).read_bytes()
    )
    return path


def _empty_workbook(directory: Path) -> Path:
    workbook = Workbook()
    workbook.create_sheet("Second")
    path = directory / "blank.xlsx"
    workbook.save(path)
    return path


def malformed_corpus() -> list[MalformedCase]:
    """Files a merchant really sends that must be refused, each with the message fragment to expect."""
    good = ["A1", "2024-01-01 10:00", "杯子", "1", "9.90"]
    return [
        MalformedCase("empty file", _bytes("empty.csv", b""), "the file is empty"),
        MalformedCase("only whitespace", _bytes("blank.csv", b"\r\n  \r\n"), "contains no data"),
        MalformedCase("header only", _csv("header_only.csv", [HEADER]), "no data rows"),
        MalformedCase("binary garbage as .csv", _bytes("garbage.csv", bytes(range(256)) * 4), "binary data"),
        MalformedCase(
            "wrong encoding (Latin-1 bytes)",
            _bytes("latin1.csv", "订单编号,下单时间,买家姓名\n1,2024-01-01,".encode() + b"Jos\xe9\n"),
            "neither UTF-8 nor GBK/GB18030: byte 0xE9",
        ),
        MalformedCase(
            "Windows-1252 that GB18030 would garble",
            _bytes(
                "cp1252.csv", "Order ID,Order Date,Customer\n1,2024-01-01,Müller Ångström\n".encode("cp1252")
            ),
            "neither UTF-8 nor GBK",
        ),
        MalformedCase(
            "missing required column (order number)",
            _csv("no_order_id.csv", [["下单时间", "商品名称", "数量"], ["2024-01-01", "杯子", "1"]]),
            "missing required column 订单编号 / Order ID",
        ),
        MalformedCase(
            "missing required column (order date)",
            _csv("no_date.csv", [["订单编号", "商品名称", "数量"], ["A1", "杯子", "1"]]),
            "missing required column 下单时间 / Order date",
        ),
        MalformedCase(
            "no recognisable header", _csv("foo.csv", [["foo", "bar"], ["1", "2"]]), "no header row found"
        ),
        MalformedCase(
            "two columns map to the same field",
            _csv("dup.csv", [["订单号", "订单编号", "下单时间"], ["A1", "A1", "2024-01-01"]]),
            "columns '订单号' and '订单编号' both map to 订单编号 / Order ID",
        ),
        MalformedCase(
            "duplicate order with conflicting totals",
            _csv(
                "conflict.csv",
                [
                    ["订单编号", "下单时间", "总金额"],
                    ["A1", "2024-01-01", "100"],
                    ["A1", "2024-01-01", "120"],
                ],
            ),
            "order A1 has conflicting values '120.00' (row 3) and '100.00' (row 2)",
        ),
        MalformedCase(
            "negative quantity",
            _csv("negative.csv", [HEADER, ["A1", "2024-01-01", "杯子", "-2", "9.9"]]),
            "row 2, column 数量: '-2' is a negative quantity",
        ),
        MalformedCase(
            "zero quantity",
            _csv("zero.csv", [HEADER, ["A1", "2024-01-01", "杯子", "0", "9.9"]]),
            "quantity '0' must be at least 1",
        ),
        MalformedCase(
            "fractional quantity",
            _csv("fraction.csv", [HEADER, ["A1", "2024-01-01", "杯子", "1.5", "9.9"]]),
            "'1.5' is not a whole number",
        ),
        MalformedCase(
            "date in the future",
            _csv("future.csv", [HEADER, ["A1", "2030-01-01 10:00", "杯子", "1", "9.9"]]),
            "row 2, column 下单时间: '2030-01-01 10:00' is in the future",
        ),
        MalformedCase(
            "impossible date",
            _csv("bad_date.csv", [HEADER, ["A1", "2024-13-01", "杯子", "1", "9.9"]]),
            "row 2, column 下单时间: '2024-13-01' is not a date",
        ),
        MalformedCase(
            "text in an amount column",
            _csv("bad_amount.csv", [HEADER, ["A1", "2024-01-01", "杯子", "1", "九块九"]]),
            "row 2, column 单价: '九块九' is not an amount",
        ),
        MalformedCase("a 50 MB file", _big_file, "over the limit of 50 MB"),
        MalformedCase("an .xlsx that is a zip of something else", _zip_of_csv, "not an Excel workbook"),
        MalformedCase("zip bomb", _zip_bomb, "possible zip bomb"),
        MalformedCase(
            "formulas in .xlsx cells", _formulas_xlsx, "is a formula; formulas are never evaluated"
        ),
        MalformedCase(
            "formula text in a CSV",
            _csv("formula.csv", [[*HEADER, "买家留言"], [*good, '=HYPERLINK("http://evil.example","x")']]),
            "row 2, column 买家留言: '=HYPERLINK(",
        ),
        MalformedCase("truncated .xlsx", _truncated_xlsx, "damaged or truncated"),
        MalformedCase("unknown extension", _bytes("orders.pdf", b"%PDF-1.4"), "unsupported file type '.pdf'"),
        MalformedCase("no extension", _bytes("orders", b"a,b"), "unsupported file type without an extension"),
        MalformedCase(
            "an .xlsx named .csv",
            _xlsx_named_csv,
            "is really an .xlsx workbook named .csv",
        ),
        MalformedCase(
            "a CSV named .xlsx",
            _bytes("fake.xlsx", "订单编号,下单时间\n1,2024-01-01\n".encode()),
            "is really a text (CSV) file, not a .xlsx file",
        ),
        MalformedCase(
            "an HTML page named .xls",
            _bytes("export.xls", b"<html><body><table><tr><td>1</td></tr></table></body></html>"),
            "is an HTML page saved with a .xls name",
        ),
        MalformedCase("a password-protected workbook", _encrypted_xlsx, "password-protected"),
        MalformedCase("a workbook with no data", _empty_workbook, "no sheet has any data"),
        MalformedCase(
            "order number mangled to scientific notation",
            _csv("sci.csv", [HEADER, ["3.51531E+16", "2024-01-01", "杯子", "1", "9.9"]]),
            "'3.51531E+16' was turned into scientific notation by Excel",
        ),
        MalformedCase(
            "unknown status label",
            _csv(
                "status.csv",
                [["订单编号", "下单时间", "订单状态", "总金额"], ["A1", "2024-01-01", "发货中??", "9"]],
            ),
            "'发货中??' is not a known order status",
        ),
        MalformedCase(
            "total does not add up",
            _csv(
                "sum.csv",
                [
                    [*HEADER, "优惠", "运费", "总金额"],
                    ["A1", "2024-01-01", "杯子", "2", "10", "1", "5", "30"],
                ],
            ),
            "order A1: total 30.00 does not add up: subtotal 20.00 − discount 1.00 + shipping 5.00 = 24.00",
        ),
        MalformedCase(
            "blank order number",
            _csv("blank_id.csv", [HEADER, good, ["", "2024-01-01", "杯子", "1", "9.9"]]),
            "row 3, column 订单编号: order number is empty",
        ),
        MalformedCase(
            "no channel and no default",
            _csv("no_channel.csv", [HEADER, good]),
            "no channel: add a 渠道/Channel column or choose a default channel",
            plan_kwargs={"default_channel": None},
        ),
        MalformedCase(
            "an order with neither lines nor a total",
            _csv("no_amount.csv", [["订单编号", "下单时间", "买家姓名"], ["A1", "2024-01-01", "张三"]]),
            "order A1 has neither line amounts nor a total",
        ),
        MalformedCase(
            "undecodable GBK (a broken multi-byte sequence)",
            _bytes(
                "broken_gbk.csv", "订单编号,下单时间\n".encode("gbk") + b"A1,2024-01-01\n" + b"\x81\x20\xff\n"
            ),
            "(line 3) cannot be decoded",
        ),
    ]
