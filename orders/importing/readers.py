"""Read an uploaded spreadsheet into a ``Table``: safety checks first, then python-calamine or the csv module.

Safety before parsing: size limit, empty file, an extension that lies about the content, xlsx zip
validation (damaged, not a workbook, zip bomb). Workbooks are read with python-calamine (never openpyxl:
~10x faster); formula cells in .xlsx are read back as their formula text, never evaluated. CSV/TXT: UTF-8
(with or without BOM), UTF-16 with BOM and GB18030/GBK are detected, the delimiter is sniffed. Then the
header row is found (the first row with at least two recognised column names), merged header cells are
joined, blank rows and a trailing totals row are dropped. Row numbers are the ones the user sees in Excel.
"""

from __future__ import annotations

import csv
import io
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import python_calamine

from orders.importing.headers import count_known_headers, match_headers
from orders.importing.safety import (
    DEFAULT_LIMITS,
    MB,
    TEXT_EXTENSIONS,
    FileRefused,
    ReadLimits,
    check_zip,
    lying_extension,
    sniff,
)
from orders.importing.values import is_blank

__all__ = ["FileRefused", "ReadLimits", "Table", "read_table"]

WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
SUPPORTED_EXTENSIONS = WORKBOOK_EXTENSIONS + TEXT_EXTENSIONS
TOTAL_WORDS = frozenset({"合计", "总计", "小计", "汇总", "total", "totals", "grand total", "sum", "subtotal"})


@dataclass
class Table:
    """A sheet as read: one header row and the data rows (same width), with Excel row numbers."""

    headers: list[str]
    rows: list[list[Any]]
    row_numbers: list[int]
    header_row_number: int
    filename: str
    file_kind: str
    sheet_name: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    totals_row_number: int | None = None
    merged_headers: list[str] = field(default_factory=list)
    formula_cells: int = 0


# --- public API ---


def read_table(
    source: str | os.PathLike[str] | bytes,
    filename: str | None = None,
    sheet: str | None = None,
    *,
    encoding: str | None = None,
    column_mapping: Mapping[str, str] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Table:
    """Read a .xlsx/.xlsm/.xls/.ods/.csv/.txt file (path or bytes) into a ``Table``, or raise ``FileRefused``.

    ``sheet`` picks a sheet by name (else the first visible sheet with data); ``encoding`` overrides CSV
    detection; ``column_mapping`` (a profile's) adds the headers it names to those recognised as headers.
    """
    if isinstance(source, bytes):
        name = filename or "upload"
        size = len(source)
        data: bytes | None = source
    else:
        path = Path(source)
        name = filename or path.name
        size = path.stat().st_size
        data = None
    extension = PurePosixPath(name.lower()).suffix
    if extension not in SUPPORTED_EXTENSIONS:
        shown = f"'{extension}'" if extension else "without an extension"
        raise FileRefused(
            f"{name}: unsupported file type {shown}; use .xlsx, .xls, .ods, .csv or .txt",
            code="unsupported_type",
        )
    if size > limits.max_bytes:
        raise FileRefused(
            f"{name}: the file is {size:,} bytes, over the limit of {limits.max_bytes / MB:.0f} MB — "
            "split it into smaller files",
            code="file_too_large",
        )
    if size == 0:
        raise FileRefused(f"{name}: the file is empty (0 bytes)", code="empty_file")
    if data is None:
        data = Path(source).read_bytes()  # type: ignore[arg-type]
    kind = sniff(data)
    if extension in TEXT_EXTENSIONS:
        if kind != "text":
            raise FileRefused(lying_extension(name, extension, kind, data), code="wrong_extension")
        return _read_text(data, name, encoding, column_mapping, limits)
    return _read_workbook(data, name, extension, kind, sheet, column_mapping, limits)


# --- workbooks ---


def _read_workbook(
    data: bytes,
    name: str,
    extension: str,
    kind: str,
    sheet: str | None,
    column_mapping: Mapping[str, str] | None,
    limits: ReadLimits,
) -> Table:
    formulas: dict[str, dict[tuple[int, int], str]] = {}
    if extension in (".xlsx", ".xlsm", ".ods"):
        if kind == "ole2":
            if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e" in data:
                raise FileRefused(
                    f"{name}: the workbook is password-protected; remove the password and save it again",
                    code="encrypted",
                )
            raise FileRefused(lying_extension(name, extension, kind, data), code="wrong_extension")
        if kind != "zip":
            raise FileRefused(lying_extension(name, extension, kind, data), code="wrong_extension")
        formulas = check_zip(data, name, extension, limits)
    elif kind != "ole2":  # .xls
        raise FileRefused(lying_extension(name, extension, kind, data), code="wrong_extension")
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError:
        raise FileRefused(f"{name}: the workbook is password-protected", code="encrypted")
    except Exception as exc:  # calamine raises several unrelated types for damaged files
        raise FileRefused(f"{name}: the workbook is damaged and cannot be read ({exc})", code="damaged_file")
    with workbook:
        chosen, raw_rows, merged = _pick_sheet(workbook, name, sheet)
    sheet_formulas = formulas.get(chosen, {})
    for (row_index, col_index), text in sheet_formulas.items():
        if row_index < len(raw_rows) and col_index < len(raw_rows[row_index]):
            raw_rows[row_index][col_index] = "=" + text
    table = _build_table(
        raw_rows,
        list(range(1, len(raw_rows) + 1)),
        name,
        extension.lstrip("."),
        column_mapping,
        limits,
        merged=merged,
    )
    table.sheet_name = chosen
    table.formula_cells = len(sheet_formulas)
    return table


def _pick_sheet(
    workbook: python_calamine.CalamineWorkbook, name: str, wanted: str | None
) -> tuple[str, list[list[Any]], list[tuple[tuple[int, int], tuple[int, int]]]]:
    """Return (sheet name, rows with absolute row/column positions, merged ranges) of the chosen sheet."""
    try:
        if wanted:
            try:
                sheet = workbook.get_sheet_by_name(wanted)
            except python_calamine.WorksheetNotFound:
                names = ", ".join(workbook.sheet_names)
                raise FileRefused(
                    f"{name}: no sheet named '{wanted}'; sheets: {names}", code="sheet_not_found"
                )
            rows = _sheet_rows(sheet)
            if not any(not is_blank(c) for r in rows for c in r):
                raise FileRefused(f"{name}: sheet '{wanted}' is empty", code="empty_file")
            return wanted, rows, _merged(sheet)
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            if meta.visible != python_calamine.SheetVisibleEnum.Visible:
                continue
            sheet = workbook.get_sheet_by_name(meta.name)
            rows = _sheet_rows(sheet)
            if any(not is_blank(c) for r in rows for c in r):
                return meta.name, rows, _merged(sheet)
    except FileRefused:
        raise
    except Exception as exc:
        raise FileRefused(f"{name}: the workbook is damaged and cannot be read ({exc})", code="damaged_file")
    raise FileRefused(f"{name}: no sheet has any data", code="empty_file")


def _sheet_rows(sheet: python_calamine.CalamineSheet) -> list[list[Any]]:
    """Rows padded so that [r][c] is Excel row r+1, column c+1 (calamine starts at the first used column)."""
    start_col = sheet.start[1] if sheet.start else 0
    return [[None] * start_col + list(row) for row in sheet.iter_rows()]


def _merged(sheet: python_calamine.CalamineSheet) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    try:
        return list(sheet.merged_cell_ranges or [])
    except Exception:  # not every format reports merges
        return []


# --- text ---


def _decode(data: bytes, name: str, override: str | None) -> tuple[str, str]:
    """Decode CSV: an explicit encoding, else BOM, UTF-8, then GB18030 (superset of GBK) if plausible."""
    if override:
        try:
            return data.decode(override), override
        except (UnicodeDecodeError, LookupError) as exc:
            offset = getattr(exc, "start", 0)
            line = data.count(b"\n", 0, offset) + 1
            raise FileRefused(
                f"{name}: cannot be read as {override}: byte {offset} (line {line})",
                code="bad_encoding",
            )
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", name), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16", name), "utf-16"
    nul = data.find(b"\x00", 0, 65536)
    if nul >= 0:
        raise FileRefused(
            f"{name}: contains binary data (a NUL byte at offset {nul}), not CSV text", code="binary_file"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as gb_error:
            worst = max(utf8_error, gb_error, key=lambda e: e.start)
            raise FileRefused(_undecodable(name, data, worst.start), code="bad_encoding")
        if not _plausible_chinese(text):
            raise FileRefused(_undecodable(name, data, utf8_error.start), code="bad_encoding")
        return text, "gb18030"


def _strict(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise FileRefused(_undecodable(name, data, exc.start, codec), code="bad_encoding")


def _undecodable(name: str, data: bytes, offset: int, codec: str = "UTF-8 nor GBK/GB18030") -> str:
    line = data.count(b"\n", 0, offset) + 1
    what = f"neither {codec}" if " nor " in codec else f"not valid {codec}"
    return (
        f"{name}: the text is {what}: byte 0x{data[offset]:02X} at offset {offset} (line {line}) cannot be "
        "decoded; save the file as 'CSV UTF-8' or choose its encoding in the import profile"
    )


def _plausible_chinese(text: str) -> bool:
    """GB18030 decodes most byte soup; real Chinese text is almost all common (GB2312) characters."""
    non_ascii = [ch for ch in text[:200_000] if ord(ch) > 127]
    if not non_ascii:
        return True
    common = 0
    for ch in non_ascii:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(non_ascii) >= 0.8


def _sniff_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    best, best_score = ",", (0, 0)
    for delimiter in (",", "\t", ";", "|"):
        widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        if common < 2:
            continue
        score = (sum(1 for w in widths if w == common), common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_text(
    data: bytes, name: str, encoding: str | None, column_mapping: Mapping[str, str] | None, limits: ReadLimits
) -> Table:
    text, detected = _decode(data, name, encoding)
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise FileRefused(f"{name}: the file contains no data", code="empty_file")
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[Any]] = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > limits.max_rows:
                raise FileRefused(f"{name}: more than {limits.max_rows} rows", code="too_many_rows")
    except csv.Error as exc:
        raise FileRefused(f"{name}: line {reader.line_num} is not valid CSV ({exc})", code="bad_csv")
    table = _build_table(rows, list(range(1, len(rows) + 1)), name, "csv", column_mapping, limits)
    table.encoding, table.delimiter = detected, delimiter
    return table


# --- structure ---


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _is_total_label(value: Any) -> bool:
    text = unicodedata.normalize("NFKC", _cell_text(value)).strip().rstrip(":").strip().casefold()
    return text in TOTAL_WORDS


def _build_table(
    raw: list[list[Any]],
    numbers: list[int],
    name: str,
    kind: str,
    column_mapping: Mapping[str, str] | None,
    limits: ReadLimits,
    *,
    merged: list[tuple[tuple[int, int], tuple[int, int]]] | None = None,
) -> Table:
    merged = merged or []
    header_index = None
    for index, row in enumerate(raw[: limits.header_search_rows]):
        if count_known_headers(row, column_mapping) >= 2:
            header_index = index
            break
    if header_index is None:
        first = next((row for row in raw if any(not is_blank(c) for c in row)), [])
        shown = ", ".join(f"'{_cell_text(c)}'" for c in first[:8] if not is_blank(c))
        raise FileRefused(
            f"{name}: no header row found in the first {limits.header_search_rows} rows: "
            "expected column names such as 订单编号, 下单时间, 商品名称, 数量 "
            f"(first row has {shown or 'nothing'})",
            code="no_header",
        )
    width = max(len(row) for row in raw)
    # The rows are the caller's fresh lists: padded (and, for merged cells, filled) in place of a copy.
    grid = [row if len(row) == width else row + [None] * (width - len(row)) for row in raw]
    _fill_merged_data(grid, merged, header_index)
    header_cells = [_cell_text(c) for c in grid[header_index]]
    # Columns of a merged header: the merge ranges, else an empty header cell right after a filled one.
    groups: list[list[int]] = []
    merged_names: list[str] = []
    covered: dict[int, int] = {}
    for (r0, c0), (r1, c1) in merged:
        if r0 <= header_index <= r1 and c1 > c0:
            for col in range(c0 + 1, min(c1, width - 1) + 1):
                covered[col] = c0
    data_rows = [i for i in range(header_index + 1, len(grid)) if _has_data(grid[i])]
    for col in range(width):
        has_data = any(not is_blank(grid[i][col]) for i in data_rows)
        if col in covered or (not header_cells[col] and groups and header_cells[groups[-1][0]]):
            if not has_data and col not in covered:
                continue  # a trailing separator or an empty spacer column
            groups[-1].append(col)
            continue
        if not header_cells[col] and not has_data:
            continue
        groups.append([col])
    headers = []
    for group in groups:
        label = header_cells[group[0]] or f"Column {_column_letters(group[0])}"
        headers.append(label)
        if len(group) > 1:
            merged_names.append(label)
    rows: list[list[Any]] = []
    row_numbers: list[int] = []
    if all(len(group) == 1 for group in groups):  # no merged header: the cells as they are
        kept = [group[0] for group in groups]
        whole = kept == list(range(width))
        for i in data_rows:
            rows.append(grid[i] if whole else [grid[i][c] for c in kept])
            row_numbers.append(numbers[i])
    else:
        for i in data_rows:
            rows.append([_join([grid[i][c] for c in group]) for group in groups])
            row_numbers.append(numbers[i])
    if not rows:
        raise FileRefused(f"{name}: has a header row but no data rows", code="no_data")
    totals_row = None
    id_column = match_headers(headers, column_mapping).column_of("external_order_id")
    last = rows[-1]
    if any(_is_total_label(c) for c in last[:3]) and (
        id_column is None or is_blank(last[id_column]) or _is_total_label(last[id_column])
    ):
        totals_row = row_numbers.pop()
        rows.pop()
        if not rows:
            raise FileRefused(f"{name}: has a header row and a totals row but no data rows", code="no_data")
    return Table(
        headers=headers,
        rows=rows,
        row_numbers=row_numbers,
        header_row_number=numbers[header_index],
        filename=name,
        file_kind=kind,
        totals_row_number=totals_row,
        merged_headers=merged_names,
    )


def _has_data(row: list[Any]) -> bool:
    """Whether any cell of ``row`` is filled (most rows: the first cell already is)."""
    first = row[0] if row else None
    if first is not None and (first.__class__ is not str or first[:1].isalnum()):
        return True
    return any(not is_blank(c) for c in row)


def _fill_merged_data(
    grid: list[list[Any]], merged: list[tuple[tuple[int, int], tuple[int, int]]], header: int
) -> None:
    """A merged data cell (one order number over its line rows) means the same value in every covered cell."""
    for (r0, c0), (r1, c1) in merged:
        if c1 != c0 or r0 <= header or r0 >= len(grid) or c0 >= len(grid[r0]):
            continue  # only vertical merges below the header; horizontal ones keep the first cell
        for r in range(r0 + 1, min(r1, len(grid) - 1) + 1):
            grid[r][c0] = grid[r0][c0]


def _join(values: list[Any]) -> Any:
    filled = [v for v in values if not is_blank(v)]
    if not filled:
        return values[0] if values else None
    if len(filled) == 1:
        return filled[0]
    return " ".join(_cell_text(v) for v in filled)


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
