"""Notification backends: the Aliyun SMS request and signature against a fake server, retries, failures."""

from __future__ import annotations

import httpx
import pytest
from django.utils import timezone

from rules import notifications
from rules.models import Notification, OutboxStatus
from rules.notifications import AliyunSmsBackend, aliyun_signature, send_due_notifications, send_notification
from rules.tests import fake_aliyun

pytestmark = pytest.mark.django_db


def aliyun(url: str, **overrides) -> AliyunSmsBackend:
    return AliyunSmsBackend(
        {
            "access_key_id": fake_aliyun.ACCESS_KEY_ID,
            "access_key_secret": fake_aliyun.ACCESS_KEY_SECRET,
            "sign_name": "OMS",
            "template_code": "SMS_1",
            "endpoint": url,
            **overrides,
        }
    )


def sms(**fields) -> Notification:
    fields.setdefault("recipient", "13800138000")
    return Notification.objects.create(
        channel="sms", body="订单 SO1 已发货 ~ *ok*", next_attempt_at=timezone.now(), **fields
    )


def test_signature_matches_the_documented_example():
    """Aliyun's documented example (RPC signature v1.0): AccessKeySecret 'testsecret'."""
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert aliyun_signature(params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert aliyun_signature(params, "testsecret") == fake_aliyun.expected_signature(params, "testsecret")


def test_sms_is_signed_and_accepted_by_the_fake_server():
    with fake_aliyun.FakeAliyun() as server:
        notification = sms()
        assert send_notification(notification, backend=aliyun(server.url))
        [params] = server.messages
    notification.refresh_from_db()
    assert notification.status == OutboxStatus.SENT and notification.provider_id == "biz-1"
    assert params["TemplateParam"] == '{"content":"订单 SO1 已发货 ~ *ok*"}'
    assert params["Timestamp"].endswith("Z") and params["Format"] == "JSON"


def test_a_wrong_secret_is_refused_and_retried_later():
    with fake_aliyun.FakeAliyun() as server:
        notification = sms()
        assert not send_notification(notification, backend=aliyun(server.url, access_key_secret="wrong"))
    notification.refresh_from_db()
    assert notification.status == OutboxStatus.PENDING and notification.attempts == 1
    assert notification.last_error.startswith("SignatureDoesNotMatch")
    assert notification.next_attempt_at > timezone.now()


def test_a_bad_number_is_not_retried():
    with fake_aliyun.FakeAliyun() as server:
        server.fail_next.append((200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "bad number"}))
        notification = sms()
        assert not send_notification(notification, backend=aliyun(server.url))
    assert notification.status == OutboxStatus.FAILED


def test_network_errors_retry_until_the_limit(settings):
    settings.OMS_SMS_BACKEND = "aliyun"
    settings.OMS_ALIYUN_SMS = {**aliyun("http://127.0.0.1:9/").config}
    notification = sms()
    for _attempt in range(notifications.MAX_ATTEMPTS):
        Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
        assert send_due_notifications() == 0
    notification.refresh_from_db()
    assert notification.status == OutboxStatus.FAILED and notification.attempts == notifications.MAX_ATTEMPTS
    assert "ConnectError" in notification.last_error


def test_missing_configuration_fails_once_with_a_clear_message():
    notification = sms()
    assert not send_notification(notification, backend=AliyunSmsBackend({}))
    assert notification.status == OutboxStatus.FAILED
    assert notification.last_error == "OMS_ALIYUN_SMS['access_key_id'] is not set"


def test_console_is_the_default_sms_backend():
    notification = sms()
    assert send_due_notifications([notification.pk]) == 1
    notification.refresh_from_db()
    assert notification.backend == "console" and notification.status == OutboxStatus.SENT
    assert send_due_notifications([notification.pk]) == 0, "a sent notification is never sent twice"


def test_an_unknown_backend_key_fails_the_message(settings):
    settings.OMS_SMS_BACKEND = "pigeon"
    notification = sms()
    send_notification(notification)
    assert notification.status == OutboxStatus.FAILED and "pigeon" in notification.last_error


def test_the_backend_uses_a_given_http_client():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        return httpx.Response(200, json={"Code": "OK", "BizId": "b"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        assert aliyun("https://dysmsapi.aliyuncs.com/").send(sms(), client=client).provider_id == "b"
    assert seen[0]["Action"] == "SendSms" and seen[0]["Version"] == "2017-05-25"
    assert seen[0]["Signature"] == fake_aliyun.expected_signature(seen[0])
