"""Money helpers: every amount is a Decimal quantized to cents, never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from oms.errors import ValidationFailed

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: object, *, field: str = "amount") -> Decimal:
    """Convert a str/int/Decimal to a cent-quantized Decimal; floats and garbage are refused."""
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationFailed(f"{field}: '{value}' is not an amount", code="invalid_amount", field=field)
    if not amount.is_finite():
        raise ValidationFailed(f"{field}: '{value}' is not an amount", code="invalid_amount", field=field)
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def fen_to_yuan(fen: int | str) -> Decimal:
    """Convert an integer amount in fen (cents) to yuan."""
    return (Decimal(int(fen)) / 100).quantize(CENT)
