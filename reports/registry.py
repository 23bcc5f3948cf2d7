"""The registry of built-in reports. A report is a declaration, not a view.

Each `ReportSpec` names its parameters form, its sections (columns and chart, declared once) and a query
function that returns, per section, rows and a totals row computed by the database. The admin page, the
Excel export and scheduled delivery all render any spec the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class Column:
    """One column of a report table. `kind` decides formatting on screen and in Excel."""

    key: str
    label: str | Promise
    kind: str = "text"  # text | int | money | float | percent | hours | days | date

    @property
    def numeric(self) -> bool:
        """Whether the column holds numbers (right-aligned, charted, totalled)."""
        return self.kind not in {"text", "date"}


@dataclass(frozen=True)
class Chart:
    """How a section is charted: `x` is the label column, `series` the plotted numeric columns."""

    kind: str  # line | bar | stacked_bar | doughnut | heatmap
    x: str
    series: tuple[str, ...]
    #: Series drawn on a secondary (right) axis, e.g. revenue beside order counts.
    secondary: tuple[str, ...] = ()
    #: A second label column whose values become one series each (two-dimension custom reports).
    pivot: str = ""


@dataclass(frozen=True)
class SectionSpec:
    """A table of a report (a report may have several, e.g. top customers and RFM segments)."""

    key: str
    title: str | Promise
    columns: tuple[Column, ...]
    chart: Chart | None = None
    description: str | Promise = ""

    def column(self, key: str) -> Column:
        """The column with this key."""
        return next(column for column in self.columns if column.key == key)


@dataclass
class SectionData:
    """What a query returns for one section: rows (dicts keyed by column), database totals and a note."""

    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    note: str | Promise = ""


@dataclass
class Section:
    """A section spec with its data, ready to render."""

    spec: SectionSpec
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    note: str | Promise = ""

    @property
    def columns(self) -> tuple[Column, ...]:
        """The section's columns."""
        return self.spec.columns


@dataclass
class ReportResult:
    """A report run: its title, the filters used (label, value) and its sections."""

    code: str
    title: str | Promise
    filters: list[tuple[str, str]]
    sections: list[Section]
    notes: list[str | Promise] = field(default_factory=list)


@dataclass(frozen=True)
class ReportSpec:
    """A built-in report: code, title, parameters form, sections and the query that fills them."""

    code: str
    title: str | Promise
    description: str | Promise
    form_class: type
    sections: tuple[SectionSpec, ...]
    query: Callable[..., dict[str, SectionData]]
    #: Notes shown under the title and in the workbook (definitions of the figures).
    notes: tuple[str | Promise, ...] = ()
    order: int = 100

    def run(self, params) -> ReportResult:
        """Run the query with validated parameters (`ReportParams`) and pair data with the declared sections."""
        from reports.queries import report_session

        with report_session():
            data = self.query(params)
        sections = [
            Section(spec, data[spec.key].rows, data[spec.key].totals, data[spec.key].note)
            for spec in self.sections
            if spec.key in data
        ]
        return ReportResult(self.code, self.title, params.describe(), sections, list(self.notes))


_REGISTRY: dict[str, ReportSpec] = {}


def register(spec: ReportSpec) -> ReportSpec:
    """Add a report to the registry under its code (codes are unique)."""
    if spec.code in _REGISTRY:
        raise ValueError(f"report {spec.code!r} is already registered")
    _REGISTRY[spec.code] = spec
    return spec


def get_report(code: str) -> ReportSpec:
    """The built-in report with this code (KeyError if unknown)."""
    _load_specs()
    return _REGISTRY[code]


def all_reports() -> list[ReportSpec]:
    """Every built-in report, in catalogue order."""
    _load_specs()
    return sorted(_REGISTRY.values(), key=lambda spec: (spec.order, spec.code))


def report_choices() -> list[tuple[str, str]]:
    """(code, title) pairs for choice fields."""
    return [(spec.code, str(spec.title)) for spec in all_reports()]


def _load_specs() -> None:
    """Import the spec modules once; each registers its reports on import."""
    import reports.specs  # noqa: F401
