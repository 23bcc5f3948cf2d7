"""Reading files into a Table: encodings, delimiters, header row, merged cells, totals rows, workbooks."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from orders.importing.readers import FileRefused, ReadLimits, read_table
from orders.tests.importing_corpus import write_csv, write_xlsx

ROWS = [["订单编号", "下单时间", "商品名称", "数量"], ["A1", "2024-03-05 10:00", "青花瓷杯", "2"]]


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
        ("utf-16", "utf-16"),
    ],
)
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str, reported: str) -> None:
    table = read_table(write_csv(tmp_path / "a.csv", ROWS, encoding))
    assert table.encoding == reported
    assert table.headers == ROWS[0]
    assert table.rows == [ROWS[1]]


def test_gb18030_only_characters(tmp_path: Path) -> None:
    rows = [ROWS[0], ["A1", "2024-03-05", "𠮷野家便当 €", "1"]]  # outside GBK, inside GB18030
    table = read_table(write_csv(tmp_path / "a.csv", rows, "gb18030"))
    assert table.rows[0][2] == "𠮷野家便当 €"


def test_encoding_override(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes("Order ID,Order Date,Customer\n1,2024-01-01,Müller\n".encode("cp1252"))
    with pytest.raises(FileRefused, match="neither UTF-8 nor GBK"):
        read_table(path)
    assert read_table(path, encoding="cp1252").rows[0][2] == "Müller"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "a.txt"
    path.write_text("\n".join(delimiter.join(row) for row in ROWS) + "\n", encoding="utf-8")
    table = read_table(path)
    assert table.delimiter == delimiter
    assert table.rows == [ROWS[1]]


def test_bytes_input_needs_a_filename() -> None:
    data = "\n".join(",".join(r) for r in ROWS).encode()
    assert read_table(data, "upload.csv").filename == "upload.csv"
    with pytest.raises(FileRefused, match="unsupported file type"):
        read_table(data)


def test_title_rows_blank_rows_and_totals_row(tmp_path: Path) -> None:
    rows = [
        ["2024年3月 订单汇总", "", "", ""],
        ["", "", "", ""],
        [*ROWS[0], "金额"],
        ["A1", "2024-03-05", "杯", "1", "9.9"],
        ["", "", "", "", ""],
        ["A2", "2024-03-06", "碗", "2", "20"],
        ["合计", "", "", "3", "29.9"],
    ]
    table = read_table(write_csv(tmp_path / "a.csv", rows))
    assert table.header_row_number == 3
    assert table.row_numbers == [4, 6]
    assert table.totals_row_number == 7
    assert [r[0] for r in table.rows] == ["A1", "A2"]


def test_total_label_in_last_row_with_an_order_number_is_data(tmp_path: Path) -> None:
    rows = [["订单编号", "下单时间", "商品名称"], ["A1", "2024-03-05", "Total"]]
    assert read_table(write_csv(tmp_path / "a.csv", rows)).totals_row_number is None


def test_csv_empty_header_after_a_filled_one_joins_the_columns(tmp_path: Path) -> None:
    rows = [
        ["订单编号", "下单时间", "收货地址", "", "", "数量", ""],
        ["A1", "2024-03-05", "浙江省", "杭州市", "文三路1号", "1", ""],
    ]
    table = read_table(write_csv(tmp_path / "a.csv", rows))
    assert table.headers == ["订单编号", "下单时间", "收货地址", "数量"]
    assert table.rows == [["A1", "2024-03-05", "浙江省 杭州市 文三路1号", "1"]]
    assert table.merged_headers == ["收货地址"]


def test_taobao_detail_rows_with_trailing_comma(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("订单编号,标题,价格,购买数量,下单时间\n1,杯,9.9,1,2024-01-01,\n", encoding="utf-8")
    table = read_table(path)
    assert table.headers == ["订单编号", "标题", "价格", "购买数量", "下单时间"]
    assert table.rows == [["1", "杯", "9.9", "1", "2024-01-01"]]


def test_xlsx_values_types_and_row_numbers(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet["B3"] = "订单编号"
    sheet["C3"] = "下单时间"
    sheet["D3"] = "联系手机"
    sheet.append([None, "A1", datetime(2024, 3, 5, 14, 0), 13912345678])
    sheet.append([None, 12345, 45356.5, "'13912345678"])
    path = tmp_path / "a.xlsx"
    workbook.save(path)
    table = read_table(path)
    assert table.file_kind == "xlsx"
    assert table.header_row_number == 3
    assert table.row_numbers == [4, 5]
    assert table.headers == ["订单编号", "下单时间", "联系手机"]
    assert table.rows[0] == ["A1", datetime(2024, 3, 5, 14, 0), 13912345678.0]
    assert table.rows[1] == [12345.0, 45356.5, "'13912345678"]


def test_xlsx_merged_header_and_merged_order_number(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["订单编号", "下单时间", "收货地址", None, "商品名称", "数量"])
    sheet.append(["A1", "2024-03-05", "浙江省", "文三路1号", "杯", 1])
    sheet.append([None, None, None, None, "碗", 2])
    sheet.merge_cells("C1:D1")
    sheet.merge_cells("A2:A3")
    sheet.merge_cells("B2:B3")
    path = tmp_path / "m.xlsx"
    workbook.save(path)
    table = read_table(path)
    assert table.headers == ["订单编号", "下单时间", "收货地址", "商品名称", "数量"]
    assert table.merged_headers == ["收货地址"]
    assert table.rows == [
        ["A1", "2024-03-05", "浙江省 文三路1号", "杯", 1.0],
        ["A1", "2024-03-05", "", "碗", 2.0],
    ]


def test_sheet_by_name_and_first_with_data(tmp_path: Path) -> None:
    workbook = Workbook()
    workbook.active.title = "说明"
    hidden = workbook.create_sheet("hidden")
    hidden.append(ROWS[0])
    hidden.append(["H1", "2024-01-01", "x", 1])
    hidden.sheet_state = "hidden"
    orders = workbook.create_sheet("订单")
    for row in ROWS:
        orders.append(row)
    other = workbook.create_sheet("Other")
    other.append(ROWS[0])
    other.append(["B9", "2024-01-01", "y", 1])
    path = tmp_path / "s.xlsx"
    workbook.save(path)
    assert read_table(path).sheet_name == "订单"
    assert read_table(path, sheet="Other").rows[0][0] == "B9"
    with pytest.raises(FileRefused, match="no sheet named 'Nope'; sheets: 说明, hidden, 订单, Other"):
        read_table(path, sheet="Nope")
    with pytest.raises(FileRefused, match="sheet '说明' is empty"):
        read_table(path, sheet="说明")


def test_xlsx_formula_cells_read_as_text_never_evaluated(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "f.xlsx", [[*ROWS[0], "备注"], [*ROWS[1], '=HYPERLINK("http://x.example","y")']]
    )
    table = read_table(path)
    assert table.rows[0][-1] == '=HYPERLINK("http://x.example","y")'
    assert table.formula_cells == 1


def test_xls_workbook(tmp_path: Path) -> None:
    xlwt = pytest.importorskip(
        "xlwt", reason="xlwt is not installed: cannot build an .xls fixture (pip install xlwt)"
    )
    book = xlwt.Workbook()
    sheet = book.add_sheet("订单")
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    sheet.write(2, 0, "A2")
    sheet.write(2, 1, datetime(2024, 3, 6, 9, 30), xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm"))
    sheet.write(2, 2, "碗")
    sheet.write(2, 3, 3)
    path = tmp_path / "old.xls"
    book.save(str(path))
    table = read_table(path)
    assert table.file_kind == "xls"
    assert table.rows == [ROWS[1], ["A2", datetime(2024, 3, 6, 9, 30), "碗", 3.0]]


def test_size_limit_is_configurable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ROWS)
    with pytest.raises(FileRefused, match="over the limit of 0 MB") as info:
        read_table(path, limits=ReadLimits(max_bytes=10))
    assert info.value.code == "file_too_large"


def test_total_uncompressed_limit(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", ROWS)
    with pytest.raises(FileRefused, match="possible zip bomb: it unpacks to"):
        read_table(path, limits=ReadLimits(max_uncompressed_bytes=2000))


def test_xlsb_is_named(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.bin", b"\0")
    with pytest.raises(FileRefused, match=r"\.xlsb workbooks are not supported"):
        read_table(path)


def test_multiline_cells_keep_record_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        '订单编号,下单时间,买家留言\nA1,2024-01-01,"第一行\n第二行"\nA2,2024-01-02,x\n', encoding="utf-8"
    )
    table = read_table(path)
    assert table.row_numbers == [2, 3]
    assert table.rows[0][2] == "第一行\n第二行"


def test_workbooks_are_never_read_through_openpyxl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl

    path = write_xlsx(tmp_path / "a.xlsx", ROWS)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("openpyxl used for reading")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)
    monkeypatch.setattr(openpyxl.reader.excel, "load_workbook", refuse)
    assert read_table(path).rows == [ROWS[1]]
