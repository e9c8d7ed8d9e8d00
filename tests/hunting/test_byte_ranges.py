"""Byte ranges (#16): a large JSON Lines file matched in ranges by `--jobs` workers gives the
alerts, the order, the line numbers and the problems of reading it whole."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.hunting.split_inputs import write_jsonl, write_rules
from watchpost import Hunt, HuntOptions
from watchpost.hunting.byte_ranges import LineRange, range_lines, split_source
from watchpost.hunting.engine import bundled_pack
from watchpost.problems import ProblemLog
from watchpost.readers.archive import iter_sources

SPLIT = 100_000
"""Range size for a ~1.6 MB file: 16 ranges, boundaries inside lines."""


Digest = tuple[object, ...]


def digests(path: Path, rules: Path, **options: object) -> tuple[list[Digest], set[Digest]]:
    hunt = Hunt(HuntOptions(rules=[rules], **options))  # type: ignore[arg-type]
    alerts = [(a.rule.id, a.timestamp, tuple(e.origin for e in a.events)) for a in hunt.run([path])]
    problems = {(p.stage, p.path, p.place, p.reason) for p in hunt.problems.problems}
    return alerts, problems


def ranges_of(path: Path, split: int) -> list[LineRange]:
    (source,) = iter_sources([path], ProblemLog())
    ranges = split_source(source, split)
    assert all(isinstance(piece, LineRange) for piece in ranges)
    return ranges  # type: ignore[return-value]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("late_every", [0, 50], ids=["ordered", "late-matches"])
def test_jobs_split_file_gives_the_alerts_of_reading_it_whole(
    tmp_path: Path, newline: str, late_every: int
) -> None:
    rules = write_rules(tmp_path / "rules")
    path = write_jsonl(tmp_path / "big.jsonl", 6000, newline=newline, late_every=late_every)
    ranges = ranges_of(path, SPLIT)
    content = path.read_bytes()
    assert len(ranges) >= 8
    assert any(content[piece.start - 1:piece.start] != b"\n" for piece in ranges[1:])  # cut inside lines
    whole, whole_problems = digests(path, rules, jobs=1)
    split, split_problems = digests(path, rules, jobs=2, split_bytes=SPLIT)
    assert len(whole) > 800 and any(rule == "5d3c1b0e-3f1a-4c8e-9a11-0000000000a2" for rule, *_ in whole)
    assert split == whole  # same alerts, same order, same line numbers
    assert split_problems == whole_problems
    assert any(place == "line 5982" for _, _, place, _ in whole_problems)  # a malformed line far in


def test_every_line_belongs_to_exactly_one_range(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "lines.jsonl", 3000, newline="\r\n")
    ranges = ranges_of(path, 20_000)
    with path.open("rb") as stream:
        pieces = [line for piece in ranges for line in range_lines(stream, piece.start, piece.end)]
    assert b"".join(pieces) == path.read_bytes()
    assert len(pieces) == 3000


def test_ranges_are_picklable_and_small_or_other_files_are_not_split(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "lines.jsonl", 3000)
    piece = ranges_of(path, 20_000)[3]
    copy = pickle.loads(pickle.dumps(piece))
    assert (copy.name, copy.start, copy.end, copy.part) == (piece.name, piece.start, piece.end, 3)
    assert list(copy.lines([0])) == list(piece.lines([0]))
    document = tmp_path / "document.json"
    document.write_text('[\n' + ",\n".join(['{"a": 1}'] * 5000) + "\n]\n")
    (source,) = iter_sources([document], ProblemLog())
    assert split_source(source, 1000) == [source]  # a JSON document cannot be cut
    (small,) = iter_sources([path], ProblemLog())
    assert split_source(small, path.stat().st_size) == [small]  # less than two ranges long


def test_json_lines_of_a_format_with_its_own_reader_are_not_split(tmp_path: Path) -> None:
    lines = (PROJECT / "tests" / "fixtures" / "macos" / "eslogger_t1049.jsonl").read_bytes()
    path = tmp_path / "eslogger.jsonl"
    path.write_bytes(lines * 200)
    (source,) = iter_sources([path], ProblemLog())
    assert split_source(source, 10_000) == [source]  # eslogger's reader, not the generic one
    assert len(split_source(source, 10_000, input_format="json")) > 2  # forced JSON: lines
    assert split_source(source, 10_000, input_format="auditd") == [source]


def test_sysmon_for_linux_syslog_is_split_too(tmp_path: Path) -> None:
    from datetime import date, timedelta

    template = (PROJECT / "tests" / "fixtures" / "linux" / "sysmon_linux_t1049.log").read_text()
    days = []
    for shift in range(150):
        day = (date(2024, 10, 21) + timedelta(days=shift)).isoformat()
        days.append(template.replace("2024-10-21", day))
    days.insert(75, "Oct 21 09:45:02 web01 sysmon: <Event><System><EventID>1</Event>\n")  # cut XML
    path = tmp_path / "syslog"
    path.write_text("".join(days))
    ranges = ranges_of(path, 200_000)
    assert len(ranges) > 8 and {piece.reader for piece in ranges} == {"sysmon-linux"}
    pack = bundled_pack()
    whole, whole_problems = digests(path, pack, jobs=1)
    split, split_problems = digests(path, pack, jobs=2, split_bytes=200_000)
    assert len(whole) >= 150 and split == whole
    assert split_problems == whole_problems
    assert any(place == f"line {75 * template.count(chr(10)) + 1}" for _, _, place, _ in whole_problems)
