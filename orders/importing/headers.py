"""Column headers: normalisation and the alias table that maps what people write to internal field names.

Aliases cover the Taobao/Tmall seller-centre exports (2017 and 2019+ order lists, the item detail list, the
Tmall order report), the UCI Online Retail invoices and the usual Chinese and English spellings of order
books. A saved profile mapping takes precedence over the aliases.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orders.importing.profile import IGNORE

#: Field -> label used in messages (Chinese first, as the clerks read it).
FIELD_LABELS: dict[str, str] = {
    "external_order_id": "订单编号 / Order ID",
    "channel": "渠道 / Channel",
    "status": "订单状态 / Status",
    "placed_at": "下单时间 / Order date",
    "paid_at": "付款时间 / Paid at",
    "shipped_at": "发货时间 / Shipped at",
    "completed_at": "完成时间 / Completed at",
    "buyer_name": "买家姓名 / Buyer name",
    "buyer_id": "买家会员名 / Buyer ID",
    "buyer_phone": "买家电话 / Buyer phone",
    "buyer_email": "买家邮箱 / Buyer email",
    "receiver_name": "收货人 / Receiver",
    "receiver_phone": "收货人手机 / Receiver phone",
    "receiver_landline": "联系电话 / Receiver landline",
    "province": "省 / Province",
    "city": "市 / City",
    "district": "区 / District",
    "street": "详细地址 / Street",
    "full_address": "收货地址 / Address",
    "postcode": "邮编 / Postcode",
    "country": "国家 / Country",
    "sku_code": "商家编码 / SKU",
    "product_name": "商品名称 / Product",
    "sku_properties": "商品属性 / Variant",
    "quantity": "数量 / Quantity",
    "unit_price": "单价 / Unit price",
    "line_total": "小计 / Line total",
    "subtotal": "商品总价 / Subtotal",
    "discount": "优惠 / Discount",
    "shipping_fee": "运费 / Shipping",
    "total": "订单金额 / Total",
    "paid_amount": "实付金额 / Paid amount",
    "refund_amount": "退款金额 / Refunded",
    "buyer_note": "买家留言 / Buyer note",
    "seller_note": "卖家备注 / Seller note",
    "carrier": "物流公司 / Carrier",
    "tracking_number": "物流单号 / Tracking number",
}

FIELDS: tuple[str, ...] = tuple(FIELD_LABELS)

#: Fields that describe one line item; every other field belongs to the order and must agree across its rows.
LINE_FIELDS: frozenset[str] = frozenset(
    {"sku_code", "product_name", "sku_properties", "quantity", "unit_price", "line_total"}
)

#: Without these columns a file cannot be imported at all.
REQUIRED_FIELDS: tuple[str, ...] = ("external_order_id", "placed_at")

ALIASES: dict[str, tuple[str, ...]] = {
    "external_order_id": (
        "订单编号",
        "订单号",
        "订单id",
        "订单ID",
        "平台订单号",
        "外部订单号",
        "网店订单号",
        "单号",
        "交易号",
        "交易编号",
        "Order ID",
        "Order No",
        "Order No.",
        "Order Number",
        "Order #",
        "Order",
        "OrderID",
        "Order_id",
        "InvoiceNo",
        "Invoice No",
        "Invoice",
        "Invoice Number",
        "tid",
    ),
    "channel": (
        "渠道",
        "销售渠道",
        "平台",
        "来源平台",
        "Channel",
        "Sales Channel",
        "Platform",
        "Marketplace",
    ),
    "status": ("订单状态", "交易状态", "状态", "Status", "Order Status", "Financial Status"),
    "placed_at": (
        "下单时间",
        "订单创建时间",
        "创建时间",
        "订单时间",
        "成交时间",
        "拍下时间",
        "日期",
        "订单日期",
        "下单日期",
        "Order Date",
        "Date",
        "Created",
        "Created At",
        "Order Time",
        "InvoiceDate",
        "Invoice Date",
        "Placed At",
    ),
    "paid_at": ("付款时间", "订单付款时间", "支付时间", "Paid At", "Payment Date", "Paid Date", "Pay Time"),
    "shipped_at": ("发货时间", "Shipped At", "Ship Date", "Shipping Date", "Fulfilled At"),
    "completed_at": (
        "确认收货时间",
        "完成时间",
        "交易完成时间",
        "成交完成时间",
        "Completed At",
        "Delivered At",
    ),
    "buyer_name": ("买家姓名", "客户姓名", "客户名称", "客户", "Buyer Name", "Customer Name", "Customer"),
    "buyer_id": (
        "买家会员名",
        "买家昵称",
        "买家账号",
        "买家ID",
        "会员名",
        "旺旺",
        "买家旺旺",
        "Buyer ID",
        "Buyer Nick",
        "Buyer",
        "CustomerID",
        "Customer ID",
        "Customer No",
    ),
    "buyer_phone": ("买家电话", "买家手机", "客户电话", "Buyer Phone", "Customer Phone", "Phone"),
    "buyer_email": ("买家邮箱", "邮箱", "电子邮件", "Email", "E-mail", "Buyer Email", "Customer Email"),
    "receiver_name": (
        "收货人姓名",
        "收货人",
        "收件人",
        "收件人姓名",
        "Receiver",
        "Receiver Name",
        "Shipping Name",
        "Recipient",
        "Ship To Name",
    ),
    "receiver_phone": (
        "联系手机",
        "收货人手机",
        "收货人电话",
        "收件人手机",
        "收件人电话",
        "手机",
        "手机号",
        "手机号码",
        "Receiver Phone",
        "Shipping Phone",
        "Mobile",
        "Recipient Phone",
    ),
    "receiver_landline": ("联系电话", "固定电话", "座机"),
    "province": ("省", "省份", "收货省份", "State", "Province", "Shipping Province", "Ship State"),
    "city": ("市", "城市", "收货城市", "City", "Shipping City", "Ship City"),
    "district": ("区", "区县", "县区", "收货区县", "District", "County"),
    "street": (
        "详细地址",
        "街道地址",
        "街道",
        "收货详细地址",
        "Street",
        "Address Line",
        "Address1",
        "Shipping Street",
    ),
    "full_address": (
        "收货地址",
        "收件地址",
        "地址",
        "收货人地址",
        "Address",
        "Shipping Address",
        "Full Address",
    ),
    "postcode": ("邮编", "邮政编码", "Postcode", "Zip", "Zip Code", "Postal Code", "Shipping Zip"),
    "country": ("国家", "国家/地区", "Country", "Shipping Country"),
    "sku_code": (
        "商家编码",
        "SKU编码",
        "商品编码",
        "货号",
        "规格编码",
        "SKU",
        "SKU Code",
        "StockCode",
        "Stock Code",
        "Item Code",
        "Product Code",
        "Lineitem sku",
    ),
    "product_name": (
        "商品名称",
        "宝贝标题",
        "标题",
        "商品标题",
        "商品",
        "品名",
        "Product",
        "Product Name",
        "Description",
        "Item",
        "Item Name",
        "Title",
        "Lineitem name",
    ),
    "sku_properties": (
        "商品属性",
        "销售属性",
        "规格",
        "颜色分类",
        "SKU属性",
        "Variant",
        "Options",
        "Properties",
    ),
    "quantity": (
        "数量",
        "购买数量",
        "宝贝总数量",
        "商品数量",
        "件数",
        "Quantity",
        "Qty",
        "Lineitem quantity",
    ),
    "unit_price": (
        "单价",
        "价格",
        "商品单价",
        "销售单价",
        "Unit Price",
        "UnitPrice",
        "Price",
        "Lineitem price",
    ),
    "line_total": ("小计", "商品小计", "商品金额", "行金额", "Line Total", "Line Amount"),
    "subtotal": (
        "买家应付货款",
        "商品总价",
        "商品总金额",
        "货款",
        "Subtotal",
        "Sub Total",
        "Merchandise Total",
    ),
    "discount": (
        "优惠",
        "优惠金额",
        "折扣",
        "折扣金额",
        "店铺优惠",
        "Discount",
        "Discount Amount",
        "Discounts",
    ),
    "shipping_fee": (
        "运费",
        "邮费",
        "买家应付邮费",
        "快递费",
        "Shipping",
        "Shipping Fee",
        "Postage",
        "Freight",
    ),
    "total": (
        "总金额",
        "订单金额",
        "订单总金额",
        "应付金额",
        "合计金额",
        "Total",
        "Order Total",
        "Grand Total",
    ),
    "paid_amount": (
        "买家实际支付金额",
        "实付金额",
        "实收金额",
        "支付金额",
        "Paid Amount",
        "Amount Paid",
        "Paid",
    ),
    "refund_amount": ("退款金额", "Refund", "Refunded", "Refund Amount"),
    "buyer_note": ("买家留言", "买家备注", "客户留言", "Buyer Note", "Customer Note", "Note", "Notes"),
    "seller_note": (
        "订单备注",
        "卖家备注",
        "商家备注",
        "备注",
        "Seller Note",
        "Memo",
        "Remark",
        "Internal Note",
    ),
    "carrier": ("物流公司", "快递公司", "承运商", "快递", "Carrier", "Shipping Company", "Courier"),
    "tracking_number": (
        "物流单号",
        "运单号",
        "快递单号",
        "Tracking Number",
        "Tracking No",
        "Tracking",
        "Waybill",
    ),
}

#: Headers we recognise but do not import (Taobao export extras, columns added by our own error workbook).
#: They are listed as ignored, never silently dropped.
IGNORED_HEADERS: tuple[str, ...] = (
    "买家支付宝账号",
    "支付单号",
    "支付详情",
    "买家支付积分",
    "返点积分",
    "买家实际支付积分",
    "运送方式",
    "宝贝种类",
    "店铺Id",
    "店铺名称",
    "订单关闭原因",
    "卖家服务费",
    "买家服务费",
    "发票抬头",
    "是否手机订单",
    "分阶段订单信息",
    "特权订金订单id",
    "是否上传合同照片",
    "是否上传小票",
    "是否代付",
    "定金排名",
    "修改后的sku",
    "修改后的收货地址",
    "异常信息",
    "天猫卡券抵扣",
    "集分宝抵扣",
    "是否是O2O交易",
    "新零售交易类型",
    "新零售导购门店名称",
    "新零售导购门店id",
    "新零售发货门店名称",
    "新零售发货门店id",
    "预约门店",
    "打款商家金额",
    "含应开票给个人的个人红包",
    "是否信用购",
    "体验期结束时间",
    "前N有礼",
    "配送类型",
    "外部系统编号",
    "套餐信息",
    "错误原因 / Error",
    "原行号 / Source row",
    "主订单编号",
    "子订单编号",
)

_TRAILING_MARKS = re.compile(r"[\s:*]+$")
_LEADING_MARKS = re.compile(r"^[\s*]+")
_SPACES = re.compile(r"\s+")
_KEY_PUNCT = re.compile(r"[\s_\-./#]+")
_TRAILING_PAREN = re.compile(r"\s*\([^()]*\)$")


def normalize_header(text: object) -> str:
    """Fold a header as people vary it: NFKC (full-width -> half-width), trim, collapse spaces, case-fold,
    drop a trailing colon or required-marker asterisk."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFKC", str(text))
    value = _SPACES.sub(" ", value).strip()
    value = _TRAILING_MARKS.sub("", value)
    value = _LEADING_MARKS.sub("", value)
    return value.casefold()


def _keys(text: object) -> list[str]:
    """Lookup keys for a header: without punctuation, then also without a trailing unit like ``(元)``."""
    normal = normalize_header(text)
    keys = [_KEY_PUNCT.sub("", normal)]
    stripped = _TRAILING_PAREN.sub("", normal)
    if stripped != normal and stripped:
        keys.append(_KEY_PUNCT.sub("", stripped))
    return keys


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for field_name, aliases in ALIASES.items():
        for alias in aliases:
            key = _keys(alias)[0]
            owner = lookup.setdefault(key, field_name)
            if owner != field_name:  # pragma: no cover - guarded by a test
                raise ValueError(f"alias {alias!r} maps to both {owner} and {field_name}")
    for header in IGNORED_HEADERS:
        lookup.setdefault(_keys(header)[0], IGNORE)
    return lookup


_LOOKUP = _build_lookup()


def alias_field(header: object) -> str | None:
    """The field a header means by the alias table, ``IGNORE`` for known-but-skipped columns, else None."""
    for key in _keys(header):
        if key and key in _LOOKUP:
            return _LOOKUP[key]
    return None


def _profile_lookup(profile_mapping: Mapping[str, str] | None) -> dict[str, str]:
    if not profile_mapping:
        return {}
    return {_keys(header)[0]: target or IGNORE for header, target in profile_mapping.items()}


def count_known_headers(cells: Iterable[object], profile_mapping: Mapping[str, str] | None = None) -> int:
    """How many cells of a row are recognised column names (used to find the header row)."""
    profile = _profile_lookup(profile_mapping)
    count = 0
    for cell in cells:
        if cell is None or not isinstance(cell, str) or not cell.strip():
            continue
        key = _keys(cell)[0]
        if key in profile or alias_field(cell) not in (None, IGNORE):
            count += 1
    return count


@dataclass
class HeaderMatch:
    """Result of mapping a header row: the field per column and what is unknown, doubled or missing."""

    headers: list[str]
    fields: list[str | None]
    unknown_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    missing_required: list[str] = field(default_factory=list)
    invalid_profile_fields: list[str] = field(default_factory=list)

    def column_of(self, field_name: str) -> int | None:
        """Index of the (first) column mapped to ``field_name``, or ``None``."""
        try:
            return self.fields.index(field_name)
        except ValueError:
            return None

    @property
    def problems(self) -> list[str]:
        """File-level messages that make the file unimportable as laid out."""
        messages = [
            f"import profile maps a column to '{name}', which is not a known field"
            for name in self.invalid_profile_fields
        ]
        for field_name, headers in self.duplicates.items():
            quoted = " and ".join(f"'{h}'" for h in headers)
            messages.append(
                f"columns {quoted} both map to {FIELD_LABELS[field_name]}; "
                "remove one or map it in the import profile"
            )
        for field_name in self.missing_required:
            messages.append(f"missing required column {FIELD_LABELS[field_name]}")
        return messages


def match_headers(
    headers: Iterable[object],
    profile_mapping: Mapping[str, str] | None = None,
    *,
    required: Iterable[str] = REQUIRED_FIELDS,
) -> HeaderMatch:
    """Map each header to a field: the profile's mapping first, then the aliases; list the rest as unknown."""
    header_list = ["" if h is None else str(h) for h in headers]
    profile = _profile_lookup(profile_mapping)
    match = HeaderMatch(headers=header_list, fields=[])
    match.invalid_profile_fields = sorted(
        {t for t in profile.values() if t != IGNORE and t not in FIELD_LABELS}
    )
    seen: dict[str, list[str]] = {}
    for header in header_list:
        key = _keys(header)[0]
        target = profile.get(key) if key in profile else alias_field(header)
        if target is not None and target != IGNORE and target not in FIELD_LABELS:
            target = None  # reported through invalid_profile_fields
        if target == IGNORE:
            match.ignored_columns.append(header)
            match.fields.append(None)
        elif target is None:
            if header.strip():
                match.unknown_columns.append(header)
            match.fields.append(None)
        else:
            seen.setdefault(target, []).append(header)
            match.fields.append(target)
    match.duplicates = {name: hs for name, hs in seen.items() if len(hs) > 1}
    match.missing_required = [name for name in required if name not in seen]
    return match
