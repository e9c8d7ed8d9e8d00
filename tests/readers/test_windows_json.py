"""JSON logs: NXLog-style flat (OTRF), Winlogbeat/ECS, evtx-dump shape, arrays, damage, plain JSON."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from watchpost.events import EPOCH, Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import file_source
from watchpost.readers.base import Source
from watchpost.readers.json import JsonReader
from watchpost.readers.registry import read_events

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
OTRF_ZIP = SHARED / "samples" / "windows" / "json" / "otrf_lsass_campaign_01.zip"
OTRF_MEMBER = "metasploit_logonpasswords_lsass_memory_dump.json"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "windows"


def read(path: Path) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(JsonReader().read(file_source(path), problems)), problems


def read_bytes(data: bytes, name: str = "mem.json") -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(JsonReader().read(Source(name, lambda: io.BytesIO(data)), problems)), problems


@pytest.fixture(scope="module")
def otrf() -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(read_events([OTRF_ZIP], problems)), problems


def test_otrf_zip_reads_every_line(otrf: tuple[list[Event], ProblemLog]) -> None:
    events, problems = otrf
    with zipfile.ZipFile(OTRF_ZIP) as archive:
        lines = [line for line in archive.read(OTRF_MEMBER).splitlines() if line.strip()]
    assert problems.count() == 0
    assert len(events) == len(lines) > 50_000
    assert all(e.origin.path == f"{OTRF_ZIP}!{OTRF_MEMBER}" and e.origin.kind == "line" for e in events)
    assert all(e.logsource.product == "windows" and e.timestamp.tzinfo is UTC for e in events)
    assert all(isinstance(e.fields["EventID"], int) for e in events)


def test_otrf_known_labelled_events(otrf: tuple[list[Event], ProblemLog]) -> None:
    events, _ = otrf
    with open(SHARED / "samples" / "LABELS.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if OTRF_MEMBER in row["path"]]
    assert rows
    for row in rows:
        moment = datetime.fromisoformat(row["time_created"])
        matches = [
            e for e in events if e.timestamp == moment and e.fields["EventID"] == int(row["event_id"])
        ]
        assert len(matches) == 1, row
        event = matches[0]
        assert event.fields["Channel"] == row["channel"]
        assert event.fields["Computer"] == row["host"] == event.fields["Hostname"]
        assert event.fields["Provider_Name"] == "Microsoft-Windows-PowerShell" == event.fields["SourceName"]
    script = next(e for e in events if e.fields["EventID"] == 4104 and "MSFT_NetTCPConnection" in str(
        e.fields.get("ScriptBlockText")))
    assert script.fields["Level"] == 3  # "3" in the file: a System number
    assert script.fields["Path"] is None


def test_nxlog_array_maps_hostname_and_source_name_and_keeps_originals() -> None:
    events, problems = read(FIXTURES / "nxlog_array.json")
    assert problems.count() == 0
    share, logon = events
    assert [e.origin.describe().rsplit(":", 1)[1] for e in events] == ["element 1", "element 2"]
    assert share.fields["Computer"] == share.fields["Hostname"] == "dc02.example.org"
    assert share.fields["Provider_Name"] == share.fields["SourceName"]
    assert share.fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert share.fields["EventID"] == 5145 and share.fields["EventRecordID"] == 441207
    assert share.fields["RelativeTargetName"] == "srvsvc"
    assert share.timestamp == datetime(2023, 7, 10, 14, 2, 11, tzinfo=UTC)  # naive EventTime taken as UTC
    assert logon.fields["Provider_Name"] == logon.fields["ProviderName"]
    assert logon.timestamp == datetime(2023, 7, 10, 14, 2, 12, 500000, tzinfo=UTC)  # TimeCreated first


def test_winlogbeat_ecs_nested_fields() -> None:
    events, problems = read(FIXTURES / "winlogbeat_ecs.jsonl")
    assert problems.count() == 0
    process, network, cleared = events
    assert process.fields["EventID"] == 4688 and process.fields["Channel"] == "Security"
    assert process.fields["CommandLine"] == "net  use" == process.fields["winlog.event_data.CommandLine"]
    assert process.fields["Computer"] == "srv-app03.example.org"
    assert process.fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert process.fields["Execution_ThreadID"] == 7788 and process.fields["EventRecordID"] == 992310
    assert process.fields["process.command_line"] == "net  use"
    assert process.timestamp == datetime(2023, 6, 1, 8, 15, 30, 123000, tzinfo=UTC)
    assert network.fields["Computer"] == "ws-0042"  # from host.name
    assert network.fields["EventID"] == 3 and network.fields["DestinationPort"] == "445"
    assert network.fields["Security_UserID"] == "S-1-5-18"
    assert network.timestamp == datetime(2023, 6, 1, 8, 15, 31, tzinfo=UTC)  # +02:00 to UTC
    assert cleared.fields["SubjectUserName"] == "admin.ops" and "xml_name" not in cleared.fields
    assert all(e.logsource.product == "windows" for e in events)


def test_evtx_dump_shape_reuses_evtx_flattening() -> None:
    events, problems = read(FIXTURES / "evtx_dump.jsonl")
    assert problems.count() == 0
    arp, started = events
    assert arp.fields["CommandLine"] == "arp -a" and arp.fields["Provider_Name"].endswith("Auditing")
    assert arp.fields["Execution_ProcessID"] == 4
    assert arp.timestamp == datetime(2022, 2, 2, 2, 2, 2, 202020, tzinfo=UTC)
    assert started.fields["EventID"] == 6009 and started.fields["EventID_Qualifiers"] == 32768
    assert started.fields["Data"][3] == "Multiprocessor Free"


def test_pretty_printed_records_with_evtx_dump_headers() -> None:
    record = orjson.loads((FIXTURES / "evtx_dump.jsonl").read_bytes().splitlines()[0])
    pretty = orjson.dumps(record, option=orjson.OPT_INDENT_2).decode()
    data = f"Record 1\n{pretty}\nRecord 2\n{pretty}\n".encode()
    problems = ProblemLog()
    events = list(JsonReader().read(Source("dump.txt", lambda: io.BytesIO(data)), problems))
    assert problems.count() == 0
    assert [e.fields["CommandLine"] for e in events] == ["arp -a", "arp -a"]
    assert events[1].origin.record == pretty.count("\n") + 4  # the line where the second object starts


def test_malformed_line_is_reported_with_its_number_and_later_lines_are_read() -> None:
    events, problems = read(FIXTURES / "malformed_middle.jsonl")
    assert [e.origin.record for e in events] == [1, 2, 4, 6]
    assert [e.fields.get("CommandLine") for e in events] == ["net  use", "whoami", None, "netstat -ano"]
    assert [p.place for p in problems.problems] == ["line 3"]
    assert problems.problems[0].reason.startswith("malformed JSON")


def test_a_cut_first_line_is_reported_at_its_own_line_and_the_next_lines_are_read() -> None:
    # A first line opening an object it does not close is read as the start of a pretty-printed
    # document; the decoder notices the damage on line 2, but the bad value is on line 1.
    good = '{"EventID": 1, "Channel": "C", "TimeCreated": "2023-01-01T00:00:01Z"}'
    events, problems = read_bytes(f'{{"EventID": 9, "Channel": "C"\n{good}\n{good}\n'.encode())
    assert [e.origin.record for e in events] == [2, 3]
    assert [p.describe() for p in problems.problems] == [
        "mem.json (line 1): malformed JSON: Expecting ',' delimiter (noticed at line 2)"
    ]


def test_damaged_array_is_reported_then_read_value_by_value() -> None:
    good = [{"EventID": n, "Channel": "C", "TimeCreated": f"2023-01-01T00:00:0{n}Z"} for n in (1, 2, 3)]
    lines = ["[", orjson.dumps(good[0]).decode() + ",", '{"EventID": 9, "Channel": oops},',
             orjson.dumps(good[1]).decode() + ",", orjson.dumps(good[2]).decode(), "]"]
    events, problems = read_bytes("\n".join(lines).encode())
    assert [e.fields["EventID"] for e in events] == [1, 2, 3]
    assert [p.place for p in problems.problems] == ["line 3"]


def test_plain_json_is_flattened_without_a_windows_hint() -> None:
    events, problems = read(FIXTURES / "generic.jsonl")
    assert problems.count() == 0
    flow = events[0]
    assert flow.logsource.product is None
    assert flow.fields["src.ip"] == "10.0.0.1" and flow.fields["dst.port"] == 445
    assert flow.fields["tags"] == ["smb", "lan"]
    assert flow.fields["hops.ip"] == ["10.0.0.254", "10.0.1.254"]
    assert flow.timestamp == datetime(2023, 7, 22, 4, 26, 40, 500000, tzinfo=UTC)  # epoch seconds
    assert events[1].timestamp == flow.timestamp  # same moment written as ISO 8601


def test_times_with_offsets_naive_and_epoch_milliseconds_are_utc() -> None:
    lines = [
        {"EventID": 1, "Channel": "c", "TimeCreated": "2023-01-01T05:30:00+05:30"},
        {"EventID": 2, "Channel": "c", "TimeCreated": "2023-01-01 00:00:00"},
        {"@timestamp": 1672531200000, "x": 1},
    ]
    events, problems = read_bytes(b"\n".join(orjson.dumps(line) for line in lines))
    assert problems.count() == 0
    assert {e.timestamp for e in events} == {datetime(2023, 1, 1, tzinfo=UTC)}
    assert all(e.timestamp.tzinfo is UTC for e in events)


def test_missing_and_bad_times_and_non_objects_are_reported() -> None:
    data = b'{"a": 1}\n{"b": 2}\n[1, {"time": "yesterday"}]\n"text"\n'
    events, problems = read_bytes(data)
    assert [e.timestamp for e in events] == [EPOCH, EPOCH, EPOCH]
    described = [p.describe() for p in problems.problems]
    # Bad times are kept (stage "kept"), records that cannot be events are skipped ("read").
    assert [p.stage for p in problems.problems] == ["read", "kept", "read", "kept"]
    assert described == [
        "mem.json (line 3): not a JSON object: int",
        "mem.json (line 3): unparsable time 'yesterday': set to 1970-01-01",
        "mem.json (line 4): not a JSON object: str",
        "mem.json: 2 events without a time: their time is set to 1970-01-01",
    ]


def test_utf16_and_bom_files() -> None:
    line = '{"EventID": "4688", "Channel": "Security", "TimeCreated": "2023-01-01T00:00:00Z", "U": "ü"}\r\n'
    for encoded in ((line * 2).encode("utf-16"), b"\xef\xbb\xbf" + (line * 2).encode()):
        events, problems = read_bytes(encoded)
        assert problems.count() == 0
        assert [(e.fields["EventID"], e.fields["U"]) for e in events] == [(4688, "ü")] * 2


def test_sniff() -> None:
    reader, source = JsonReader(), Source("x", lambda: io.BytesIO(b""))
    assert reader.sniff(b'  \n{"a":1}', source) and reader.sniff(b"\xef\xbb\xbf[", source)
    assert not reader.sniff(b"<Event>", source) and not reader.sniff(b"type=SYSCALL", source)
