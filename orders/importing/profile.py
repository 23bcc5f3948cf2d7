"""The import profile as plain data: how one recurring spreadsheet layout maps onto order fields.

The Django model (a manager's saved profile) converts to this dataclass, so the parsing layer never
touches the ORM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Map a column to this value in ``column_mapping`` to skip it on purpose (it is then not listed as unknown).
IGNORE = "ignore"


@dataclass(frozen=True)
class ImportProfileSpec:
    """A saved layout: column header -> field (or ``IGNORE``), date order, defaults, sheet and encoding."""

    column_mapping: Mapping[str, str] = field(default_factory=dict)
    day_first: bool = False
    default_channel: str | None = None
    default_status: str | None = None
    sheet_name: str | None = None
    encoding: str | None = None
    timezone: str | None = None
