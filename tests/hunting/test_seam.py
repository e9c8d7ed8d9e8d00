"""The detect/correlate seam (#16): detections made source by source and correlated afterwards
give the alerts of `Hunt.run`; what crosses process boundaries pickles."""

from __future__ import annotations

import gzip
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.hunting.split_inputs import DETECTION_ID, write_jsonl, write_rules
from watchpost import Hunt, HuntOptions
from watchpost.alerts import Alert
from watchpost.hunting.detection import Detection, Detector, correlate
from watchpost.hunting.records import RecordOrigin, events_from_records
from watchpost.hunting.ruleset import RuleSet
from watchpost.hunting.sources import SourceRef, list_refs
from watchpost.hunting.spark import detect_ref
from watchpost.problems import ProblemLog
from watchpost.readers.archive import iter_sources

FIXTURES = PROJECT / "tests" / "fixtures"


def digests(alerts: list[Alert]) -> list[tuple[object, ...]]:
    return [(a.rule.id, a.timestamp, tuple(e.origin for e in a.events)) for a in alerts]


def test_detect_then_correlate_gives_the_alerts_of_a_hunt() -> None:
    hunt = Hunt(HuntOptions())
    expected = digests(list(hunt.run([FIXTURES])))
    detector = Detector(hunt.ruleset)
    sources = list(iter_sources([FIXTURES], ProblemLog()))
    detections = [pickle.loads(pickle.dumps(detector.detect(source, number)))  # as from a worker
                  for number, source in enumerate(sources)]
    ids = set(hunt.ruleset.detection_ids())
    kept = [item for detection in detections for item in detection.found if item[4] is not None]
    assert kept and all(rule in ids for _, _, _, rule, _ in kept)
    found = digests(list(correlate(detections, hunt.ruleset)))
    assert found == expected
    assert any(a[0] in {c.meta.id for c in hunt.ruleset.correlations} for a in expected)


def test_rule_set_bytes_round_trip_and_a_detector_pickles() -> None:
    ruleset = Hunt(HuntOptions()).ruleset
    copy = RuleSet.from_bytes(ruleset.to_bytes())
    assert copy.detection_ids() == ruleset.detection_ids()
    assert [c.meta.id for c in copy.correlations] == [c.meta.id for c in ruleset.correlations]
    with pytest.raises(ValueError, match="not a serialized rule set"):
        RuleSet.from_bytes(pickle.dumps({"not": "rules"}))
    with pytest.raises(ValueError, match="not a serialized rule set"):
        RuleSet.from_bytes(b"garbage")
    source = next(iter(iter_sources([FIXTURES / "windows" / "wevtutil_security.xml"], ProblemLog())))
    here = Detector(ruleset).detect(source)
    there = pickle.loads(pickle.dumps(Detector(ruleset))).detect(source)
    assert [(k, r, e.origin if e else None) for k, _, _, r, e in there.found] == \
        [(k, r, e.origin if e else None) for k, _, _, r, e in here.found]


def test_repeated_rule_ids_get_distinct_keys(tmp_path: Path) -> None:
    ruleset = Hunt(HuntOptions(rules=[write_rules(tmp_path / "rules")])).ruleset
    assert ruleset.detection_ids() == (DETECTION_ID,)
    (rule,) = ruleset.detections
    twice = RuleSet(detections=[rule, rule, rule])  # the loader keeps one per id; a built set may not
    assert twice.detection_ids() == (DETECTION_ID, f"{DETECTION_ID}#2", f"{DETECTION_ID}#3")


def test_records_null_is_missing_and_origin_columns(tmp_path: Path) -> None:
    rule = tmp_path / "exists.yml"
    rule.write_text("""title: Parent command line present
id: 7a1c0f00-0000-4000-8000-000000000001
status: test
logsource: {product: windows, category: process_creation}
detection:
  selection:
    ParentCommandLine|exists: true
  condition: selection
level: low
""")
    ruleset = Hunt(HuntOptions(rules=[rule])).ruleset
    base = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
            "TimeCreated": "2024-03-05T10:00:00Z", "file": "lake/part-0.parquet"}
    records = [dict(base, ParentCommandLine=None, row=7), dict(base, ParentCommandLine="cmd.exe /c", row=8),
               dict(base, row=9)]
    problems = ProblemLog()
    events = list(events_from_records(records, shape="windows", origin=RecordOrigin("file", "row", "record"),
                                      problems=problems))
    assert [e.origin.describe() for e in events] == [f"lake/part-0.parquet:record {n}" for n in (7, 8, 9)]
    assert "file" not in events[0].fields and "ParentCommandLine" not in events[0].fields
    detection = Detector(ruleset).detect(iter(events), name="lake")
    matched = [e.origin.record for *_, e in detection.found if e is not None]
    assert matched == [8]  # a null is a missing field for |exists
    bad = list(events_from_records([dict(base, TimeCreated="yesterday")], origin="rows", problems=problems))
    assert bad[0].timestamp.year == 1970 and problems.problems[-1].place == "record 1"
    with pytest.raises(ValueError, match="unknown record shape"):
        list(events_from_records([], shape="csv"))


def test_source_refs_list_and_open_like_a_local_hunt(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", 50)
    with zipfile.ZipFile(folder / "b.zip", "w") as archive:
        archive.writestr("dir/c.jsonl", (folder / "a.jsonl").read_text())
    (folder / "d.jsonl.gz").write_bytes(gzip.compress((folder / "a.jsonl").read_bytes()))
    problems = ProblemLog()
    refs = [pickle.loads(pickle.dumps(ref)) for ref in list_refs([folder], problems)]
    listed = list(iter_sources([folder], ProblemLog()))
    assert [ref.name for ref in refs] == [source.name for source in listed]
    assert [ref.member for ref in refs] == [None, "dir/c.jsonl", ""]
    for ref, source in zip(refs, listed, strict=True):
        opened = ref.open_source(problems)
        assert opened is not None
        with opened.open() as mine, source.open() as theirs:
            assert mine.read() == theirs.read()
    assert SourceRef(str(folder / "b.zip"), "missing.jsonl").open_source(problems) is None
    assert problems.problems[-1].path.endswith("b.zip!missing.jsonl")
    ranges = list_refs([folder / "a.jsonl"], ProblemLog(), split_bytes=2_000)
    assert len(ranges) > 2 and all(ref.parts == len(ranges) for ref in ranges)


def test_fsspec_urls_are_listed_and_read(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    content = write_jsonl(tmp_path / "x.jsonl", 20).read_bytes()
    memory.pipe("/lake/2024/x.jsonl", content)
    memory.pipe("/lake/2024/y.jsonl", content)
    problems = ProblemLog()
    refs = list_refs(["memory://lake/"], problems)
    assert [ref.uri.replace(":///", "://") for ref in refs] == [
        "memory://lake/2024/x.jsonl", "memory://lake/2024/y.jsonl"]
    source = refs[0].open_source(problems)
    assert source is not None
    with source.open() as stream:
        assert stream.read() == content
    list_refs(["memory://nowhere/"], problems)
    assert {p.path for p in problems.problems} == {"memory://nowhere/"}
    detection = detect_ref(Detector(RuleSet()), 0, SourceRef("nosuchscheme://x/y"))
    assert detection.problems is not None and detection.events == 0
    assert [p.path for p in detection.problems.problems] == ["nosuchscheme://x/y"]


def test_detections_made_elsewhere_stream_and_stop_as_a_run() -> None:
    hunt = Hunt(HuntOptions())
    expected = digests(list(hunt.run([FIXTURES])))
    refs = list_refs([FIXTURES], ProblemLog())
    detector = Detector(hunt.ruleset)
    made = [detect_ref(detector, number, ref) for number, ref in enumerate(refs)]
    whole = Hunt(HuntOptions())
    assert digests(list(whole.correlate(iter(made), refs))) == expected
    assert (whole.stats.sources, whole.stats.events) == (hunt.stats.sources, hunt.stats.events)

    stopping = Hunt(HuntOptions())

    def handed() -> Iterator[Detection]:
        for number, detection in enumerate(made):
            if number == 3:
                stopping.request_stop("SIGINT")
            yield detection

    partial = digests(list(stopping.correlate(handed(), refs)))
    assert stopping.stats.stopped == "SIGINT" and not stopping.stats.complete
    assert stopping.stats.unfinished == [ref.name for ref in refs[3:]][:20]
    assert partial == digests(list(correlate(made[:3], hunt.ruleset)))  # what was found, flushed


def test_table_plan_columns_the_rules_read(tmp_path: Path) -> None:
    from watchpost.hunting.table_plan import needed_columns

    pack = Hunt(HuntOptions()).ruleset
    needed = needed_columns(pack)
    assert needed is not None
    assert {"Image", "CommandLine", "EventID", "Channel", "Computer", "TimeCreated"} <= needed
    for spec in pack.correlations:
        assert set(spec.group_by) <= needed
    keyword = tmp_path / "keyword.yml"
    keyword.write_text("""title: Any netstat text
id: 7a1c0f00-0000-4000-8000-000000000002
status: test
logsource: {product: windows, category: process_creation}
detection:
  keywords: [netstat]
  condition: keywords
level: low
""")
    assert needed_columns(Hunt(HuntOptions(rules=[keyword])).ruleset) is None  # keywords read every field
