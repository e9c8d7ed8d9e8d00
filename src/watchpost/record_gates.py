"""Text gates for EVTX records: skip, undecoded, admitted records whose raw text holds none of
the literals their candidate rules require.

`RecordSelection` (``readers/evtx.py``) keeps a record only when some rule admits its Channel and
EventID. Among those, most cannot match either: a rule that requires ``netstat`` in
``CommandLine`` cannot match a record whose JSON text does not hold ``netstat`` anywhere. For a
(Channel, EventID) pair, the gate is an RE2 alternation of the literals that the pair's candidate
variants require (`watchpost.ruleset.literal_requirement`: lower-case literals of which any
matching event holds one in the lower-cased string form of a field), searched in the record's
JSON text case-insensitively (RE2 ``(?i)``, see `_pattern`; lower-casing the text first cost
4 us a record, more than the search). The pair gets no gate (every record is decoded) when a
candidate has no such requirement or one of its literals might not appear as such in the text.

Why a literal held by a field is found in the JSON text: field values are the JSON values
themselves (strings as written, numbers, booleans; flattening renames, never rewrites them), and
pyevtx-rs writes strings with only ``"``, ``\\`` and control characters escaped. Literals are
therefore used only when they are printable ASCII (``"`` and ``\\`` searched in escaped form) and
not made only of number characters (a float may be written differently in JSON than Python
prints it). Keyword literals are searched in the line-joined text of all fields; printable ASCII
literals hold no line break, so they lie within one field as well.
"""

from __future__ import annotations

from datetime import UTC, datetime

import re2

from watchpost.events import WINDOWS, Event, Origin
from watchpost.matching.model import CompileError
from watchpost.matching.re2_calls import Re2Test, compile_re2
from watchpost.readers.evtx import GateFor, TextGate
from watchpost.ruleset import RuleIndex, literal_requirement

_NUMBER_CHARACTERS = frozenset("0123456789.+-e")
MAX_LITERALS = 2000
"""Literals of one pair above which it gets no gate (an RE2 alternation that size costs more
than it saves)."""
_PROBE_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_PROBE_ORIGIN = Origin("<gate>", 0, "record")


def text_gates(index: RuleIndex) -> GateFor:
    """The `GateFor` of ``index``: per (lower-cased Channel, EventID text), a `TextGate` or None."""

    def gate_for(channel: str, event_id: str) -> TextGate | None:
        probe = Event(_PROBE_TIME, {"Channel": channel, "EventID": event_id}, _PROBE_ORIGIN, WINDOWS)
        literals: set[str] = set()
        for candidate in index.candidates(probe):
            found = searchable_literals(literal_requirement(candidate.variant))
            if found is None:
                return None
            literals |= found
        if not literals:
            return _nothing_passes
        if len(literals) > MAX_LITERALS:
            return None
        try:
            pattern = "(?i)" + "|".join(_pattern(literal) for literal in sorted(literals))
            return Re2Test(compile_re2(pattern, "a record gate"))  # a truth value, no match object
        except CompileError:  # too large for RE2's memory budget: decode these records
            return None

    return gate_for


def searchable_literals(requirement: tuple[frozenset[tuple[str, str]], ...]) -> frozenset[str] | None:
    """The literals of the first of the variant's literal sets whose literals can all be searched
    in raw JSON text, in their JSON-escaped form; None when there is no such set."""
    for literals in requirement:
        texts = [json_text(literal) for _, literal in literals]
        if texts and all(text is not None for text in texts):
            return frozenset(text for text in texts if text is not None)
    return None


def json_text(literal: str) -> str | None:
    """How ``literal`` appears inside a JSON string written by pyevtx-rs; None when unsure."""
    if not literal or not all(" " <= character <= "~" for character in literal):
        return None
    if _NUMBER_CHARACTERS.issuperset(literal):
        return None
    return literal.replace("\\", "\\\\").replace('"', '\\"')


def _pattern(text: str) -> str:
    """RE2 for ``text`` (lower-case); with ``(?i)`` it matches every string whose ``str.lower``
    holds ``text``. Besides ASCII letters only U+212A (Kelvin sign, folded with ``k`` by RE2) and
    U+0130 (``İ``, lowered to ``i`` + U+0307, not folded) lower into ASCII; the combining dot can
    only follow the last character of an ASCII literal, so only a final ``i`` needs U+0130."""
    final_i = text.endswith("i")
    escaped: str = re2.escape(text[:-1] if final_i else text)
    return escaped + "(?:i|\\x{130})" if final_i else escaped


def _nothing_passes(text: str) -> bool:
    return False
