"""The malformed-file corpus: every file is refused with a clear message, and nothing would be imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from orders.importing.plan import build_import_plan
from orders.importing.readers import FileRefused, read_table
from orders.tests.importing_corpus import TODAY, MalformedCase, malformed_corpus, refusal_messages

CORPUS = malformed_corpus()


def test_corpus_has_at_least_25_files() -> None:
    assert len(CORPUS) >= 25
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_malformed_file_is_refused_with_a_clear_message(case: MalformedCase, tmp_path: Path) -> None:
    path = case.make(tmp_path)
    messages = refusal_messages(path, limits=case.limits, **case.plan_kwargs)
    assert messages, f"{case.name}: was not refused"
    assert any(case.expected in message for message in messages), messages


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_refused_file_yields_no_importable_plan(case: MalformedCase, tmp_path: Path) -> None:
    """All or nothing: a refused file either fails to read or gives a plan that is not ``ok``."""
    path = case.make(tmp_path)
    try:
        table = read_table(path)
    except FileRefused:
        return
    kwargs = {"default_channel": "manual", "today": TODAY, **case.plan_kwargs}
    assert not build_import_plan(table, **kwargs).ok
