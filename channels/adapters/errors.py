"""Errors raised by the platform adapters, each with a stable `code` (re-exported from
`channels.adapters.base`).
"""

from __future__ import annotations


class AdapterError(Exception):
    """A platform call or payload OMS cannot use: a stable machine `code` plus a message a person can act on."""

    default_code = "adapter_error"

    def __init__(self, code: str | None = None, message: str = "") -> None:
        self.code = code or self.default_code
        self.message = message or self.code
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class SignatureError(AdapterError):
    """A webhook whose signature (or timestamp) does not verify: refuse it, never process it."""

    default_code = "bad_signature"

    def __init__(self, message: str = "signature does not match") -> None:
        super().__init__(self.default_code, message)


class RateLimited(AdapterError):
    """The platform throttled us and retries ran out; `retry_after` is the platform's last hint in seconds."""

    default_code = "rate_limited"

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None) -> None:
        super().__init__(self.default_code, message)
        self.retry_after = retry_after


class PlatformUnavailable(AdapterError):
    """5xx answers or transport failures persisted through every retry."""

    default_code = "platform_unavailable"

    def __init__(self, message: str = "platform unavailable") -> None:
        super().__init__(self.default_code, message)


class MalformedResponse(AdapterError):
    """A response that is not JSON, or lacks a key the platform documents; the message names what was wrong."""

    default_code = "malformed_response"

    def __init__(self, message: str) -> None:
        super().__init__(self.default_code, message)


class PlatformError(AdapterError):
    """The platform answered with its own error (bad signature, expired token, invalid parameter...).

    `platform_code` / `sub_code` keep the platform's own values so the sync report can show them verbatim.
    """

    default_code = "platform_error"

    def __init__(self, message: str, *, platform_code: object = None, sub_code: object = None) -> None:
        super().__init__(self.default_code, message)
        self.platform_code = platform_code
        self.sub_code = sub_code
