"""Encryption at rest for channel credentials (Fernet).

The key comes from the environment (`OMS_CREDENTIALS_KEY`, urlsafe base64 of 32 bytes; several keys separated by
commas rotate: the first encrypts, all decrypt). In DEBUG without a key one is derived from SECRET_KEY and a
warning says so; outside DEBUG a missing key is a configuration error, never a silent fallback.
Plaintext credentials never reach a log, a repr or an error message from this module.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from oms.errors import OMSError

logger = logging.getLogger(__name__)


class CredentialsUnreadable(OMSError):
    """Stored credentials cannot be decrypted with the configured key (key changed or data corrupted)."""

    default_code = "credentials_unreadable"


def derive_development_key(secret_key: str) -> bytes:
    """A Fernet key derived from SECRET_KEY (DEBUG only): sha256 of a labelled SECRET_KEY, base64-encoded."""
    digest = hashlib.sha256(b"oms-channel-credentials:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def key_source() -> str:
    """Where the credentials key comes from: 'environment' or 'derived' (from SECRET_KEY, DEBUG only)."""
    return "environment" if settings.OMS_CREDENTIALS_KEY.strip() else "derived"


@lru_cache(maxsize=4)
def _fernet_for(configured: str, secret_key: str, debug: bool) -> MultiFernet:
    keys = [key.strip() for key in configured.split(",") if key.strip()]
    if not keys:
        if not debug:
            raise ImproperlyConfigured(
                "OMS_CREDENTIALS_KEY must be set when DEBUG is off (generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
            )
        logger.warning(
            "OMS_CREDENTIALS_KEY is not set: channel credentials are encrypted with a key derived from "
            "SECRET_KEY (development only). Set OMS_CREDENTIALS_KEY before going live."
        )
        return MultiFernet([Fernet(derive_development_key(secret_key))])
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "OMS_CREDENTIALS_KEY is not a valid Fernet key (urlsafe base64 of 32 bytes)."
        )


def get_fernet() -> MultiFernet:
    """The Fernet used for channel credentials, built from the current settings."""
    return _fernet_for(settings.OMS_CREDENTIALS_KEY, settings.SECRET_KEY, settings.DEBUG)


def encrypt_credentials(values: dict[str, str]) -> str:
    """Encrypt a dict of credential values to a Fernet token (text); an empty dict gives ''."""
    cleaned = {key: value for key, value in values.items() if value not in (None, "")}
    if not cleaned:
        return ""
    return get_fernet().encrypt(json.dumps(cleaned, sort_keys=True).encode()).decode()


def decrypt_credentials(token: str) -> dict[str, str]:
    """Decrypt a token written by `encrypt_credentials`; '' gives {}. Raises CredentialsUnreadable."""
    if not token:
        return {}
    try:
        data = json.loads(get_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise CredentialsUnreadable(
            _("the stored credentials cannot be decrypted with the configured key; enter them again"),
            field="credentials",
        )
    return data if isinstance(data, dict) else {}


def rotate_token(token: str) -> str:
    """Re-encrypt a token with the first (newest) key, for key rotation."""
    return get_fernet().rotate(token.encode()).decode() if token else ""
