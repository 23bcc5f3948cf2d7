"""Carrier tracking against a local fake Kuaidi100 (real HTTP on 127.0.0.1): signed queries, checkpoints
on the timeline once, shipments and orders delivered, merged parcels polled once, errors recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django_q.models import Schedule

from orders import services
from orders.choices import EventType, OrderStatus
from orders.models import OrderEvent, Shipment, ShipmentTracking, TrackingEvent
from orders.services import fulfilment, tracking
from orders.tasks_fulfilment import poll_tracking_task
from orders.tests.factories import TEST_ACTOR, order_in_status
from orders.tracking import TrackingError, TrackingState, get_adapter
from orders.tracking.kuaidi100 import Kuaidi100Adapter, sign

CUSTOMER, KEY = "CUST0001", "secret-key"
S = OrderStatus


class FakeKuaidi100(ThreadingHTTPServer):
    """Answers /poll/query.do like Kuaidi100 from `parcels` (num → answer); checks the signature."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.parcels: dict[str, dict] = {}
        self.queries: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/poll/query.do"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        form = {
            k: v[0]
            for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()
        }
        server: FakeKuaidi100 = self.server  # type: ignore[assignment]
        server.queries.append(form)
        if form.get("customer") != CUSTOMER or form.get("sign") != sign(form.get("param", ""), KEY, CUSTOMER):
            body = {"result": False, "returnCode": "601", "message": "key已过期"}
        else:
            param = json.loads(form["param"])
            body = server.parcels.get(param["num"]) or {
                "result": False,
                "returnCode": "500",
                "message": "查询无结果，请隔段时间再查",
            }
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def answer(number: str, state: str, *checkpoints: tuple[str, str]) -> dict:
    """A Kuaidi100 success answer; checkpoints (time, text) are given oldest first, served newest first."""
    data = [{"time": t, "ftime": t, "context": c, "status": ""} for t, c in reversed(checkpoints)]
    return {
        "message": "ok",
        "nu": number,
        "ischeck": "1" if state == "3" else "0",
        "condition": "F00",
        "com": "shunfeng",
        "status": "200",
        "state": state,
        "data": data,
    }


@pytest.fixture
def fake() -> Iterator[FakeKuaidi100]:
    server = FakeKuaidi100()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def adapter(fake) -> Kuaidi100Adapter:
    return Kuaidi100Adapter(customer=CUSTOMER, key=KEY, url=fake.url)


def test_adapter_signs_and_translates(fake, adapter):
    fake.parcels["SF100"] = answer(
        "SF100", "0", ("2024-05-01 10:00:00", "已揽收"), ("2024-05-01 18:00:00", "运输中")
    )
    result = adapter.query(carrier="SF", tracking_number="SF100", phone="13900000000")
    assert result.state == TrackingState.IN_TRANSIT
    assert [c.description for c in result.checkpoints] == ["已揽收", "运输中"]
    param = json.loads(fake.queries[-1]["param"])
    assert param == {"com": "shunfeng", "num": "SF100", "phone": "13900000000"}
    with pytest.raises(TrackingError) as unknown:
        adapter.query(carrier="SF", tracking_number="NOPE")
    assert "查询无结果" in unknown.value.message
    with pytest.raises(TrackingError) as refused:
        Kuaidi100Adapter(customer=CUSTOMER, key="wrong", url=fake.url).query(
            carrier="SF", tracking_number="SF100"
        )
    assert refused.value.code == "tracking_refused"


@pytest.mark.django_db
def test_poll_moves_shipments_to_delivered_and_dedupes_timeline(fake, adapter, product):
    order = order_in_status(S.SHIPPED, lines=[(product, 1)])
    number = order.shipments.get().tracking_number
    fake.parcels[number] = answer(number, "0", ("2024-05-01 10:00:00", "已揽收"))

    first = tracking.poll_open_shipments(adapter=adapter)
    assert (first.parcels, first.new_events) == (1, 1)
    assert order.shipments.get().status == Shipment.Status.IN_TRANSIT
    assert tracking.poll_open_shipments(adapter=adapter).parcels == 0  # polled recently: waits

    fake.parcels[number] = answer(
        number, "3", ("2024-05-01 10:00:00", "已揽收"), ("2024-05-02 09:00:00", "已签收，本人签收")
    )
    shipment = order.shipments.get()
    tracking.record_tracking(shipment, adapter.query(carrier="SF", tracking_number=number), actor=TEST_ACTOR)
    tracking.record_tracking(shipment, adapter.query(carrier="SF", tracking_number=number), actor=TEST_ACTOR)

    assert TrackingEvent.objects.filter(shipment=shipment).count() == 2
    carrier_events = OrderEvent.objects.filter(order=order, type=EventType.CARRIER_EVENT)
    assert sorted(carrier_events.values_list("message", flat=True)) == [
        f"SF {number}: 已揽收",
        f"SF {number}: 已签收，本人签收",
    ]
    order.refresh_from_db()
    assert order.status == S.DELIVERED
    assert ShipmentTracking.objects.get(shipment=shipment).carrier_state == TrackingState.DELIVERED


@pytest.mark.django_db
def test_merged_parcel_is_polled_once_and_errors_are_kept(fake, adapter, product):
    first = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 1)])
    second = order_in_status(S.AWAITING_SHIPMENT, lines=[(product, 1)])
    master = fulfilment.merge_orders([first, second], actor=TEST_ACTOR)
    fulfilment.ship_merged_orders(master, carrier="SF", tracking_number="SF-MERGED", actor=TEST_ACTOR)
    lost = order_in_status(S.SHIPPED, lines=[(product, 1)])
    services.update_shipment(lost.shipments.get(), tracking_number="LOST", actor=TEST_ACTOR)
    fake.parcels["SF-MERGED"] = answer("SF-MERGED", "3", ("2024-05-02 09:00:00", "已签收"))

    summary = tracking.poll_open_shipments(adapter=adapter)

    assert summary.parcels == 2 and summary.delivered == 2 and len(summary.errors) == 1
    assert [json.loads(q["param"])["num"] for q in fake.queries].count("SF-MERGED") == 1
    for order in (first, second):
        order.refresh_from_db()
        assert order.status == S.DELIVERED
    assert "查询无结果" in ShipmentTracking.objects.get(shipment__order=lost).last_error


@pytest.mark.django_db
def test_task_and_schedule(fake, settings, product):
    assert Schedule.objects.filter(func="orders.tasks_fulfilment.poll_tracking_task").exists()
    settings.OMS_TRACKING = None
    assert get_adapter({}) is None
    assert poll_tracking_task().startswith("0 parcels")  # not configured: nothing to do, no error
    settings.OMS_TRACKING = {"backend": "kuaidi100", "customer": CUSTOMER, "key": KEY, "url": fake.url}
    order = order_in_status(S.SHIPPED, lines=[(product, 1)])
    number = order.shipments.get().tracking_number
    fake.parcels[number] = answer(number, "5", ("2024-05-02 08:00:00", "派件中"))
    assert poll_tracking_task().startswith("1 parcels, 1 new checkpoints")
