"""The keyword gate, with its memory of values searched without a hit, passes every event that
holds a keyword literal in the lower-cased string form of one of its values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.matching.helpers import event
from watchpost.matching import keyword_gate as gates
from watchpost.matching.event_values import texts_of
from watchpost.matching.keyword_gate import keyword_gate

LITERALS = ["mimi", "kiwi::", "123", "true"]
pieces = st.sampled_from(["MIMI", "mi", "mi", "KIWI", "kiwi::", "::", "12", "3", "tru", "e", "x", "\n"])
texts = st.lists(pieces, max_size=3).map("".join)
values: st.SearchStrategy[Any] = st.one_of(
    texts, st.integers(0, 200), st.sampled_from([123, 1230, True, False, 12.3, None]),
    st.lists(st.one_of(texts, st.integers(120, 125), st.booleans(), st.none()), max_size=3),
)
events = st.lists(st.dictionaries(st.sampled_from(["A", "B", "C"]), values), min_size=1, max_size=8)


def holds_literal(fields: dict[str, Any]) -> bool:
    return any(literal in text.lower() for value in fields.values() for text in texts_of(value)
               for literal in LITERALS)


@settings(max_examples=300, deadline=None)
@given(events)
def test_the_gate_passes_every_event_holding_a_literal(sequence: list[dict[str, Any]]) -> None:
    gate = keyword_gate(LITERALS)
    assert gate is not None
    for fields in sequence:
        if holds_literal(fields):
            assert gate.passes(event(**fields)), fields


def test_values_without_a_literal_are_remembered_and_forgotten_when_too_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = keyword_gate(LITERALS)
    assert gate is not None
    assert not gate.passes(event(A="plain", B=7, C=[1, "x"]))
    assert gate.clean == {"plain", 7}  # lists are not remembered
    assert gate.passes(event(A="plain", B=123))
    assert not gate.passes(event(A="plain", B=1)) and 1 in gate.clean
    assert gate.passes(event(A="plain", C=True))  # True == 1, but its string form is "true"
    monkeypatch.setattr(gates, "REMEMBERED", 3)
    assert not gate.passes(event(A="other", B="more"))
    assert gate.clean == {"other", "more"}
