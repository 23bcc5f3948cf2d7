"""A Taobao seller-centre export (real 2019+ header row, GBK, the export's quirks) imported into a Taobao
channel: the status labels go through the channel's status mappings, then the built-in labels."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from channels.choices import Platform
from channels.models import StatusMapping
from orders.choices import EventType, OrderStatus
from orders.models import Order
from orders.tests.factories import ChannelFactory
from orders.tests.importing_corpus import write_csv

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


def taobao_export(samples_dir: Path, tmp_path: Path, statuses: dict[str, str]) -> Path:
    """One order per (order number, 订单状态 label) on the real header row, saved as GBK like the seller centre."""
    with (samples_dir / "sheets" / "ExportOrderList_headers_2019plus.csv").open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    rows = [header]
    for n, (number, label) in enumerate(statuses.items()):
        values = {
            "订单编号": f'="{number}"',
            "买家会员名": f"tb_buyer_{n}",
            "买家应付货款": "198.00",
            "买家应付邮费": "10.00",
            "总金额": "208.00",
            "买家实际支付金额": "208.00",
            "订单状态": label,
            "收货人姓名": "张三",
            "收货地址 ": "浙江省 杭州市 西湖区 文三路 100号(310000)",
            "联系手机": f"'1391234567{n}",
            "订单创建时间": "2019-11-11 00:00:01",
            "订单付款时间 ": "2019-11-11 00:00:09",
            "宝贝标题 ": "青花瓷杯",
            "宝贝总数量": "2",
            "订单关闭原因": "订单未关闭",
        }
        rows.append([values.get(name, "") for name in header])
    return write_csv(tmp_path / "ExportOrderList201911.csv", rows, "gbk")


def test_taobao_export_in_gbk_maps_statuses_through_the_channels_status_mappings(samples_dir, tmp_path):
    shop = ChannelFactory(code="tb", name="淘宝店", platform=Platform.TAOBAO)
    other = ChannelFactory(code="tb2", name="另一家淘宝店", platform=Platform.TAOBAO)
    # the shop reviews paid orders first; written with an ASCII comma, the export writes a full-width one
    StatusMapping.objects.create(
        platform=Platform.TAOBAO,
        channel=shop,
        platform_status="买家已付款,等待卖家发货",
        internal_status="pending_review",
    )
    StatusMapping.objects.create(
        platform=Platform.TAOBAO, channel=other, platform_status="交易成功", internal_status="closed"
    )
    StatusMapping.objects.create(
        platform=Platform.TAOBAO, platform_status="交易关闭", internal_status="cancelled"
    )
    StatusMapping.objects.create(
        platform=Platform.TMALL, platform_status="交易成功", internal_status="closed"
    )
    path = taobao_export(
        samples_dir,
        tmp_path,
        {
            "35153131473293579": "买家已付款，等待卖家发货",  # the shop's own row
            "35153131473293580": "交易关闭",  # the Taobao platform row
            "35153131473293581": "交易成功",  # no row for this shop: the built-in label
            "35153131473293582": "卖家已发货，等待买家确认",
        },
    )
    out = StringIO()
    call_command("import_orders", str(path), "--channel", "tb", stdout=out, stderr=out)
    statuses = dict(Order.objects.filter(channel=shop).values_list("external_id", "status"))
    assert statuses == {
        "35153131473293579": OrderStatus.PENDING_REVIEW,
        "35153131473293580": OrderStatus.CANCELLED,
        "35153131473293581": OrderStatus.COMPLETED,
        "35153131473293582": OrderStatus.SHIPPED,
    }, out.getvalue()
    order = Order.objects.get(external_id="35153131473293579")
    assert (order.receiver_phone, order.province, order.city, order.district, order.street, order.postcode) == (
        "13912345670", "浙江省", "杭州市", "西湖区", "文三路 100号", "310000"
    )  # fmt: skip
    assert (order.total, order.placed_at) == (Decimal("208.00"), datetime(2019, 11, 11, 0, 0, 1, tzinfo=SH))
    assert order.events.get().type == EventType.IMPORTED
    call_command("import_orders", str(path), "--channel", "tb", stdout=StringIO(), stderr=StringIO())
    assert Order.objects.count() == 4, "a second import of the same file changes nothing"
