"""What rules send after commit: customer notifications through pluggable backends, and signed webhook calls.

Backends register by a short key (NetBox-style registry, no dotted paths in the database):

    console  log the message (default for SMS; nothing leaves the machine)
    email    Django's send_mail (default for email; EMAIL_BACKEND decides where it goes)
    aliyun   Aliyun SMS (dysmsapi 2017-05-25, RPC style, HMAC-SHA1 signature version 1.0)

Settings (read with defaults): OMS_SMS_BACKEND ("console"), OMS_EMAIL_NOTIFY_BACKEND ("email"),
OMS_ALIYUN_SMS = {"access_key_id", "access_key_secret", "sign_name", "template_code",
"template_param" ("content"), "endpoint" ("https://dysmsapi.aliyuncs.com/"), "region_id" ("cn-hangzhou")},
OMS_RULE_WEBHOOK_SECRET (signs rule webhook calls; default derived from SECRET_KEY).

Every message is a Notification row: sending updates its status, attempts and error; a failure is retried
with backoff up to MAX_ATTEMPTS and never reaches the order flow.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from oms.actors import Actor
from rules.models import Notification, OutboxStatus, WebhookCall

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 60
TIMEOUT_SECONDS = 5.0
BATCH_SIZE = 200


class SendError(Exception):
    """A message that could not be sent; `retryable` False for refusals a retry cannot fix."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Sent:
    """What a backend reports for a delivered message."""

    provider_id: str = ""


class NotificationBackend:
    """Sends one Notification; raises SendError on failure."""

    key = ""
    label = ""

    def send(self, notification: Notification, *, client: httpx.Client | None = None) -> Sent:
        raise NotImplementedError


BACKENDS: dict[str, type[NotificationBackend]] = {}


def register_backend(cls: type[NotificationBackend]) -> type[NotificationBackend]:
    """Class decorator adding a backend to the registry under its key."""
    BACKENDS[cls.key] = cls
    return cls


@register_backend
class ConsoleBackend(NotificationBackend):
    """Writes the message to the log: for development and demos."""

    key = "console"
    label = "Console (log)"

    def send(self, notification: Notification, *, client: httpx.Client | None = None) -> Sent:
        logger.info(
            "notification %s to %s: %s", notification.channel, notification.recipient, notification.body
        )
        return Sent(f"console-{notification.pk}")


@register_backend
class EmailBackend(NotificationBackend):
    """Django's send_mail: the project's EMAIL_BACKEND decides where it goes."""

    key = "email"
    label = "Email (Django)"

    def send(self, notification: Notification, *, client: httpx.Client | None = None) -> Sent:
        try:
            sent = send_mail(
                notification.subject or _("About your order"),
                notification.body,
                None,
                [notification.recipient],
            )
        except Exception as error:  # SMTP errors come in many classes
            raise SendError(f"{type(error).__name__}: {error}")
        if not sent:
            raise SendError(_("the mail backend sent nothing"))
        return Sent()


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's signature wants it (space %20, '*' %2A, '~' kept)."""
    return quote(str(value), safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "GET") -> str:
    """Aliyun RPC signature v1.0: base64(HMAC-SHA1(secret + '&', METHOD&%2F&encode(sorted canonical query)))."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


_ALIYUN_PERMANENT = ("isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL")


@register_backend
class AliyunSmsBackend(NotificationBackend):
    """Aliyun SMS SendSms. The message text goes into the template parameter `template_param`."""

    key = "aliyun"
    label = "Aliyun SMS"

    def __init__(self, config: dict[str, Any] | None = None):
        self.config = {
            "endpoint": "https://dysmsapi.aliyuncs.com/",
            "region_id": "cn-hangzhou",
            "template_param": "content",
            **(config if config is not None else getattr(settings, "OMS_ALIYUN_SMS", {})),
        }

    def params(self, notification: Notification) -> dict[str, str]:
        """The signed query parameters for one message."""
        config = self.config
        for key in ("access_key_id", "access_key_secret", "sign_name", "template_code"):
            if not config.get(key):
                raise SendError(_("OMS_ALIYUN_SMS['%(key)s'] is not set") % {"key": key}, retryable=False)
        params = {
            "AccessKeyId": config["access_key_id"],
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": notification.recipient,
            "RegionId": config["region_id"],
            "SignName": config["sign_name"],
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": config["template_code"],
            "TemplateParam": json.dumps(
                {config["template_param"]: notification.body}, ensure_ascii=False, separators=(",", ":")
            ),
            "Timestamp": timezone.now().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, config["access_key_secret"])
        return params

    def send(self, notification: Notification, *, client: httpx.Client | None = None) -> Sent:
        params = self.params(notification)
        try:
            http = client or httpx.Client(timeout=TIMEOUT_SECONDS)
            try:
                response = http.get(self.config["endpoint"], params=params)
            finally:
                if client is None:
                    http.close()
        except httpx.HTTPError as error:
            raise SendError(f"{type(error).__name__}: {error}")
        try:
            data = response.json()
        except ValueError:
            raise SendError(f"HTTP {response.status_code}: {response.text[:200]}")
        code = data.get("Code", "")
        if response.status_code == 200 and code == "OK":
            return Sent(data.get("BizId", ""))
        message = f"{code or response.status_code}: {data.get('Message', '')}"
        raise SendError(message, retryable=not code.startswith(_ALIYUN_PERMANENT))


def backend_for(channel: str) -> NotificationBackend:
    """The configured backend for a channel ('sms' or 'email')."""
    if channel == Notification.Channel.SMS:
        key = getattr(settings, "OMS_SMS_BACKEND", "console") or "console"
    else:
        key = getattr(settings, "OMS_EMAIL_NOTIFY_BACKEND", "email") or "email"
    if key not in BACKENDS:
        raise SendError(_("unknown notification backend '%(key)s'") % {"key": key}, retryable=False)
    return BACKENDS[key]()


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))


def send_notification(
    notification: Notification,
    *,
    backend: NotificationBackend | None = None,
    client: httpx.Client | None = None,
) -> bool:
    """Try one pending notification once: record sent, a retry with backoff, or the final failure."""
    from orders.choices import EventType
    from orders.services import record_event

    notification.attempts += 1
    now = timezone.now()
    try:
        if not notification.recipient:
            raise SendError(_("the customer has no address for this channel"), retryable=False)
        backend = backend or backend_for(notification.channel)
        notification.backend = backend.key
        sent = backend.send(notification, client=client)
    except SendError as error:
        notification.last_error = str(error)[:500]
        if not error.retryable or notification.attempts >= MAX_ATTEMPTS:
            notification.status = OutboxStatus.FAILED
            notification.next_attempt_at = None
        else:
            notification.next_attempt_at = now + _backoff(notification.attempts)
        ok = False
    else:
        notification.status = OutboxStatus.SENT
        notification.sent_at = now
        notification.provider_id = sent.provider_id[:100]
        notification.last_error = ""
        notification.next_attempt_at = None
        ok = True
    notification.save(
        update_fields=[
            "attempts",
            "backend",
            "status",
            "sent_at",
            "provider_id",
            "last_error",
            "next_attempt_at",
        ]
    )
    if ok and notification.order_id:
        label = notification.rule.name if notification.rule_id else "notifications"
        record_event(
            notification.order,
            type=EventType.NOTIFICATION_SENT,
            actor=Actor.rule(label),
            message=_("%(channel)s to %(to)s: %(body)s")
            % {
                "channel": notification.get_channel_display(),
                "to": notification.recipient,
                "body": notification.body,
            },
            notification_id=notification.pk,
            backend=notification.backend,
        )
    return ok


def webhook_secret() -> str:
    """The secret rule webhook calls are signed with."""
    configured = getattr(settings, "OMS_RULE_WEBHOOK_SECRET", "")
    return configured or salted_hmac("rules.webhook", "secret").hexdigest()


def retry_notifications_now(ids: list[int]) -> int:
    """Reset unsent notifications (attempts and backoff) and send them now; returns how many were sent."""
    Notification.objects.filter(pk__in=ids).exclude(status=OutboxStatus.SENT).update(
        status=OutboxStatus.PENDING, next_attempt_at=timezone.now(), attempts=0
    )
    return send_due_notifications(ids)


def deliver_webhook_call(call: WebhookCall, *, client: httpx.Client | None = None) -> bool:
    """POST one rule webhook call once (signed like oms.webhooks); record the outcome or schedule a retry."""
    from oms.webhooks import post_signed_json

    call.attempts += 1
    ok, call.response_code, call.last_error = post_signed_json(
        call.url,
        call.payload,
        secret=webhook_secret(),
        event="rule_fired",
        delivery_id=str(call.delivery_id),
        user_agent="OMS-Rules/1",
        client=client,
    )
    now = timezone.now()
    if ok:
        call.status, call.sent_at, call.next_attempt_at = OutboxStatus.SENT, now, None
    elif call.attempts >= MAX_ATTEMPTS:
        call.status, call.next_attempt_at = OutboxStatus.FAILED, None
    else:
        call.next_attempt_at = now + _backoff(call.attempts)
    call.save(
        update_fields=["attempts", "response_code", "last_error", "status", "sent_at", "next_attempt_at"]
    )
    return ok


def _due(model: type, ids: list[int] | None):
    queryset = model.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now())
    return (
        queryset.filter(pk__in=ids) if ids is not None else queryset.order_by("next_attempt_at")[:BATCH_SIZE]
    )


def _send_each(model: type, ids: list[int] | None, send: Callable[..., bool]) -> int:
    """Send due rows one by one, each claimed under a row lock so two workers never send the same one."""
    done = 0
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        for pk in list(_due(model, ids).values_list("pk", flat=True)):
            with transaction.atomic():
                row = _due(model, [pk]).select_for_update(skip_locked=True).first()
                if row is not None:
                    done += send(row, client=client)
    return done


def send_due_notifications(ids: list[int] | None = None) -> int:
    """Send pending notifications that are due (these ids, or the oldest batch); returns how many were sent."""
    return _send_each(Notification, ids, send_notification)


def deliver_due_webhook_calls(ids: list[int] | None = None) -> int:
    """Deliver pending rule webhook calls that are due; returns how many were delivered."""
    return _send_each(WebhookCall, ids, deliver_webhook_call)
