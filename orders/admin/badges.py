"""Cheap list cells: unfold's badge and row checkbox markup, rendered once and reused.

Unfold renders a template per badge and per row checkbox; a 50-row order list has 150 badges and 50
checkboxes, which was a third of the page's render time. The markup depends only on (colour, text) and on
the row's primary key, so it is rendered through unfold's own templates once and then reused.
"""

from __future__ import annotations

from functools import lru_cache

from django.contrib.admin import helpers
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from unfold.admin import checkbox

_PK_PLACEHOLDER = "__oms_row_pk__"


@lru_cache(maxsize=1024)
def badge(color: str, text: str) -> SafeString:
    """Unfold's label markup for `text` in `color` (info, danger, warning, success, primary or default)."""
    return mark_safe(render_to_string("unfold/helpers/label.html", {"type": color, "text": text}).strip())


def choice_badge(value: str, choices, colors: dict) -> SafeString:
    """The badge of a `TextChoices` value: its translated label in the colour `colors` gives it."""
    try:
        text = str(choices(value).label)
    except ValueError:  # a value no longer among the choices still shows, uncoloured
        text = value
    return badge(colors.get(value, "default"), text)


@lru_cache(maxsize=1)
def _checkbox_markup() -> str:
    return checkbox.render(helpers.ACTION_CHECKBOX_NAME, _PK_PLACEHOLDER)


def row_checkbox(pk) -> SafeString:
    """The action checkbox of one list row, as unfold renders it."""
    return mark_safe(_checkbox_markup().replace(_PK_PLACEHOLDER, escape(str(pk))))
