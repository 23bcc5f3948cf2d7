"""Excel workbooks of report results, written with openpyxl's write-only (streaming) mode.

One sheet per section: report title, filters and definitions, a styled header, typed cells (real numbers and
dates, local times without tz), a totals row, frozen panes and a native Excel chart below the table (a
colour scale for heatmaps). A pivoted two-dimension chart gets its data block beside the table.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils.text import slugify
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from reports.charts import chart_data
from reports.queries import local_tz
from reports.registry import Column, ReportResult, Section

NUMBER_FORMATS = {
    "int": "#,##0",
    "money": "#,##0.00",
    "float": "#,##0.00",
    "hours": "#,##0.0",
    "days": "#,##0.0",
    "percent": "0.0%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TOTAL_FONT = Font(bold=True)
TOTAL_BORDER = Border(top=Side(style="thin"), bottom=Side(style="double"))
TITLE_FONT = Font(bold=True, size=14)
SUBTITLE_FONT = Font(bold=True, size=12)
MUTED_FONT = Font(italic=True, color="666666")
#: Rows of the table above which a chart is not drawn (too many points to read).
MAX_CHART_ROWS = 400


def excel_value(value: Any, column: Column | None = None) -> Any:
    """A value Excel stores natively: Decimal → float, aware datetime → local naive, lazy text → str."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(local_tz()).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date | int | float | bool):
        return value
    return str(value)


def _cell(
    ws, value: Any, *, font=None, fill=None, number_format=None, border=None, alignment=None
) -> WriteOnlyCell:
    """A styled write-only cell."""
    cell = WriteOnlyCell(ws, value=value)
    if font:
        cell.font = font
    if fill:
        cell.fill = fill
    if number_format:
        cell.number_format = number_format
    if border:
        cell.border = border
    if alignment:
        cell.alignment = alignment
    return cell


def _sheet_title(title: str, used: set[str]) -> str:
    """An Excel-safe, unique sheet title (≤ 31 characters, no []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", " ", str(title)).strip()[:31] or "Sheet"
    name, counter = base, 2
    while name.lower() in used:
        suffix = f" ({counter})"
        name = base[: 31 - len(suffix)] + suffix
        counter += 1
    used.add(name.lower())
    return name


def write_section(wb: Workbook, result: ReportResult, section: Section, used_titles: set[str]) -> None:
    """Write one section as a sheet: header block, table, totals, frozen panes, chart."""
    ws = wb.create_sheet(_sheet_title(section.spec.title, used_titles))
    columns = section.columns
    for index, column in enumerate(columns, start=1):
        width = 14 if column.numeric else 22
        ws.column_dimensions[get_column_letter(index)].width = max(width, min(len(str(column.label)) + 2, 40))

    generated = dt.datetime.now(local_tz()).replace(tzinfo=None, microsecond=0)
    preamble: list[list] = [
        [_cell(ws, str(result.title), font=TITLE_FONT)],
        [_cell(ws, str(section.spec.title), font=SUBTITLE_FONT)],
        *([_cell(ws, label, font=Font(bold=True)), value] for label, value in result.filters),
        [
            _cell(ws, _("Generated"), font=Font(bold=True)),
            _cell(ws, generated, number_format=NUMBER_FORMATS["datetime"]),
        ],
        *([_cell(ws, str(note), font=MUTED_FONT)] for note in [*result.notes, section.note] if note),
        [],
    ]
    header_row = len(preamble) + 1
    # Write-only sheets emit the sheet view before the first row: freeze panes must be set first.
    ws.freeze_panes = f"B{header_row + 1}"
    for values in preamble:
        ws.append(values)
    ws.append(
        [
            _cell(
                ws,
                str(c.label),
                font=HEADER_FONT,
                fill=HEADER_FILL,
                alignment=Alignment(wrap_text=True, vertical="center"),
            )
            for c in columns
        ]
    )
    first_data = header_row + 1
    for row in section.rows:
        ws.append([_value_cell(ws, row.get(c.key), c) for c in columns])
    last_data = first_data + len(section.rows) - 1
    if section.totals is not None:
        ws.append(
            [
                _cell(
                    ws,
                    excel_value(section.totals.get(c.key))
                    if c.numeric
                    else (str(section.totals.get(c.key) or _("Total")) if i == 0 else None),
                    font=TOTAL_FONT,
                    border=TOTAL_BORDER,
                    number_format=NUMBER_FORMATS.get(c.kind),
                )
                for i, c in enumerate(columns)
            ]
        )
    if section.rows and section.spec.chart:
        _add_chart(ws, section, header_row, first_data, last_data, len(columns))


def _value_cell(ws, value: Any, column: Column) -> WriteOnlyCell | Any:
    """A data cell with its number or date format."""
    value = excel_value(value, column)
    fmt = NUMBER_FORMATS.get(column.kind)
    if fmt is None or value is None:
        return value
    return _cell(ws, value, number_format=fmt)


def _add_chart(ws, section: Section, header_row: int, first: int, last: int, width: int) -> None:
    """A native chart (or a colour scale for heatmaps) for the section's declared chart."""
    chart_spec = section.spec.chart
    keys = [c.key for c in section.columns]
    if chart_spec.kind == "heatmap":
        first_col = get_column_letter(keys.index(chart_spec.series[0]) + 1)
        last_col = get_column_letter(keys.index(chart_spec.series[-1]) + 1)
        ws.conditional_formatting.add(
            f"{first_col}{first}:{last_col}{last}",
            ColorScaleRule(start_type="min", start_color="FFFFFF", end_type="max", end_color="2E75B6"),
        )
        return
    if last - first + 1 > MAX_CHART_ROWS:
        return
    anchor_row = last + 4
    if chart_spec.pivot:
        _add_pivot_chart(ws, section, anchor_row, width)
        return
    chart = _new_chart(chart_spec.kind)
    chart.title = str(section.spec.title)
    x_col = keys.index(chart_spec.x) + 1
    for key in chart_spec.series:
        col = keys.index(key) + 1
        chart.add_data(Reference(ws, min_col=col, min_row=header_row, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=x_col, min_row=first, max_row=last))
    if chart_spec.secondary and chart_spec.kind in {"line", "bar"}:
        extra = LineChart()
        for key in chart_spec.secondary:
            col = keys.index(key) + 1
            extra.add_data(
                Reference(ws, min_col=col, min_row=header_row, max_row=last), titles_from_data=True
            )
        extra.y_axis.axId = 200
        extra.y_axis.crosses = "max"
        chart += extra
    _size(chart)
    ws.add_chart(chart, f"A{anchor_row}")


def _add_pivot_chart(ws, section: Section, anchor_row: int, width: int) -> None:
    """Two-dimension reports: the first measure pivoted (rows × second dimension) next to the table, charted."""
    labels, datasets = chart_data(section)
    # A write-only sheet cannot go back to add columns beside rows already written: the pivot gets a sheet.
    wb = ws.parent
    data_ws = wb.create_sheet(_sheet_title(f"{ws.title} chart", {s.title.lower() for s in wb.worksheets}))
    data_ws.append(["", *[str(d["label"]) for d in datasets]])
    for index, label in enumerate(labels):
        data_ws.append([excel_value(label), *[excel_value(d["data"][index]) for d in datasets]])
    chart = _new_chart(section.spec.chart.kind)
    chart.title = str(section.spec.title)
    rows = len(labels) + 1
    chart.add_data(
        Reference(data_ws, min_col=2, max_col=len(datasets) + 1, min_row=1, max_row=rows),
        titles_from_data=True,
    )
    chart.set_categories(Reference(data_ws, min_col=1, min_row=2, max_row=rows))
    _size(chart)
    data_ws.add_chart(chart, f"{get_column_letter(len(datasets) + 3)}2")


def _new_chart(kind: str):
    """An openpyxl chart object for a declared chart kind."""
    if kind == "line":
        return LineChart()
    if kind == "doughnut":
        return PieChart()
    chart = BarChart()
    chart.type = "col"
    if kind == "stacked_bar":
        chart.grouping = "stacked"
        chart.overlap = 100
    return chart


def _size(chart) -> None:
    """A chart readable in a forwarded workbook."""
    chart.width = 24
    chart.height = 11


def build_workbook(result: ReportResult) -> Workbook:
    """A write-only workbook with one sheet per section of the result."""
    wb = Workbook(write_only=True)
    used: set[str] = set()
    for section in result.sections:
        write_section(wb, result, section, used)
    if not result.sections:
        ws = wb.create_sheet(_sheet_title(str(result.title), used))
        ws.append([str(result.title)])
        ws.append([_("No data.")])
    return wb


def workbook_bytes(result: ReportResult) -> bytes:
    """The workbook as .xlsx bytes."""
    buffer = io.BytesIO()
    build_workbook(result).save(buffer)
    return buffer.getvalue()


def workbook_filename(result: ReportResult, day: dt.date) -> str:
    """A file name like 'sales-2025-03-31.xlsx' (ASCII, for mail clients)."""
    stem = slugify(result.code if result.code != "custom" else str(result.title)) or "report"
    return f"{stem}-{day.isoformat()}.xlsx"


def iter_rows(section: Section) -> Iterable[list[Any]]:
    """The section's rows as Excel values (for callers that stream elsewhere)."""
    for row in section.rows:
        yield [excel_value(row.get(c.key), c) for c in section.columns]
