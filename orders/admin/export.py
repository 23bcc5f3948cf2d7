"""Export selected orders to an .xlsx workbook (write-only openpyxl, safe against formula injection)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from orders.models import Order

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these could run as a formula in a spreadsheet: it is quoted."""

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
MONEY_FORMAT = "#,##0.00"


def safe_text(value: str) -> str:
    """Neutralise spreadsheet formulas: text starting with = + - @ (or tab/CR) gets a leading apostrophe."""
    return "'" + value if value and value.startswith(FORMULA_PREFIXES) else value


def local_naive(value: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime as a naive one in the merchant's time zone (openpyxl refuses aware datetimes)."""
    if value is None:
        return None
    return timezone.localtime(value).replace(tzinfo=None)


def export_columns() -> list[tuple[str, object]]:
    """(header, getter) pairs of the export, in order."""
    return [
        (_("Order number"), lambda o: o.number),
        (_("Channel"), lambda o: str(o.channel) if o.channel_id else ""),
        (_("External order id"), lambda o: o.external_id),
        (_("Order type"), lambda o: o.get_order_type_display()),
        (_("Status"), lambda o: o.get_status_display()),
        (_("Payment status"), lambda o: o.get_payment_status_display()),
        (_("Fulfilment status"), lambda o: o.get_fulfillment_status_display()),
        (_("Placed at"), lambda o: local_naive(o.placed_at)),
        (_("Paid at"), lambda o: local_naive(o.paid_at)),
        (_("Shipped at"), lambda o: local_naive(o.shipped_at)),
        (_("Buyer"), lambda o: o.buyer_name),
        (_("Buyer phone"), lambda o: o.buyer_phone),
        (_("Receiver"), lambda o: o.receiver_name),
        (_("Receiver phone"), lambda o: o.receiver_phone),
        (_("Province"), lambda o: o.province),
        (_("City"), lambda o: o.city),
        (_("District"), lambda o: o.district),
        (_("Street address"), lambda o: o.street),
        (_("Currency"), lambda o: o.currency),
        (_("Subtotal"), lambda o: o.subtotal),
        (_("Discount"), lambda o: o.discount),
        (_("Shipping"), lambda o: o.shipping_fee),
        (_("Total"), lambda o: o.total),
        (_("Paid"), lambda o: o.paid_amount),
        (_("Warehouse"), lambda o: str(o.warehouse) if o.warehouse_id else ""),
        (_("Tags"), lambda o: ", ".join(tag.name for tag in o.tags.all())),
        (_("Hold reason"), lambda o: o.hold_reason),
        (_("Exception"), lambda o: o.get_exception_reason_display() if o.exception_reason else ""),
        (_("Buyer note"), lambda o: o.buyer_note),
        (_("Seller note"), lambda o: o.seller_note),
    ]


def orders_workbook(orders: Iterable[Order]) -> bytes:
    """The orders as .xlsx bytes: real numbers for amounts, real dates in local time, quoted formulas."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Orders"))
    columns = export_columns()
    sheet.append([header for header, _getter in columns])
    for order in orders:
        row = []
        for _header, getter in columns:
            value = getter(order)
            cell = WriteOnlyCell(sheet)
            if isinstance(value, dt.datetime):
                cell.value = value
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, Decimal):
                cell.value = value
                cell.number_format = MONEY_FORMAT
            else:
                cell.value = safe_text(str(value or ""))
            row.append(cell)
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
