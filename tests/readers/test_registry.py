"""Format registry and input expansion: sniffing, --format, directories, gzip, zip, stdin, damage."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import expand_source, file_source, iter_sources, stdin_source
from watchpost.readers.base import Source
from watchpost.readers.evtx import EvtxReader
from watchpost.readers.json import JsonReader
from watchpost.readers.registry import (
    FORMATS,
    GENERIC_READERS,
    READERS,
    read_events,
    read_source,
    sniff,
    source_suffix,
)
from watchpost.readers.winxml import WindowsXmlReader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "windows"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EVTX_SAMPLE = SHARED / "samples" / "windows" / "evtx" / "mdecrevoisier_4688_net_use_and_net_view.evtx"
JSONL = FIXTURES / "winlogbeat_ecs.jsonl"


def read_all(paths: list[Path | str], format: str | None = None) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(read_events(paths, problems, format)), problems


def memory_source(name: str, data: bytes) -> Source:
    return Source(name, lambda: io.BytesIO(data))


def test_formats_by_name_and_every_reader_is_registered_once() -> None:
    assert set(FORMATS) >= {"evtx", "xml", "json"}
    assert isinstance(FORMATS["evtx"], EvtxReader)
    assert isinstance(FORMATS["xml"], WindowsXmlReader)
    assert isinstance(FORMATS["json"], JsonReader)
    names = [reader.name for reader in (*READERS, *GENERIC_READERS)]
    assert len(names) == len(set(names)) == len(FORMATS)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (EVTX_SAMPLE, "evtx"),
        (FIXTURES / "wevtutil_security.xml", "xml"),
        (FIXTURES / "events_root_rendered.xml", "xml"),
        (FIXTURES / "winlogbeat_ecs.jsonl", "json"),
        (FIXTURES / "nxlog_array.json", "json"),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_sniff_by_content(path: Path, expected: str) -> None:
    reader = sniff(file_source(path))
    assert reader is not None and reader.name == expected


def test_content_wins_over_a_misleading_name_and_the_name_decides_unknown_content() -> None:
    xml_named_json = memory_source("export.json", (FIXTURES / "wevtutil_security.xml").read_bytes())
    assert getattr(sniff(xml_named_json), "name", None) == "xml"
    garbage_json = memory_source("logs.jsonl", b"\x00\x01 not json at all")
    assert getattr(sniff(garbage_json), "name", None) == "json"
    assert sniff(memory_source("notes.txt", b"hello")) is None


def test_source_suffix_ignores_gz_and_archive_path() -> None:
    assert source_suffix("a.zip!dir/Security.EVTX.gz") == ".evtx"
    assert source_suffix("logs/a.json") == ".json"
    assert source_suffix("README") == ""


def test_unknown_format_is_reported_not_skipped(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n")
    events, problems = read_all([notes])
    assert events == []
    assert [(p.path, p.place) for p in problems.problems] == [(str(notes), None)]
    assert problems.problems[0].reason.startswith("unknown format")


def test_format_override_reads_as_the_named_format() -> None:
    events, problems = read_all([FIXTURES / "wevtutil_security.xml"], format="json")
    assert events == [] and problems.count() >= 1  # read as JSON: reported as malformed
    events, problems = read_all([JSONL], format="json")
    assert len(events) == 3 and problems.count() == 0
    with pytest.raises(ValueError, match="unknown input format"):
        list(read_source(file_source(JSONL), ProblemLog(), "csv"))


def test_gzip_files_are_read_transparently_under_their_own_name(tmp_path: Path) -> None:
    packed = tmp_path / "winlogbeat.jsonl.gz"
    packed.write_bytes(gzip.compress(JSONL.read_bytes()))
    events, problems = read_all([packed])
    plain, _ = read_all([JSONL])
    assert problems.count() == 0
    assert [e.fields for e in events] == [e.fields for e in plain]
    assert {e.origin.path for e in events} == {str(packed)}


def test_zip_members_nested_directories_and_compressed_members(tmp_path: Path) -> None:
    archive = tmp_path / "collection.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.write(EVTX_SAMPLE, "hosts/fs03/Security.evtx")
        handle.writestr("hosts/ws07/wevtutil.xml", (FIXTURES / "wevtutil_security.xml").read_bytes())
        handle.writestr("beats/winlogbeat.jsonl.gz", gzip.compress(JSONL.read_bytes()))
        handle.writestr("empty-dir/", b"")
        handle.writestr("readme.txt", b"collected by the IR team\n")
    events, problems = read_all([archive])
    by_member: dict[str, int] = {}
    for event in events:
        by_member[event.origin.path] = by_member.get(event.origin.path, 0) + 1
    assert by_member == {
        f"{archive}!beats/winlogbeat.jsonl.gz": 3,
        f"{archive}!hosts/fs03/Security.evtx": 4,
        f"{archive}!hosts/ws07/wevtutil.xml": 3,
    }
    assert [(p.path, p.reason.split(" (")[0]) for p in problems.problems] == [
        (f"{archive}!readme.txt", "unknown format")
    ]
    from_evtx = [e for e in events if e.origin.kind == "record"]
    assert [e.origin.record for e in from_evtx if e.fields.get("CommandLine") == "net  use"] == [3]


def test_zip_inside_a_zip(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as handle:
        handle.writestr("x/beats.jsonl", JSONL.read_bytes())
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as handle:
        handle.writestr("inner.zip", inner.getvalue())
    events, problems = read_all([outer])
    assert problems.count() == 0
    assert {e.origin.path for e in events} == {f"{outer}!inner.zip!x/beats.jsonl"}


def test_directories_are_walked_recursively_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    shutil.copy(FIXTURES / "get_winevent_toxml.xml", tmp_path / "b" / "deeper" / "z.xml")
    shutil.copy(JSONL, tmp_path / "a" / "y.jsonl")
    shutil.copy(FIXTURES / "nxlog_array.json", tmp_path / "c.json")
    (tmp_path / "b" / "empty.log").write_bytes(b"")
    (tmp_path / "b" / "notes.md").write_text("# notes\n")
    os.symlink(tmp_path, tmp_path / "b" / "loop")  # a link back up must not loop forever
    problems = ProblemLog()
    names = [source.name for source in iter_sources([tmp_path], problems)]
    assert names == [
        str(tmp_path / "a" / "y.jsonl"),
        str(tmp_path / "b" / "deeper" / "z.xml"),
        str(tmp_path / "b" / "empty.log"),
        str(tmp_path / "b" / "notes.md"),
        str(tmp_path / "c.json"),
    ]
    events, problems = read_all([tmp_path])
    assert len(events) == 3 + 3 + 2
    assert [(p.path, p.reason.split(" (")[0]) for p in problems.problems] == [
        (str(tmp_path / "b" / "empty.log"), "empty file: no events"),  # reported, named (issue 14)
        (str(tmp_path / "b" / "notes.md"), "unknown format"),
    ]


def test_missing_paths_and_unreadable_sources_are_reported() -> None:
    def locked() -> io.BytesIO:
        raise PermissionError(13, "Permission denied")

    missing = FIXTURES / "nope.evtx"
    events, problems = read_all([missing, JSONL])
    assert len(events) == 3  # the readable file is still read
    assert [(p.path, p.reason) for p in problems.problems] == [(str(missing), "no such file or directory")]
    problems = ProblemLog()
    assert list(expand_source(Source("locked.json", locked), problems)) == []
    assert list(read_source(Source("locked.json", locked), problems)) == []
    assert [p.reason for p in problems.problems] == ["cannot read: [Errno 13] Permission denied"] * 2


def test_damaged_gzip_and_zip_are_reported_and_other_inputs_still_read(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress(JSONL.read_bytes() * 50)[:-200])
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    events, problems = read_all([truncated, broken_zip, JSONL])
    cut_problems = [p for p in problems.problems if p.path == str(truncated)]
    zip_problems = [p for p in problems.problems if p.path == str(broken_zip)]
    assert len(cut_problems) == 1 and "unreadable from here on" in cut_problems[0].reason
    assert len(zip_problems) == 1 and zip_problems[0].reason.startswith("unreadable zip archive")
    assert sum(1 for e in events if e.origin.path == str(JSONL)) == 3
    assert sum(1 for e in events if e.origin.path == str(truncated)) > 0  # what came before the cut


def test_stdin_is_sniffed_and_read_once() -> None:
    problems = ProblemLog()
    source = stdin_source(io.BytesIO((FIXTURES / "get_winevent_toxml.xml").read_bytes()))
    events = list(read_source(source, problems))
    assert problems.count() == 0
    assert [e.origin.describe() for e in events] == [f"<stdin>:element {n}" for n in (1, 2, 3)]


def test_large_stdin_keeps_the_bytes_read_for_sniffing() -> None:
    line = (FIXTURES / "malformed_middle.jsonl").read_bytes().splitlines()[0] + b"\n"
    data = line * 5000  # far more than the read-ahead
    problems = ProblemLog()
    events = list(read_source(stdin_source(io.BytesIO(data)), problems))
    assert problems.count() == 0
    assert len(events) == 5000 and events[-1].origin.record == 5000


def test_compressed_stdin_and_dash_path(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeStdin:
        buffer = io.BytesIO(gzip.compress(JSONL.read_bytes()))

    monkeypatch.setattr("sys.stdin", FakeStdin)
    events, problems = read_all(["-"])
    assert problems.count() == 0
    assert len(events) == 3 and {e.origin.path for e in events} == {"<stdin>"}
