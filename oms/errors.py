"""Errors with stable codes, raised by services and shown to clerks, API clients and importers."""

from __future__ import annotations


class OMSError(Exception):
    """A refused business action: a stable machine `code`, a message a clerk can act on, the field at fault."""

    default_code = "error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None, **params):
        super().__init__(message)
        self.message = str(message)
        self.code = code or self.default_code
        self.field = field
        self.params = params

    def as_dict(self) -> dict:
        """The error as JSON-ready data (code, message, field)."""
        return {"code": self.code, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return self.message


class ValidationFailed(OMSError):
    """Input that cannot be accepted (bad quantity, unknown SKU, amounts that don't add up)."""

    default_code = "invalid"


class TransitionNotAllowed(OMSError):
    """A status change the state machine does not allow from the order's current status."""

    default_code = "transition_not_allowed"


class StockShortage(OMSError):
    """Not enough available stock to reserve or deduct."""

    default_code = "stock_short"


class NotFound(OMSError):
    """A referenced object (SKU, warehouse, order) does not exist."""

    default_code = "not_found"
