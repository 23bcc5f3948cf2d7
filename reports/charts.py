"""Chart data of a report section: labels and datasets, shared by the admin page (Chart.js) and Excel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from reports.registry import Section

#: Colour-blind-friendly palette (Okabe–Ito), then greys.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999"]


def _plain(value: Any) -> Any:
    """JSON-friendly numbers and labels."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return value


def chart_data(section: Section) -> tuple[list[Any], list[dict[str, Any]]]:
    """(labels, datasets) of a section's chart; a pivot chart has one dataset per second-dimension value."""
    spec = section.spec.chart
    if spec is None:
        return [], []
    if spec.pivot:
        measure = spec.series[0]
        labels: list[Any] = []
        series: dict[Any, dict[Any, Any]] = {}
        for row in section.rows:
            label = _plain(row[spec.x])
            if label not in labels:
                labels.append(label)
            series.setdefault(row[spec.pivot], {})[label] = _plain(row.get(measure))
        datasets = [
            {
                "label": str(name),
                "key": str(name),
                "data": [values.get(label) for label in labels],
                "axis": "y",
            }
            for name, values in series.items()
        ]
        return labels, datasets
    labels = [_plain(row.get(spec.x)) for row in section.rows]
    columns = {column.key: column for column in section.columns}
    datasets = [
        {
            "label": str(columns[key].label),
            "key": key,
            "data": [_plain(row.get(key)) for row in section.rows],
            "axis": "y1" if key in spec.secondary else "y",
            "kind": columns[key].kind,
        }
        for key in (*spec.series, *spec.secondary)
    ]
    return labels, datasets


def chart_payload(section: Section) -> dict[str, Any] | None:
    """What the page's chart script needs (rendered with json_script)."""
    spec = section.spec.chart
    if spec is None or not section.rows:
        return None
    labels, datasets = chart_data(section)
    for index, dataset in enumerate(datasets):
        dataset["color"] = PALETTE[index % len(PALETTE)]
    return {"kind": spec.kind, "labels": [str(label) for label in labels], "datasets": datasets}
