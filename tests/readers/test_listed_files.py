"""Plain files keep the first bytes read while listing them; an EVTX hunt trusts them."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import BinaryIO

import pytest

from watchpost.hunting import source_hunts
from watchpost.hunting.engine import Hunt
from watchpost.hunting.source_hunts import SourceMatcher
from watchpost.problems import ProblemLog
from watchpost.readers import archive
from watchpost.readers.archive import HEAD_PEEK, ListedFile, iter_sources
from watchpost.readers.evtx import EVTX_MAGIC

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EVTX_SAMPLE = SHARED / "samples" / "windows" / "evtx" / "mdecrevoisier_4688_net_use_and_net_view.evtx"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copyfile(EVTX_SAMPLE, tmp_path / "a.evtx")
    (tmp_path / "b.jsonl").write_bytes(b'{"EventID": 1}\n')
    (tmp_path / "c.evtx").write_bytes(b"Elf")  # shorter than the magic
    (tmp_path / "d.evtx.gz").write_bytes(gzip.compress(EVTX_SAMPLE.read_bytes()))
    (tmp_path / "e.evtx").write_bytes(b"")
    return tmp_path


def test_plain_files_carry_their_first_bytes(folder: Path) -> None:
    problems = ProblemLog()
    sources = {Path(source.name).name: source for source in iter_sources([folder], problems)}
    assert not problems.counts
    for name in ("a.evtx", "b.jsonl", "c.evtx", "e.evtx"):
        source = sources[name]
        assert isinstance(source, ListedFile)
        assert source.head == (folder / name).read_bytes()[:HEAD_PEEK]
        assert source.path == folder / name
    assert sources["a.evtx"].head.startswith(EVTX_MAGIC)
    assert len(sources["a.evtx"].head) == HEAD_PEEK  # enough to tell a tar archive (magic at 257)
    gzipped = sources["d.evtx.gz"]
    assert not isinstance(gzipped, ListedFile)  # decompressed on reading: no head kept
    with gzipped.open() as stream:
        assert stream.read(len(EVTX_MAGIC)) == EVTX_MAGIC


def test_an_evtx_hunt_opens_listed_files_only_in_the_parser(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hunt = Hunt()
    matcher = SourceMatcher(hunt.ruleset, None, None, None)
    listed = list(iter_sources([folder / "a.evtx"], ProblemLog()))
    expected = matcher.run(0, listed[0])
    opened: list[Path] = []
    real_open = archive._open_file

    def counting_open(path: Path) -> BinaryIO:
        opened.append(path)
        return real_open(path)

    monkeypatch.setattr(archive, "_open_file", counting_open)
    again = list(iter_sources([folder / "a.evtx"], ProblemLog()))
    outcome = matcher.run(0, again[0])
    assert opened == []
    assert expected.events > 0 and outcome.events == expected.events
    assert outcome.matches == expected.matches


def test_files_that_are_not_evtx_are_still_read_by_their_format(folder: Path) -> None:
    hunt = Hunt()
    matcher = SourceMatcher(hunt.ruleset, None, None, None)
    outcomes = {Path(s.name).name: matcher.run(0, s) for s in iter_sources([folder], ProblemLog())}
    assert outcomes["b.jsonl"].events == 1
    assert outcomes["d.evtx.gz"].events == outcomes["a.evtx"].events > 0
    empty = outcomes["e.evtx"]  # an empty file is reported (issue 14), not passed over in silence
    assert empty.events == 0 and empty.problems is not None
    assert [p.reason for p in empty.problems.problems] == ["empty file: no events"]
    short = outcomes["c.evtx"]
    assert short.events == 0 and short.problems is not None  # reported, as before
    assert source_hunts._is_evtx(next(iter(iter_sources([folder / "a.evtx"], ProblemLog()))))
