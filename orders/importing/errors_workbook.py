"""The downloadable error workbook: the failed rows as they were, plus why each failed.

A clerk fixes the rows in it and imports it again: its extra columns (reason, source row) are known to the
header table as ignored. Text that a spreadsheet would run as a formula (starting with = + - @) is neutralised
with a leading apostrophe, which the importer strips again.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font

from orders.exporting import neutralise as neutralise_text
from orders.importing.plan import RowError
from orders.importing.readers import Table

REASON_HEADER = "错误原因 / Error"
SOURCE_ROW_HEADER = "原行号 / Source row"


def neutralise(value: Any) -> Any:
    """Make a cell value safe to open in a spreadsheet: no formulas, no illegal XML characters, no zones."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # openpyxl refuses aware datetimes; the table holds local times
    if not isinstance(value, str):
        return value
    return neutralise_text(value)


def build_error_workbook(table: Table, row_errors: Iterable[RowError]) -> bytes:
    """An .xlsx with the original header, each failed row with its cells unchanged, and a reason column;
    file-level problems (no row) go to a second sheet."""
    by_row: dict[int, list[str]] = {}
    file_problems: list[str] = []
    for error in row_errors:
        if error.row is None:
            file_problems.append(error.message)
        else:
            by_row.setdefault(error.row, []).append(error.reason)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("错误 Errors")
    bold = Font(bold=True)
    header_cells = []
    for text in [*table.headers, REASON_HEADER, SOURCE_ROW_HEADER]:
        cell = WriteOnlyCell(sheet, neutralise(text))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    wrap = Alignment(wrap_text=True, vertical="top")
    for number, cells in zip(table.row_numbers, table.rows, strict=True):
        reasons = by_row.get(number)
        if not reasons:
            continue
        reason = WriteOnlyCell(sheet, neutralise("\n".join(reasons)))
        reason.alignment = wrap
        sheet.append([*(neutralise(c) for c in cells), reason, number])
    if file_problems:
        summary = workbook.create_sheet("文件 File")
        summary.append([REASON_HEADER])
        for problem in file_problems:
            summary.append([neutralise(problem)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
