"""Outgoing webhooks against a real local receiver: signature, retries with backoff, pause and notice."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from oms import webhooks
from oms.models import WebhookDelivery, WebhookSubscription
from orders.choices import OrderStatus
from orders.tests.factories import UserFactory, order_in_status

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "s3cret"


class Receiver:
    """A local HTTP receiver that records requests and answers with scripted status codes."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        self.codes: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def subscribe(url: str, events: list[str]) -> WebhookSubscription:
    return WebhookSubscription.objects.create(name="ERP", url=url, secret=SECRET, events=events)


def test_status_change_is_delivered_signed(receiver):
    subscribe(receiver.url, [WebhookSubscription.Event.STATUS_CHANGED])
    order = order_in_status(OrderStatus.PENDING_REVIEW)
    assert receiver.requests, "the status change should have been delivered"
    headers, body = receiver.requests[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-OMS-Signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "order.status_changed"
    assert payload["order"]["number"] == order.number
    assert headers["X-OMS-Delivery"] == payload["delivery_id"]
    assert WebhookDelivery.objects.filter(status="delivered").count() == len(receiver.requests)


def test_unsubscribed_events_are_not_sent(receiver):
    subscribe(receiver.url, [WebhookSubscription.Event.SHIPPED])
    order_in_status(OrderStatus.AWAITING_SHIPMENT)
    assert receiver.requests == []
    order_in_status(OrderStatus.SHIPPED)
    assert [json.loads(body)["event"] for _h, body in receiver.requests] == ["order.shipped"]


def test_failures_retry_with_backoff_then_succeed_with_the_same_delivery_id(receiver):
    receiver.codes = [500, 503]
    subscribe(receiver.url, [WebhookSubscription.Event.ORDER_CREATED])
    order_in_status(OrderStatus.PENDING_PAYMENT)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.response_code == 500
    first_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=25) < first_wait <= timedelta(seconds=30)
    assert webhooks.retry_due_webhooks_task() == 0, "not due yet"
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert webhooks.retry_due_webhooks_task() == 0
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.response_code == 503
    assert delivery.next_attempt_at - timezone.now() > timedelta(seconds=55), "backoff doubles"
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert webhooks.retry_due_webhooks_task() == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    ids = {json.loads(body)["delivery_id"] for _h, body in receiver.requests}
    assert ids == {str(delivery.delivery_id)}


def test_a_subscription_that_keeps_failing_is_paused_and_managers_are_told(receiver):
    UserFactory(username="boss", email="boss@example.com", is_superuser=True)
    receiver.codes = [500] * 50
    subscription = subscribe(receiver.url, [WebhookSubscription.Event.ORDER_CREATED])
    for _ in range(webhooks.PAUSE_AFTER_FAILURES):
        order_in_status(OrderStatus.PENDING_PAYMENT)
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert "failed in a row" in subscription.pause_reason
    assert mail.outbox and "boss@example.com" in mail.outbox[0].to
    sent = len(receiver.requests)
    order_in_status(OrderStatus.PENDING_PAYMENT)
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    webhooks.retry_due_webhooks_task()
    assert len(receiver.requests) == sent, "a paused subscription gets nothing"


def test_unreachable_receiver_is_logged_not_raised():
    subscribe("http://127.0.0.1:9/nothing", [WebhookSubscription.Event.ORDER_CREATED])
    order = order_in_status(OrderStatus.PENDING_PAYMENT)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.response_code is None
    assert "ConnectError" in delivery.last_error
    assert order.pk


def test_a_bulk_page_queues_its_created_events_in_one_batch_and_one_task(receiver, monkeypatch):
    from oms.actors import Actor
    from orders.services import LineInput, OrderInput
    from orders.services.bulk import create_orders_bulk
    from orders.tests.factories import ADDRESS, stocked_product

    subscribe(receiver.url, [WebhookSubscription.Event.ORDER_CREATED])
    subscribe(receiver.url, [WebhookSubscription.Event.SHIPPED])
    one_by_one, tasks = [], []
    monkeypatch.setattr(webhooks, "queue_order_event", lambda *args: one_by_one.append(args))
    deliver = webhooks.deliver_webhooks_task
    monkeypatch.setattr(webhooks, "deliver_webhooks_task", lambda ids: tasks.append(ids) or deliver(ids))
    product = stocked_product()
    inputs = [OrderInput(lines=[LineInput(sku=product.sku, quantity=n + 1)], **ADDRESS) for n in range(3)]
    outcome = create_orders_bulk(inputs, actor=Actor.channel("shop"))
    numbers = {order.number for order in outcome.orders.values()}
    assert one_by_one == [] and len(tasks) == 1 and len(tasks[0]) == 3
    payloads = [json.loads(body) for _h, body in receiver.requests]
    assert {p["event"] for p in payloads} == {"order.created"}
    assert {p["order"]["number"] for p in payloads} == numbers
    assert WebhookDelivery.objects.filter(status="delivered").count() == 3
    assert webhooks.queue_orders_event("order.created", []) == []
