"""JSON line gates skip only lines no rule can match: same alerts and event counts without them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import SHARED
from watchpost.hunting import record_gates
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.hunting.record_gates import EVTX_DUMP_KEY, json_line_gate, literal_run, searchable_literals
from watchpost.hunting.source_hunts import SourceMatcher
from watchpost.problems import ProblemLog
from watchpost.readers.archive import iter_sources

SAMPLES = SHARED / "samples"
PROCESS_CREATION = SHARED / "sigma" / "rules" / "windows" / "process_creation"
SIGMAHQ_SETS = ["proc_creation_win_net*.yml", "proc_creation_win_whoami*.yml"]

ESCAPE_RULE = """\
title: Netstat Output Redirected
id: 0b0c6a54-6f55-4c55-9d51-1f2c2a3b4c5d
status: experimental
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    CommandLine|contains: '/c netstat -ano > c:\\\\temp\\\\out&1.txt'
  condition: selection
level: low
"""


def _line(record_number: int, command_line: str,
          image: str = "C:\\Windows\\System32\\conhost.exe") -> str:  # cmd.exe is a pack literal
    return json.dumps({
        "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "ws1",
        "TimeCreated": f"2024-05-01T10:00:{record_number:02d}.000Z", "RecordNumber": record_number,
        "Image": image, "CommandLine": command_line,
    })


def _escaped_lines() -> list[str]:
    """Lines as JSON shippers escape them: ``\\/``, ``\\u003e``/``\\u0026`` (Go), ``\\u212a``."""
    plain = _line(2, "cmd.exe /c netstat -ano > c:\\temp\\out&1.txt")
    go_style = plain.replace("/", "\\/").replace(">", "\\u003e").replace("&", "\\u0026")
    kelvin = _line(4, "\u212alist", "C:\\Windows\\System32\\\u212aLIST.EXE")
    return [
        _line(1, "cmd.exe /c dir"),
        plain,
        go_style,
        _line(3, "whoami"),
        json.dumps(json.loads(kelvin), ensure_ascii=True),  # "\\u212a"
        kelvin.replace("\\u212a", "\u212a"),  # the raw character
        _line(5, "C:\\Windows\\System32\\NETSTAT.EXE -ano", "C:\\Windows\\System32\\NETSTAT.EXE"),
        _line(6, "notepad.exe"),
        "[]",
        "",
    ]


@pytest.fixture(scope="module")
def escape_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("escapes")
    rule = folder / "netstat_redirected.yml"
    rule.write_text(ESCAPE_RULE, encoding="utf-8")
    log = folder / "shipped.jsonl"
    lines = _escaped_lines()
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rule, log


def _json_sources(paths: list[Path]) -> Iterator[object]:
    for source in iter_sources(paths, ProblemLog()):
        if source.name.lower().endswith((".json", ".jsonl", ".ndjson")):
            yield source


def _compare(rules: list[Path], paths: list[Path]) -> tuple[int, int, set[int | None]]:
    """Runs every JSON source with and without the line gate; (lines skipped, matches, the
    lines or elements of the matched events)."""
    hunt = Hunt(HuntOptions(rules=rules))
    gated = SourceMatcher(hunt.ruleset, None, None, None)
    plain = SourceMatcher(hunt.ruleset, None, None, None)
    plain.line_gate = None
    assert gated.line_gate is not None
    skipped = matched = 0
    lines: set[int | None] = set()
    for source in _json_sources(paths):
        fast, slow = gated.run(0, source), plain.run(0, source)  # type: ignore[arg-type]
        assert fast.events == slow.events, source.name  # type: ignore[attr-defined]
        assert fast.events_in_range == slow.events_in_range, source.name  # type: ignore[attr-defined]
        assert fast.matches == slow.matches, source.name  # type: ignore[attr-defined]
        assert [(n, e.origin, e.timestamp) for *_, n, e in fast.found if e is not None] == [
            (n, e.origin, e.timestamp) for *_, n, e in slow.found if e is not None
        ], source.name  # type: ignore[attr-defined]
        skipped += fast.undecoded
        matched += slow.matches
        lines.update(event.origin.record  # type: ignore[attr-defined]
                     for *_, event in slow.found if event is not None)
    return skipped, matched, lines


def _alerts(rules: list[Path], paths: list[Path]) -> tuple[list[tuple[str, str, str]], int, int]:
    hunt = Hunt(HuntOptions(rules=rules))
    found = [
        (alert.rule.id, alert.timestamp.isoformat(), ",".join(e.origin.describe() for e in alert.events))
        for alert in hunt.run([str(path) for path in paths])
    ]
    return found, hunt.stats.events, hunt.stats.undecoded


def test_the_pack_matches_the_same_json_lines_with_the_gate() -> None:
    skipped, matched, _ = _compare([], [SAMPLES])
    assert skipped > 50_000 and matched > 0  # 50,515 of the samples' 54,313 JSON lines (7 Dec pack)


@pytest.mark.parametrize("pattern", SIGMAHQ_SETS)
def test_sigmahq_rules_match_the_same_json_lines_with_the_gate(pattern: str) -> None:
    skipped, _, _ = _compare(sorted(PROCESS_CREATION.glob(pattern)), [SAMPLES])
    assert skipped > 10_000


def test_hunt_alerts_and_counts_are_the_same_with_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    lsass = [SAMPLES / "windows" / "json"]
    gated = _alerts([], lsass)
    monkeypatch.setattr("watchpost.hunting.source_hunts.json_line_gate", lambda index: None)
    plain = _alerts([], lsass)
    assert gated[0] == plain[0] and gated[0]
    assert gated[1] == plain[1]
    assert gated[2] > 0 and plain[2] == 0


def test_escaped_lines_are_decoded_and_match(escape_case: tuple[Path, Path]) -> None:
    rule, log = escape_case
    assert "\\/c netstat -ano \\u003e c:" in log.read_text(encoding="utf-8")
    skipped, _, lines = _compare([rule], [log])
    assert lines == {2, 3} and skipped == 5  # the plain and Go-escaped lines match; 4-8 skipped (1 is first)
    _, _, lines = _compare([], [log])
    assert {5, 6, 7} <= lines  # \\u212aLIST.EXE and a raw U+212A lower to klist.exe; NETSTAT.EXE


@pytest.mark.parametrize(
    "sabotage",
    [
        pytest.param(lambda: ("literal_run", lambda literal: literal), id="escapes-ignored"),
        pytest.param(lambda: ("_run_pattern", record_gates.re2.escape), id="kelvin-ignored"),
    ],
)
def test_a_broken_gate_is_caught(
    sabotage: object, escape_case: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, replacement = sabotage()  # type: ignore[operator]
    monkeypatch.setattr(record_gates, name, replacement)
    rule, log = escape_case
    with pytest.raises(AssertionError):
        _compare([rule], [log])
        _compare([], [log])


def test_malformed_object_lines_are_counted_as_undecoded_events(tmp_path: Path) -> None:
    """A skipped line is not parsed: a damaged ``{...}`` line is one undecoded event, unreported
    (as EVTX records that are not decoded); not an object line, it is decoded and reported."""
    log = tmp_path / "damaged.jsonl"
    log.write_text(_line(1, "a") + '\n{"EventID": 1, broken}\n{"EventID": 1\n[]\n', encoding="utf-8")
    hunt = Hunt(HuntOptions(rules=[]))
    assert list(hunt.run([str(log)])) == []
    assert hunt.stats.events == 2 and hunt.stats.undecoded == 1
    assert hunt.problems.by_path[str(log)] == 1  # '{"EventID": 1' is decoded and reported


def test_batches_of_mixed_lines_skip_exactly_the_object_lines_without_a_literal(tmp_path: Path) -> None:
    """Across batch ends: hits, blank lines, arrays, damaged lines, CRLF, a last line without a
    line break; the skipped lines are the ``{...}`` lines the gate finds nothing in."""
    kinds = [
        _line(1, "notepad.exe"), _line(2, "NETSTAT.EXE -ano", "C:\\Windows\\System32\\NETSTAT.EXE"), "",
        "[]", '{"EventID": 1', _line(3, "whoami") + "\r", "  " + _line(4, "calc.exe") + " ",
        '[{"EventID": 1, "Channel": "Security", "Image": "C:\\\\net.exe"}]', _line(5, "dir"),
    ]
    lines = [_line(0, "first")] + [kinds[(n * 7) % len(kinds)] for n in range(1_500)] + [_line(6, "x")]
    log = tmp_path / "mixed.jsonl"
    log.write_bytes("\n".join(lines).encode())  # no line break after the last line
    gate = json_line_gate(Hunt(HuntOptions(rules=[])).ruleset.index)
    assert gate is not None
    expected = sum(
        1 for line in lines[1:]
        if gate(line.encode(), 0) < 0 and line.strip()[:1] == "{" and line.strip()[-1:] == "}"
    )
    skipped, matched, _ = _compare([], [log])
    assert skipped == expected and 0 < expected < len(lines) - 200 and matched > 100


def test_lines_ended_by_carriage_returns_are_gated_one_by_one(tmp_path: Path) -> None:
    """UTF-16 text read with universal line ends: lines may end in ``\\r`` alone."""
    lines = [_line(n, "NETSTAT.EXE" if n % 5 == 0 else "dir", "C:\\x\\NETSTAT.EXE") for n in range(40)]
    lines += [_line(n, "dir") for n in range(300)]
    log = tmp_path / "utf16.jsonl"
    log.write_bytes("\r".join(lines).encode("utf-16"))
    skipped, matched, _ = _compare([], [log])
    assert skipped == 300 and matched >= 40


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("\\netstat.exe", "netstat.exe"),
        ("c:\\windows\\system32\\net.exe", "net.exe"),  # common path parts are not chosen
        ("/c netstat > c:\\out.txt", "c netstat "),
        ("caf\u00e9-bar", "-bar"),
        ("4688", None),
        ("/w", None),
        ("a<b", None),
        ("x+y='z'", None),
    ],
)
def test_literal_runs_hold_only_characters_written_as_they_are(literal: str, expected: str | None) -> None:
    assert literal_run(literal) == expected


def test_gate_passes_evtx_dump_records_and_is_none_without_literals() -> None:
    gate = json_line_gate(Hunt(HuntOptions(rules=[])).ruleset.index)
    assert gate is not None and gate(b'{"event_record_id": 1, "data": "{}"}', 0) == 2
    assert gate(b'{"EventID": 4624, "Channel": "Security"}', 0) == -1
    assert EVTX_DUMP_KEY in gate.pattern
    assert searchable_literals(()) is None
    without = sorted(PROCESS_CREATION.glob("proc_creation_win_powershell_*.yml"))  # some need no literal
    assert json_line_gate(Hunt(HuntOptions(rules=without)).ruleset.index) is None


def test_the_gate_is_off_with_a_time_range_and_for_other_formats(escape_case: tuple[Path, Path]) -> None:
    _, log = escape_case
    ruleset = Hunt(HuntOptions(rules=[])).ruleset
    since = datetime(2024, 1, 1, tzinfo=UTC)
    assert SourceMatcher(ruleset, None, since, None).line_gate is None
    assert SourceMatcher(ruleset, None, None, since).line_gate is None
    source = next(iter(iter_sources([log], ProblemLog())))
    explicit = SourceMatcher(ruleset, "json", None, None).run(0, source)
    sniffed = SourceMatcher(ruleset, None, None, None).run(0, source)
    assert explicit.undecoded == sniffed.undecoded > 0 and explicit.events == sniffed.events
    _, skips = SourceMatcher(ruleset, "eslogger", None, None).events(source, ProblemLog())
    assert skips is None
