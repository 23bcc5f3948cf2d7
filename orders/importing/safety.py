"""Safety checks on an upload before any parser sees it: size, type sniffing, lying extensions, zip bombs.

Also finds formula cells in .xlsx sheet XML, so that the reader can show them as text and never evaluate them.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree

from oms.errors import ValidationFailed

MB = 1024 * 1024
TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")


class FileRefused(ValidationFailed):
    """The file as a whole cannot be read (too large, damaged, wrong type, undecodable, no header...)."""

    default_code = "file_refused"


@dataclass(frozen=True)
class ReadLimits:
    """Limits applied before and while parsing; the defaults suit merchant order books."""

    max_bytes: int = 50 * MB
    max_uncompressed_bytes: int = 1024 * MB
    max_compression_ratio: int = 100
    ratio_check_min_bytes: int = 5 * MB
    max_rows: int = 1_048_576
    header_search_rows: int = 20


DEFAULT_LIMITS = ReadLimits()


# --- sniffing ---

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (_OLE2, "ole2"),
    (b"%PDF", "pdf"),
    (b"\x89PNG", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF8", "image"),
    (b"Rar!", "archive"),
    (b"7z\xbc\xaf", "archive"),
    (b"\x1f\x8b", "archive"),
)
_KIND_NAMES = {
    "zip": "a zip archive",
    "ole2": "an old-style Office file (.xls or a password-protected workbook)",
    "pdf": "a PDF document",
    "image": "an image",
    "archive": "a compressed archive",
    "html": "an HTML page",
    "text": "a text (CSV) file",
}


def sniff(data: bytes) -> str:
    """What the bytes really are, by magic number: zip, ole2, pdf, image, archive, html or text."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")) or b"<html" in head[:200]:
        return "html"
    return "text"


def zip_kind(archive: zipfile.ZipFile) -> str:
    """What a zip holds: xlsx, xlsb, ods, or just zip."""
    names = set(archive.namelist())
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "content.xml" in names and "mimetype" in names:
        try:
            if archive.read("mimetype").strip() == b"application/vnd.oasis.opendocument.spreadsheet":
                return "ods"
        except (zipfile.BadZipFile, KeyError, OSError, zlib.error):
            return "zip"
    return "zip"


def lying_extension(name: str, extension: str, kind: str, data: bytes) -> str:
    """The message for a file whose extension does not match its content."""
    if kind == "zip":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                kind = zip_kind(archive)
        except zipfile.BadZipFile:
            pass
    if kind in ("xlsx", "ods"):
        return f"{name}: is really an .{kind} workbook named {extension}; rename it to .{kind}"
    if kind == "ole2" and extension in TEXT_EXTENSIONS:
        return f"{name}: is really an old .xls workbook named {extension}; rename it to .xls"
    if kind == "html":
        return (
            f"{name}: is an HTML page saved with a {extension} name (some export tools do this); "
            "open it in Excel and save it as .xlsx"
        )
    described = _KIND_NAMES.get(kind, kind)
    return f"{name}: is really {described}, not a {extension} file"


_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z0-9_]+:)?f[\s>/]")
_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")


def check_zip(
    data: bytes, name: str, extension: str, limits: ReadLimits
) -> dict[str, dict[tuple[int, int], str]]:
    """Validate an .xlsx/.ods zip before calamine opens it; return formula texts per sheet (xlsx only)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise FileRefused(
            f"{name}: the file is damaged or truncated (not a complete zip archive); "
            "save it again from Excel",
            code="damaged_file",
        )
    with archive:
        kind = zip_kind(archive)
        expected = "ods" if extension == ".ods" else "xlsx"
        if kind == "xlsb":
            raise FileRefused(
                f"{name}: binary .xlsb workbooks are not supported; save as .xlsx", code="wrong_extension"
            )
        if kind != expected:
            if kind in ("xlsx", "ods"):
                raise FileRefused(lying_extension(name, extension, kind, data), code="wrong_extension")
            members = ", ".join(archive.namelist()[:5]) or "nothing"
            raise FileRefused(
                f"{name}: is a zip archive but not an Excel workbook (no xl/workbook.xml); "
                f"it contains: {members}",
                code="not_a_workbook",
            )
        infos = archive.infolist()
        declared = sum(info.file_size for info in infos)
        if declared > limits.max_uncompressed_bytes:
            raise FileRefused(_bomb_message(name, declared, limits), code="zip_bomb")
        for info in infos:
            if info.flag_bits & 0x1:
                raise FileRefused(f"{name}: the workbook is password-protected", code="encrypted")
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size >= limits.ratio_check_min_bytes and ratio > limits.max_compression_ratio:
                raise FileRefused(
                    f"{name}: refused as a possible zip bomb: '{info.filename}' unpacks {ratio:.0f}x "
                    f"(limit {limits.max_compression_ratio}x)",
                    code="zip_bomb",
                )
        sheets_with_formulas = _scan_members(archive, infos, name, limits)
        if expected != "xlsx" or not sheets_with_formulas:
            return {}
        return _xlsx_formulas(archive, sheets_with_formulas)


def _bomb_message(name: str, size: int, limits: ReadLimits) -> str:
    return (
        f"{name}: refused as a possible zip bomb: it unpacks to {size / MB:.0f} MB "
        f"(limit {limits.max_uncompressed_bytes / MB:.0f} MB)"
    )


def _scan_members(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], name: str, limits: ReadLimits
) -> set[str]:
    """Decompress every member once with a running cap (declared sizes can lie); note sheets with formulas."""
    total = 0
    with_formulas: set[str] = set()
    for info in infos:
        is_sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
        tail = b""
        try:
            with archive.open(info) as member:
                while chunk := member.read(1024 * 1024):
                    total += len(chunk)
                    if total > limits.max_uncompressed_bytes:
                        raise FileRefused(_bomb_message(name, total, limits), code="zip_bomb")
                    if is_sheet and info.filename not in with_formulas and _FORMULA_TAG.search(tail + chunk):
                        with_formulas.add(info.filename)
                    tail = chunk[-16:]
        except FileRefused:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise FileRefused(
                f"{name}: the file is damaged or truncated ({info.filename}: {exc}); "
                "save it again from Excel",
                code="damaged_file",
            )
    return with_formulas


def _xlsx_formulas(archive: zipfile.ZipFile, parts: set[str]) -> dict[str, dict[tuple[int, int], str]]:
    """Formula text per cell (0-based row, column) for the sheets whose XML has ``<f>`` elements."""
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {}
    for rel in rels:
        target = rel.get("Target", "")
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        targets[rel.get("Id")] = target
    result: dict[str, dict[tuple[int, int], str]] = {}
    for sheet in workbook.iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        part = targets.get(sheet.get(rel_ns))
        if part not in parts:
            continue
        cells: dict[tuple[int, int], str] = {}
        shared: dict[str, str] = {}
        with archive.open(part) as stream:
            for _event, element in ElementTree.iterparse(stream):
                if not element.tag.endswith("}c"):
                    continue
                formula = next((child for child in element if child.tag.endswith("}f")), None)
                ref = _CELL_REF.match(element.get("r", ""))
                if formula is not None and ref:
                    text = formula.text or ""
                    if formula.get("t") == "shared" and formula.get("si") is not None:
                        text = (
                            shared.setdefault(formula.get("si"), text)
                            if text
                            else shared.get(formula.get("si"), "")
                        )
                    cells[(int(ref.group(2)) - 1, _column_index(ref.group(1)))] = text or "…"
                element.clear()
        result[sheet.get("name", "")] = cells
    return result


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1
