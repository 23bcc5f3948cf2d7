"""Customers: normalization and deduplication (phone, else email, else channel buyer id), address memory."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from orders.models import Customer, CustomerAddress

_NON_DIGITS = re.compile(r"\D+")


def normalize_phone(raw: str | None) -> str:
    """Normalize a Chinese mobile phone: digits only, +86/0086 country code dropped; masked numbers kept."""
    if not raw:
        return ""
    text = str(raw).strip().lstrip("'")
    if text.endswith(".0"):
        text = text[:-2]
    if "*" in text:
        return text.replace(" ", "")
    digits = _NON_DIGITS.sub("", text)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def normalize_email(raw: str | None) -> str:
    """Lower-case and strip an email address."""
    return (raw or "").strip().lower()


def customer_dedupe_key(
    *, phone: str = "", email: str = "", channel_code: str = "", buyer_id: str = ""
) -> str:
    """The identity a customer is deduplicated on, strongest first; empty when nothing identifies them."""
    phone = normalize_phone(phone)
    if phone and "*" not in phone:
        return f"phone:{phone}"
    email = normalize_email(email)
    if email:
        return f"email:{email}"
    if buyer_id:
        return f"buyer:{channel_code}:{buyer_id}"
    return ""


def find_or_create_customer(
    *, name: str = "", phone: str = "", email: str = "", channel=None, buyer_id: str = ""
) -> Customer | None:
    """Return the customer these identifiers belong to, creating them once (safe under concurrency)."""
    key = customer_dedupe_key(
        phone=phone, email=email, channel_code=getattr(channel, "code", ""), buyer_id=buyer_id or ""
    )
    if not key:
        return None
    customer = Customer.objects.filter(dedupe_key=key).first()
    if customer:
        return customer
    try:
        with transaction.atomic():
            return Customer.objects.create(
                dedupe_key=key,
                name=name[:200],
                phone=normalize_phone(phone),
                email=normalize_email(email),
                channel=channel,
                channel_buyer_id=buyer_id or "",
            )
    except IntegrityError:
        return Customer.objects.get(dedupe_key=key)


def remember_address(customer: Customer, **address) -> CustomerAddress:
    """Record that `customer` used this address (creating it or bumping its use count)."""
    keys = ("receiver_name", "receiver_phone", "province", "city", "district", "street")
    lookup = {key: address.get(key, "") or "" for key in keys}
    entry, _created = CustomerAddress.objects.get_or_create(
        customer=customer, **lookup, defaults={"postcode": address.get("postcode", "") or ""}
    )
    CustomerAddress.objects.filter(pk=entry.pk).update(
        use_count=F("use_count") + 1, last_used_at=timezone.now()
    )
    entry.refresh_from_db()
    return entry
