"""EVTX reading: real sample files, their labelled records, damaged files and per-record errors."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import evtx
import orjson
import pytest

from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import file_source
from watchpost.readers.base import Source
from watchpost.readers.evtx import EvtxReader, _read_records, event_from_record

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "samples"
EVTX_DIR = SAMPLES / "windows" / "evtx"
CORRUPT_DIR = SAMPLES / "windows" / "corrupt"


def read(path: Path) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(EvtxReader().read(file_source(path), problems)), problems


def raw_records(path: Path | io.BytesIO) -> tuple[list[dict[str, Any]], int]:
    """Records and parse errors straight from pyevtx-rs: the oracle for counts."""
    records, errors = [], 0
    iterator = evtx.PyEvtxParser(path if isinstance(path, io.BytesIO) else str(path)).records_json()
    while True:
        try:
            records.append(next(iterator))
        except StopIteration:
            return records, errors
        except RuntimeError:
            errors += 1


def labelled_evtx_rows() -> list[dict[str, str]]:
    with open(SAMPLES / "LABELS.csv", newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["path"].endswith(".evtx")]


def test_net_use_record_has_exact_command_line_and_time_created_timestamp() -> None:
    events, problems = read(EVTX_DIR / "mdecrevoisier_4688_net_use_and_net_view.evtx")
    assert problems.count() == 0
    event = next(e for e in events if e.origin.record == 3)
    assert event.fields["CommandLine"] == "net  use"
    assert event.fields["EventID"] == 4688
    assert event.fields["Channel"] == "Security"
    assert event.fields["Computer"] == "FS03.offsec.lan"
    assert event.fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert event.fields["SubjectUserName"] == "admmig"
    assert event.fields["EventRecordID"] == 60400  # System/EventRecordID, not the header number
    assert event.fields["Execution_ProcessID"] == 4
    # TimeCreated says .367755; this record's header says 14:44:39.3833479.
    assert event.timestamp == datetime(2021, 10, 19, 14, 44, 39, 367755, tzinfo=UTC)
    assert event.timestamp.tzinfo is UTC
    assert event.origin.describe().endswith("mdecrevoisier_4688_net_use_and_net_view.evtx:record 3")
    assert event.logsource.product == "windows"


def test_timestamps_come_from_time_created_even_when_the_header_says_1601() -> None:
    path = EVTX_DIR / "mdecrevoisier_4688_net_use_and_net_view.evtx"
    records, _ = raw_records(path)
    header_1601 = {r["event_record_id"] for r in records if r["timestamp"].startswith("1601")}
    assert header_1601, "the sample is expected to carry a 1601 header time"
    created = {
        r["event_record_id"]: orjson.loads(r["data"])["Event"]["System"]["TimeCreated"]["#attributes"][
            "SystemTime"
        ]
        for r in records
    }
    events, _ = read(path)
    for event in events:
        assert event.timestamp.tzinfo is UTC
        assert event.timestamp.year == 2021
        assert event.timestamp == datetime.fromisoformat(created[event.origin.record])


@pytest.mark.parametrize(
    "row", labelled_evtx_rows(), ids=lambda row: f"{Path(row['path']).stem}:{row['record_id']}"
)
def test_labelled_records_are_read_as_labelled(row: dict[str, str]) -> None:
    events, _ = read(SAMPLES / row["path"])
    event = next(e for e in events if e.origin.record == int(row["record_id"]))
    assert event.fields["EventID"] == int(row["event_id"])
    assert event.fields["Channel"] == row["channel"]
    assert event.fields["Computer"] == row["host"]
    assert event.timestamp == datetime.fromisoformat(row["time_created"])


def test_capattack_security_has_process_events_and_matches_raw_record_count() -> None:
    path = EVTX_DIR / "splunk_capattack_a_security.evtx"
    events, problems = read(path)
    records, errors = raw_records(path)
    assert errors == 0 and problems.count() == 0
    assert len(events) == len(records)
    event_ids = {e.fields["EventID"] for e in events}
    assert {4688, 4689, 4703} <= event_ids
    netstat = [e for e in events if e.fields["EventID"] == 4688 and "NETSTAT" in e.fields["NewProcessName"]]
    assert netstat and all(e.fields["ParentProcessName"].endswith("powershell.exe") for e in netstat)


def test_user_data_members_are_flat_fields() -> None:
    events, _ = read(EVTX_DIR / "mdecrevoisier_4688_net_use_and_net_view.evtx")
    cleared = next(e for e in events if e.fields["EventID"] == 1102)
    assert cleared.fields["SubjectUserName"] == "admmig"
    assert cleared.fields["SubjectDomainName"] == "OFFSEC"
    assert not any(name.startswith("LogFileCleared") or name == "xmlns" for name in cleared.fields)


def test_event_id_with_qualifiers_and_unnamed_data() -> None:
    events, _ = read(EVTX_DIR / "omerbenamram_system_benign.evtx")
    event = next(e for e in events if e.fields["EventID"] == 6009)
    assert event.fields["EventID_Qualifiers"] == 32768
    assert isinstance(event.fields["Data"], list) and "Multiprocessor Free" in event.fields["Data"]
    flat_types = (str, int, float, bool, list, type(None))
    assert all(isinstance(value, flat_types) for value in event.fields.values())


@pytest.mark.parametrize("path", sorted(CORRUPT_DIR.glob("*.evtx")), ids=lambda p: p.name)
def test_corrupt_files_yield_readable_records_and_report_the_rest(path: Path) -> None:
    events, problems = read(path)
    records, _ = raw_records(path)
    # Carving damaged chunks reads every record pyevtx-rs reads over the whole file, and more.
    assert {r["event_record_id"] for r in records} <= {e.origin.record for e in events}
    for problem in problems.problems:
        assert problem.path == str(path)
        assert problem.place is not None and ("record" in problem.place or "chunk" in problem.place)
    assert all(event.timestamp.tzinfo is UTC for event in events)


def test_bad_chunks_cost_only_their_unreadable_records() -> None:
    events, problems = read(CORRUPT_DIR / "sample_with_a_bad_chunk_magic.evtx")
    records, _ = raw_records(CORRUPT_DIR / "sample_with_a_bad_chunk_magic.evtx")
    assert len(events) > len(records)  # the chunk with the zeroed header is carved, not lost whole
    read_numbers = {e.origin.record for e in events}
    lost = [p for p in problems.problems if p.place is not None and p.place.startswith("record ")]
    assert lost and len(lost) == problems.count("read")  # one problem per record lost
    assert not read_numbers & {int(p.place.split()[1]) for p in lost if p.place is not None}


def test_header_without_chunk_is_one_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.evtx"
    broken.write_bytes(b"ElfFile\x00" + b"\x00" * 40)
    events, problems = read(broken)
    assert events == []
    assert problems.count() == 1
    assert problems.problems[0].path == str(broken)
    assert problems.problems[0].reason.startswith("no EVTX chunk")


def test_evtx_inside_a_zip_is_read_from_memory(tmp_path: Path) -> None:
    sample = EVTX_DIR / "sbousseaden_5145_psloggedon.evtx"
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(sample, "host/a.evtx")
    with zipfile.ZipFile(archive) as handle:
        member = Source("logs.zip!host/a.evtx", lambda: handle.open("host/a.evtx"))
        problems = ProblemLog()
        events = list(EvtxReader().read(member, problems))
    direct, _ = read(sample)
    assert [e.fields for e in events] == [e.fields for e in direct]
    assert events[0].origin.path == "logs.zip!host/a.evtx"


def _record(
    number: int, data: dict[str, Any], header: str = "2020-01-01T00:00:00.000001Z UTC"
) -> dict[str, Any]:
    return {"event_record_id": number, "timestamp": header, "data": orjson.dumps(data).decode()}


def _system(**extra: Any) -> dict[str, Any]:
    return {"Provider": {"#attributes": {"Name": "P"}}, "EventID": 1, "Channel": "C", **extra}


def test_missing_time_created_falls_back_to_header_without_a_problem() -> None:
    problems = ProblemLog()
    record = _record(9, {"Event": {"System": _system()}}, header="2020-02-03T04:05:06.7891234Z UTC")
    event = event_from_record(record, "x.evtx", problems)
    assert event.timestamp == datetime(2020, 2, 3, 4, 5, 6, 789123, tzinfo=UTC)
    assert problems.count() == 0


def test_nanosecond_time_created_is_cut_to_microseconds() -> None:
    created = {"TimeCreated": {"#attributes": {"SystemTime": "2024-01-02T03:04:05.123456789Z"}}}
    event = event_from_record(_record(1, {"Event": {"System": _system(**created)}}), "x", ProblemLog())
    assert event.timestamp == datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


class FlakyRecords:
    """Stands in for pyevtx-rs: raises mid-iteration, yields an exception object, then goes on."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if not self.items:
            raise StopIteration
        item = self.items.pop(0)
        if isinstance(item, str) and item == "raise":
            raise RuntimeError("Failed to parse chunk number 3: bad magic")
        return item


def test_parser_errors_raised_or_yielded_and_bad_records_are_reported_then_skipped() -> None:
    good = {"Event": {"System": _system(TimeCreated={"#attributes": {"SystemTime": "2020-01-01T00:00:00Z"}})}}
    items = [
        _record(1, good),
        "raise",
        RuntimeError("yielded error"),
        {"event_record_id": 4, "timestamp": "x", "data": "{not json"},
        {"event_record_id": 5, "timestamp": "x", "data": "{}"},
        _record(6, good),
    ]
    problems = ProblemLog()
    events = list(_read_records(FlakyRecords(items), "f.evtx", problems))
    assert [e.origin.record for e in events] == [1, 6]
    places = [p.place for p in problems.problems]
    assert places == ["after record 1", "after record 1", "record 4", "record 5"]
    assert "chunk number 3" in problems.problems[0].reason
    assert "yielded error" in problems.problems[1].reason


def test_event_data_names_with_spaces_are_also_set_without_them() -> None:
    """Windows Defender writes ``Threat Name``; SigmaHQ's rules say ``ThreatName``."""
    from watchpost.readers.winevent import flatten_windows_event

    event = {
        "System": {"EventID": 1119, "Channel": "Microsoft-Windows-Windows Defender/Operational"},
        "EventData": {"Threat Name": "Virus:DOS/EICAR_Test_File", "Source Name": "Real-Time Protection",
                      "SourceName": "kept"},
    }
    fields, _ = flatten_windows_event(event)
    assert fields["Threat Name"] == fields["ThreatName"] == "Virus:DOS/EICAR_Test_File"
    assert fields["Source Name"] == "Real-Time Protection"
    assert fields["SourceName"] == "kept"
