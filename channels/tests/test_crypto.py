"""Credentials: encrypted at rest with the environment's key, write-only in the admin, never logged."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from channels import crypto
from channels.models import Channel
from channels.services import set_credentials

KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def credentials_key(settings):
    settings.OMS_CREDENTIALS_KEY = KEY
    settings.LANGUAGE_CODE = "en"  # assertions read English texts


def test_round_trip_and_ciphertext_hides_the_secret():
    token = crypto.encrypt_credentials({"app_key": "k", "app_secret": "s3cret-value"})
    assert "s3cret-value" not in token
    assert crypto.decrypt_credentials(token) == {"app_key": "k", "app_secret": "s3cret-value"}
    assert crypto.encrypt_credentials({}) == "" and crypto.decrypt_credentials("") == {}


def test_wrong_key_is_a_clear_error(settings):
    token = crypto.encrypt_credentials({"app_secret": "x"})
    settings.OMS_CREDENTIALS_KEY = Fernet.generate_key().decode()
    with pytest.raises(crypto.CredentialsUnreadable) as caught:
        crypto.decrypt_credentials(token)
    assert caught.value.code == "credentials_unreadable"


def test_key_rotation_decrypts_old_tokens(settings):
    old = crypto.encrypt_credentials({"app_secret": "x"})
    new_key = Fernet.generate_key().decode()
    settings.OMS_CREDENTIALS_KEY = f"{new_key},{KEY}"
    assert crypto.decrypt_credentials(old) == {"app_secret": "x"}
    rotated = crypto.rotate_token(old)
    settings.OMS_CREDENTIALS_KEY = new_key
    assert crypto.decrypt_credentials(rotated) == {"app_secret": "x"}


def test_debug_without_key_derives_one_and_says_so(settings, caplog):
    settings.OMS_CREDENTIALS_KEY, settings.DEBUG = "", True
    crypto._fernet_for.cache_clear()
    with caplog.at_level(logging.WARNING, logger="channels.crypto"):
        token = crypto.encrypt_credentials({"app_secret": "x"})
    assert "derived from SECRET_KEY" in caplog.text and crypto.key_source() == "derived"
    assert crypto.decrypt_credentials(token) == {"app_secret": "x"}


def test_production_without_key_refuses(settings):
    settings.OMS_CREDENTIALS_KEY, settings.DEBUG = "", False
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt_credentials({"app_secret": "x"})


def test_bad_key_is_a_configuration_error(settings):
    settings.OMS_CREDENTIALS_KEY = "not-a-key"
    with pytest.raises(ImproperlyConfigured):
        crypto.get_fernet()


@pytest.mark.django_db
def test_channel_stores_only_ciphertext_and_keeps_blank_fields():
    channel = Channel.objects.create(code="c", name="C", platform="taobao")
    set_credentials(channel, app_key="key", app_secret="top-secret", access_token="tok")
    set_credentials(channel, access_token="tok2")  # the other values are kept
    channel.refresh_from_db()
    assert "top-secret" not in channel.credentials_encrypted
    creds = channel.get_credentials()
    assert (creds.app_key, creds.app_secret, creds.access_token) == ("key", "top-secret", "tok2")
    assert "top-secret" not in repr(creds)


@pytest.mark.django_db
def test_admin_form_is_write_only_and_saves_encrypted(admin_client):
    channel = Channel.objects.create(code="c", name="C", platform="taobao")
    set_credentials(channel, app_key="key", app_secret="top-secret")
    page = admin_client.get(f"/admin/channels/channel/{channel.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "top-secret" not in html and "stored, encrypted" in html
    data = {
        "code": "c",
        "name": "C",
        "platform": "taobao",
        "currency": "CNY",
        "is_active": "on",
        "api_base_url": "",
        "app_key": "",
        "app_secret": "new-secret",
        "access_token": "",
        "shop_id": "",
        "sync_enabled": "on",
        "sync_interval_minutes": "7",
        "initial_sync_days": "3",
        "sync_cursor": "",
    }
    response = admin_client.post(f"/admin/channels/channel/{channel.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    channel.refresh_from_db()
    creds = channel.get_credentials()
    assert (creds.app_key, creds.app_secret) == ("key", "new-secret")
    from django_q.models import Schedule

    assert Schedule.objects.get(name="channel-sync:c").minutes == 7
