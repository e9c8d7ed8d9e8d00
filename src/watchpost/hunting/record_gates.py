"""Text gates for EVTX records: skip, undecoded, admitted records whose raw text holds none of
the literals their candidate rules require. JSON lines get a gate of their own
(`json_line_gate`, at the end of this module).

`RecordSelection` (``readers/evtx.py``) keeps a record only when some rule admits its Channel and
EventID. Among those, most cannot match either: a rule that requires ``netstat`` in
``CommandLine`` cannot match a record whose JSON text does not hold ``netstat`` anywhere. For a
(Channel, EventID) pair, the gate is an RE2 alternation of the literals that the pair's candidate
variants require (`IndexedVariant.literals`, from `watchpost.hunting.ruleset.literal_requirement`:
lower-case literals of which any matching event holds one in the lower-cased string form of a
field), searched in the record's JSON text case-insensitively (RE2 ``(?i)``, see `_pattern`;
lower-casing the text first cost 4 us a record, more than the search). The pair gets no gate
(every record is decoded) when a candidate has no such requirement or one of its literals might
not appear as such in the text.

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
from watchpost.hunting.ruleset import RuleIndex
from watchpost.matching.model import CompileError
from watchpost.matching.re2_calls import Re2Test, compile_re2
from watchpost.readers.evtx import GateFor, TextGate
from watchpost.readers.json_shapes import NO_HINT

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
            found = searchable_literals(candidate.literals)
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


# --- JSON lines -------------------------------------------------------------------------------

_LINE_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyz0123456789 -_.,:;()[]{}!#$%*?@^|~"
)
"""Characters a JSON writer puts in a string as they are. Left out: ``"`` and ``\\`` (always
escaped), ``/`` (``\\/``), ``<``, ``>``, ``&``, ``'``, ``+``, ``=`` and the backtick (written as
``\\u00XX`` by Go's and .NET's encoders), control characters and everything beyond ASCII
(``\\uXXXX``). Upper-case letters need not be listed: literals are lower-case."""
_COMMON_RUNS = frozenset({"c:", "windows", "system32", "syswow64", "program files", "exe"})
"""Runs that occur in most Windows events: another run of the same literal is searched instead."""
MIN_RUN = 3
"""Shortest run of a literal worth searching (shorter ones pass nearly every line)."""
EVTX_DUMP_KEY = "event_record_id"
"""The key of pyevtx-rs records (`readers.json.LineSkips`: lines holding it are never skipped)."""


def json_line_gate(index: RuleIndex) -> LineTest | None:
    """The `LineTest` of JSON lines for ``index``, or None when every line must be decoded.

    The JSON reader (`watchpost.readers.json_shapes`) gives Windows and hint-less events, and a
    line's shape, Channel and EventID are not known before decoding: every variant whose logsource
    gate admits either hint is taken, whatever Channel and EventID it requires, so a line can
    match only if its text holds one of those variants' literals. A variant is represented by
    the first of its literal sets whose literals all have a `literal_run`; a variant without one
    (a rule requiring no literal, or only short or escaped ones) leaves no gate.
    """
    runs: set[str] = set()
    for variant in index.variants:
        gate = variant.variant.gate
        if not (gate.admits(WINDOWS) or gate.admits(NO_HINT)):
            continue  # never a candidate for an event of the JSON reader
        found = _line_runs(variant.literals)
        if found is None:
            return None
        runs |= found
    if not runs or len(runs) > MAX_LITERALS:
        return None
    runs.add(EVTX_DUMP_KEY)  # such lines are decoded: their embedded record may not parse
    pattern = "(?i)" + "|".join(_run_pattern(run) for run in sorted(runs))
    try:
        return LineTest(pattern)
    except CompileError:
        return None


def _line_runs(requirement: tuple[frozenset[tuple[str, str]], ...]) -> frozenset[str] | None:
    for literals in requirement:
        runs = [literal_run(literal) for _, literal in literals]
        if runs and all(run is not None for run in runs):
            return frozenset(run for run in runs if run is not None)
    return None


def literal_run(literal: str) -> str | None:
    """A part of ``literal`` (lower-case) that any JSON text of a string holding it holds too.

    A string value that holds ``literal`` holds each of its runs of `_LINE_SAFE` characters, and
    a JSON writer writes those characters as they are, side by side, also inside a JSON string
    embedded in another one. Of the runs of at least `MIN_RUN` characters that are not only
    number characters (a float's text may differ from how JSON wrote it), the longest that is not
    in `_COMMON_RUNS` is taken (else the longest); None when there is none.
    """
    runs: list[str] = []
    current: list[str] = []
    for character in literal + "\x00":
        if character in _LINE_SAFE:
            current.append(character)
            continue
        run = "".join(current)
        current = []
        if len(run) >= MIN_RUN and not _NUMBER_CHARACTERS.issuperset(run):
            runs.append(run)
    if not runs:
        return None
    rare = [run for run in runs if run.strip() not in _COMMON_RUNS]
    return max(rare or runs, key=len)


def _run_pattern(run: str) -> str:
    """RE2 (with ``(?i)``) for the texts whose decoded, lower-cased form holds ``run``: besides
    ASCII case, ``k`` may be U+212A (raw, folded by RE2, or written ``\\u212a``) and a final
    ``i`` may be U+0130 (raw or ``\\u0130``), the only code points ``str.lower`` maps into ASCII."""
    parts: list[str] = []
    for position, character in enumerate(run):
        if character == "k":
            parts.append("(?:k|\\\\u212a)")
        elif character == "i" and position == len(run) - 1:
            parts.append("(?:i|\\x{130}|\\\\u0130)")
        else:
            parts.append(re2.escape(character))
    return "".join(parts)


class LineTest:
    """A `readers.json.LineGate`: where in JSON lines' bytes, from a start, the first text is that
    may let a loaded rule match its line (-1: none)."""

    __slots__ = ("pattern", "_match", "_anchor")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        regex = compile_re2(pattern, "a JSON line gate")
        self._match = regex._regexp.Match  # noqa: SLF001 - as `Re2Test`, on bytes
        self._anchor = Re2Test(regex)._anchor  # noqa: SLF001

    def __call__(self, data: bytes, start: int) -> int:
        return self._match(self._anchor, data, start, len(data))[0][0]  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[object, ...]:
        return LineTest, (self.pattern,)


