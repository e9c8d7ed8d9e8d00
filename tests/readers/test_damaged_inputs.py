"""Damaged, hostile and empty inputs (issue 19, issue 14 item 5): each is a problem naming the file
and place, what precedes the damage is read, and the rest of the run goes on.

The inputs are in tests/fixtures/damaged (made by its make_damaged.py from the project's fixtures
and one shared EVTX sample, which the EVTX tests compare against).
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers import archive_members
from watchpost.readers.archive_members import ArchiveLimits
from watchpost.readers.registry import iter_sources, read_source
from watchpost.readers.text import utf8_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAMAGED = FIXTURES / "damaged"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EVTX_SAMPLE = SHARED / "samples" / "windows" / "evtx" / "mdecrevoisier_4688_net_use_and_net_view.evtx"
CLOUDTRAIL_JSONL = FIXTURES / "cloud" / "cloudtrail_network_discovery.jsonl"


def read(paths: list[Path], limits: ArchiveLimits | None = None) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    sources = iter_sources(paths, problems) if limits is None else iter_sources(paths, problems, limits)
    events = [event for source in list(sources) for event in read_source(source, problems)]
    return events, problems


def reasons(problems: ProblemLog) -> list[tuple[str, str | None, str]]:
    return [(Path(p.path).name, p.place, p.reason) for p in problems.problems]


# Archives ----------------------------------------------------------------------------------------

def test_damaged_deflate_in_a_zip_member_costs_that_member_only() -> None:
    events, problems = read([DAMAGED / "zip_bad_deflate.zip", CLOUDTRAIL_JSONL])
    found = reasons(problems)
    assert len(found) == 1
    assert found[0][0] == "zip_bad_deflate.zip!b.jsonl" and "Error -3" in found[0][2]
    by_file = {Path(e.origin.path).name for e in events}
    assert by_file == {"zip_bad_deflate.zip!a.jsonl", "zip_bad_deflate.zip!c.jsonl", CLOUDTRAIL_JSONL.name}
    assert len(events) == 3 * 5


def test_damaged_gzip_keeps_the_lines_before_the_damage() -> None:
    events, problems = read([DAMAGED / "gzip_bad_deflate.jsonl.gz", CLOUDTRAIL_JSONL])
    found = reasons(problems)
    assert len(found) == 1 and found[0][0] == "gzip_bad_deflate.jsonl.gz"
    assert "damaged gzip data" in found[0][2]
    damaged = [e for e in events if e.origin.path.endswith(".gz")]
    assert 0 < len(damaged) < 200  # the good lines before the damage, not the file's 200
    assert [e.origin.record for e in damaged] == list(range(1, len(damaged) + 1))
    assert sum(1 for e in events if e.origin.path == str(CLOUDTRAIL_JSONL)) == 5


def test_a_gzip_bomb_stops_at_the_ratio_limit() -> None:
    events, problems = read([DAMAGED / "bomb.jsonl.gz"])
    assert (DAMAGED / "bomb.jsonl.gz").stat().st_size < 64 << 10  # 24 MiB behind it
    found = reasons(problems)
    assert len(found) == 1 and "expands more than 200 times" in found[0][2]
    assert len(events) == 1  # the line before the padding


def test_zip_member_count_total_size_and_ratio_limits_are_each_reported(tmp_path: Path) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for number in range(6):
            handle.writestr(f"m{number}.jsonl", CLOUDTRAIL_JSONL.read_bytes())
        handle.writestr("z_zeros.jsonl", b"{}" + b" " * 200_000 + b"\n")
    few = ArchiveLimits(max_members=4)
    events, problems = read([archive], few)
    assert [r[2] for r in reasons(problems)] == ["more than 4 members: only the first 4 by name are read"]
    assert len(events) == 4 * 5
    size = len(CLOUDTRAIL_JSONL.read_bytes())
    small = ArchiveLimits(max_expanded=int(size * 2.5))
    events, problems = read([archive], small)
    assert [(r[0], "expands past" in r[2]) for r in reasons(problems)] == [("many.zip!m2.jsonl", True)]
    assert len(events) == 2 * 5
    steep = ArchiveLimits(max_ratio=50, ratio_floor=1000)
    events, problems = read([archive], steep)
    found = [(r[0], "times (limit 50)" in r[2]) for r in reasons(problems)]
    assert found == [("many.zip!z_zeros.jsonl", True)]
    assert len(events) == 6 * 5


def test_zip_listing_reads_the_directory_once_whatever_the_member_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for number in range(2000):
            handle.writestr(f"m{number:05}.jsonl", b'{"eventTime": "2024-01-01T00:00:00Z", "n": 1}\n')
    opened: list[object] = []
    real = zipfile.ZipFile

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            opened.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(archive_members.zipfile, "ZipFile", Counting)
    events, problems = read([archive])
    assert len(events) == 2000 and not problems.counts
    assert len(opened) == 1  # was one opening (and directory read) per member: quadratic


@pytest.mark.parametrize("name", ["logs.tar", "logs.tar.gz", "logs.tgz"])
def test_tar_archives_are_read_like_zip(name: str) -> None:
    events, problems = read([DAMAGED / name])
    members = sorted(e.origin.path.rpartition("!")[2] for e in events)
    assert members == ["../escape.jsonl", "dir/a.jsonl"]
    # Member names are shown, never used as paths; a link is reported, never followed.
    link = "not a regular file (link to '/etc/passwd'): not read"
    assert reasons(problems) == [(f"{name}!passwd", None, link)]


def test_tar_member_limit_is_reported(tmp_path: Path) -> None:
    events, problems = read([DAMAGED / "logs.tar"], ArchiveLimits(max_members=1))
    assert "more than 1 members" in reasons(problems)[-1][2]
    assert len(events) == 1


def test_nested_archives_stop_at_the_nesting_limit(tmp_path: Path) -> None:
    data = CLOUDTRAIL_JSONL.read_bytes()
    for _ in range(3):
        data = gzip.compress(data)
    (tmp_path / "deep.jsonl.gz").write_bytes(data)
    events, problems = read([tmp_path / "deep.jsonl.gz"], ArchiveLimits(max_nesting=2))
    assert events == [] and "nested deeper than 2" in reasons(problems)[0][2]


# EVTX --------------------------------------------------------------------------------------------

def evtx_numbers() -> list[int]:
    events, problems = read([EVTX_SAMPLE])
    assert not problems.counts
    return [e.origin.record for e in events]


@pytest.mark.parametrize(
    ("name", "lost"),
    [
        ("evtx_cut.evtx.gz", 1),
        ("evtx_record_size_flipped.evtx.gz", 1),
        ("evtx_chunk_magic_zeroed.evtx.gz", 0),
    ],
)
def test_damaged_evtx_loses_only_the_damaged_records_and_counts_each(name: str, lost: int) -> None:
    events, problems = read([DAMAGED / name])
    original = evtx_numbers()
    numbers = [e.origin.record for e in events]
    assert set(numbers) <= set(original)
    missing = sorted(set(original) - set(numbers))
    assert len(missing) == lost  # the damage cost what it held, not the rest of the chunk
    assert problems.count("read") == len(missing)  # and each record lost is counted
    assert sorted(int(p.place.split()[1]) for p in problems.problems if p.place) == missing


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("evtx_empty.evtx", "empty file: no events"),
        ("evtx_header_only.evtx", "no EVTX chunk: no records (empty or cut short)"),
        ("cloudtrail_no_record.json", "no record found (read as cloudtrail): no events"),
    ],
)
def test_empty_and_recordless_inputs_are_reported_by_name(name: str, reason: str) -> None:
    events, problems = read([DAMAGED / name])
    assert events == []
    assert reasons(problems) == [(name, None, reason)]


def test_evtx_member_of_a_zip_is_carved_too(tmp_path: Path) -> None:
    archive = tmp_path / "evidence.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        flipped = gzip.decompress((DAMAGED / "evtx_record_size_flipped.evtx.gz").read_bytes())
        handle.writestr("host/flipped.evtx", flipped)
    events, problems = read([archive])
    assert len(events) == len(evtx_numbers()) - 1 and problems.count("read") == 1


# Text: first lines, encodings, line ends, line length -------------------------------------------

@pytest.mark.parametrize(
    ("name", "good"),
    [
        ("cloudtrail_first_line_damaged.jsonl", 4),
        ("gcp_first_line_damaged.jsonl", 2),
        ("eslogger_first_line_damaged.jsonl", 6),
    ],
)
def test_a_damaged_first_json_line_costs_that_line_only(name: str, good: int) -> None:
    events, problems = read([DAMAGED / name])
    assert len(events) == good
    assert [(r[0], r[1]) for r in reasons(problems)] == [(name, "line 1")]
    assert [e.origin.record for e in events] == list(range(2, good + 2))


def test_utf16_cloudtrail_is_read_record_by_record() -> None:
    events, problems = read([DAMAGED / "cloudtrail_utf16.json"])
    plain, _ = read([FIXTURES / "cloud" / "cloudtrail_network_discovery.json"])
    assert not problems.counts
    assert len(events) == len(plain) == 5
    assert [e.fields for e in events] == [e.fields for e in plain]


def test_auditd_with_cr_line_ends_loses_nothing() -> None:
    events, problems = read([DAMAGED / "auditd_cr.log"])
    plain, plain_problems = read([FIXTURES / "linux" / "auditd_raw_t1049.log"])
    assert problems.count() == plain_problems.count()
    assert len(events) == len(plain) > 0
    assert [e.fields for e in events] == [e.fields for e in plain]


def test_line_ends_lf_crlf_cr_and_mixed_split_alike() -> None:
    text = b"a\nb\r\nc\rd\r\n\re"
    for piece in (1, 2, 3, 1 << 20):
        lines = list(utf8_lines(_Pieces(text, piece), lambda number: None))
        assert [line.rstrip(b"\r\n") for line in lines] == [b"a", b"b", b"c", b"d", b"", b"e"]


def test_an_overlong_line_is_reported_and_the_next_lines_are_read() -> None:
    long = [0]
    text = b"first\n" + b"x" * 5000 + b"\nthird\rfourth\n"
    lines = list(utf8_lines(_Pieces(text, 100), long.append, max_line=1000))
    assert lines == [b"first\n", b"\n", b"third\r", b"fourth\n"]
    assert long == [0, 2]  # line 2 named


class _Pieces(io.RawIOBase):
    """``data`` handed out ``size`` bytes at a time (as decompressing streams do)."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = data
        self._size = size

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        piece, self._data = self._data[: self._size], self._data[self._size :]
        return piece

    def read(self, size: int = -1) -> bytes:
        return self.read1(size)


def test_a_chunk_header_copied_over_another_costs_nothing(tmp_path: Path) -> None:
    sample = SHARED / "samples" / "windows" / "evtx" / "splunk_capattack_a_sysmon.evtx"
    data = bytearray(sample.read_bytes())
    chunk7, chunk9 = 4096 + 7 * 65536, 4096 + 9 * 65536
    data[chunk9 : chunk9 + 512] = data[chunk7 : chunk7 + 512]  # header CRC holds, names chunk 7's records
    damaged = tmp_path / "copied_header.evtx"
    damaged.write_bytes(bytes(data))
    original, _ = read([sample])
    events, problems = read([damaged])
    # Chunk 9 is carved by its own records (not chunk 7's numbers, not its slack): nothing lost,
    # nothing reported lost, nothing read twice.
    assert sorted(e.origin.record for e in events) == sorted(e.origin.record for e in original)
    assert problems.count("read") == 0
