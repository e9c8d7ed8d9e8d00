"""Windows event XML: wevtutil, Get-WinEvent ToXml, <Events> roots, damage and hostile input."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from watchpost.events import EPOCH, Event
from watchpost.problems import ProblemLog
from watchpost.readers.archive import file_source
from watchpost.readers.base import Source
from watchpost.readers.winxml import WindowsXmlReader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "windows"
NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def read(path: Path) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(WindowsXmlReader().read(file_source(path), problems)), problems


def read_bytes(data: bytes, name: str = "mem.xml") -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    source = Source(name, lambda: io.BytesIO(data))
    return list(WindowsXmlReader().read(source, problems)), problems


def event_xml(record: int, command: str = "net  use", time: str = "2023-03-14T09:27:01Z") -> str:
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='Microsoft-Windows-Security-Auditing'/>"
        f"<EventID>4688</EventID><TimeCreated SystemTime='{time}'/><EventRecordID>{record}</EventRecordID>"
        f"<Channel>Security</Channel><Computer>h1</Computer></System>"
        f"<EventData><Data Name='CommandLine'>{command}</Data></EventData></Event>"
    )


def test_wevtutil_output_without_root_or_newlines() -> None:
    events, problems = read(FIXTURES / "wevtutil_security.xml")
    assert problems.count() == 0
    assert [e.fields["EventID"] for e in events] == [1102, 4688, 4689]
    assert [e.origin.record for e in events] == [1, 2, 3]
    assert {e.origin.kind for e in events} == {"element"}
    created = events[1]
    assert created.fields["CommandLine"] == "net  use"
    assert created.fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert created.fields["Execution_ProcessID"] == 4 and created.fields["EventRecordID"] == 7002
    assert created.fields["Computer"] == "WKS07.corp.example"
    assert created.timestamp == datetime(2023, 3, 14, 9, 27, 1, 123456, tzinfo=UTC)
    cleared = events[0]
    assert cleared.fields["SubjectUserName"] == "admin.ops"  # UserData member under its own name
    assert cleared.logsource.product == "windows"


def test_get_winevent_toxml_one_event_per_line() -> None:
    events, problems = read(FIXTURES / "get_winevent_toxml.xml")
    assert problems.count() == 0
    assert [e.fields["CommandLine"] for e in events[:2]] == ["net  session", "net.exe  use \\\\fs01\\ipc$"]
    assert [e.timestamp for e in events] == [
        datetime(2023, 3, 14, 10, 0, 0, tzinfo=UTC),
        datetime(2023, 3, 14, 10, 0, 5, 500000, tzinfo=UTC),
        datetime(2023, 3, 14, 10, 0, 6, tzinfo=UTC),
    ]


def test_events_root_with_declaration_rendering_info_unnamed_data_and_offsets() -> None:
    events, problems = read(FIXTURES / "events_root_rendered.xml")
    assert problems.count() == 0
    sysmon, powershell, service = events
    assert sysmon.fields["CommandLine"] == "netstat  -ano & echo done <ok>"
    assert sysmon.fields["ParentCommandLine"] == ""
    assert sysmon.fields["Security_UserID"] == "S-1-5-18"
    assert sysmon.fields["Message"].startswith("Process Create:")
    assert sysmon.fields["Level"] == 4  # System Level, not RenderingInfo's "Information"
    assert sysmon.timestamp == datetime(2023, 5, 2, 16, 41, 7, 310871, tzinfo=UTC)
    assert powershell.fields["EventID"] == 400 and powershell.fields["EventID_Qualifiers"] == 0
    assert powershell.fields["Data"][0] == "Available"
    assert "HostApplication=powershell.exe -c Get-NetTCPConnection" in powershell.fields["Data"][2]
    assert service.fields["Provider_EventSourceName"] == "Service Control Manager"
    assert service.fields["Binary"] == "520065006D006F00"
    assert service.timestamp == datetime(2023, 5, 2, 16, 42, 1, 250000, tzinfo=UTC)  # +02:00 to UTC


def test_malformed_elements_are_reported_with_position_and_reading_goes_on() -> None:
    events, problems = read(FIXTURES / "malformed_middle.xml")
    assert [e.fields["EventRecordID"] for e in events] == [9001, 9003, 9005]
    assert [e.origin.record for e in events] == [1, 3, 5]
    assert [p.place for p in problems.problems] == ["element 2 (line 2)", "element 4 (line 4)"]
    assert problems.problems[0].reason.startswith("malformed XML: mismatched tag")
    assert problems.problems[1].reason == "element has no end tag"


def test_element_cut_off_at_end_of_file() -> None:
    data = (event_xml(1) + "\n" + event_xml(2)[:150]).encode()
    events, problems = read_bytes(data)
    assert [e.fields["EventRecordID"] for e in events] == [1]
    assert [(p.place, p.reason) for p in problems.problems] == [
        ("element 2 (line 2)", "element cut off at end of file")
    ]


def test_doctype_and_entities_are_refused() -> None:
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
        f"<Events>{event_xml(1, command='&lol2;')}</Events>"
    )
    events, problems = read_bytes(laughs.encode())
    assert events == []
    assert problems.count() == 1
    assert "DTD/entity declarations are refused" in problems.problems[0].reason


def test_undeclared_entity_inside_an_event_is_a_malformed_element() -> None:
    events, problems = read_bytes((event_xml(1, command="&xxe;") + event_xml(2)).encode())
    assert [e.fields["EventRecordID"] for e in events] == [2]
    assert problems.problems[0].place == "element 1 (line 1)"
    assert "undefined entity" in problems.problems[0].reason


def test_text_between_events_is_reported_once_per_gap() -> None:
    data = f"{event_xml(1)}\nthis is not xml\n{event_xml(2)}\n<!-- a comment -->\n{event_xml(3)}\n"
    events, problems = read_bytes(data.encode())
    assert len(events) == 3
    assert [(p.place, p.reason) for p in problems.problems] == [
        ("line 2", "unexpected text between events: 'this is not xml'")
    ]


def test_utf16_file_with_bom_as_windows_powershell_writes_it() -> None:
    data = ("\n".join(event_xml(n, command="nslookup  ünïcode") for n in (1, 2)) + "\n").encode("utf-16")
    events, problems = read_bytes(data)
    assert problems.count() == 0
    assert [e.fields["CommandLine"] for e in events] == ["nslookup  ünïcode"] * 2


def test_event_without_time_created_gets_epoch_and_a_problem() -> None:
    data = b"<Event><System><EventID>1</EventID><Channel>Security</Channel></System></Event>"
    events, problems = read_bytes(data)
    assert events[0].timestamp == EPOCH and events[0].fields["EventID"] == 1
    assert "without System/TimeCreated" in problems.problems[0].reason


def test_events_split_across_small_read_chunks() -> None:
    many = "".join(event_xml(n) for n in range(1, 201)).encode()
    problems = ProblemLog()
    reader = WindowsXmlReader(chunk_size=97)  # element and tag boundaries fall inside chunks
    events = list(reader.read(Source("mem.xml", lambda: io.BytesIO(many)), problems))
    assert problems.count() == 0
    assert [e.fields["EventRecordID"] for e in events] == list(range(1, 201))


def test_sniff_accepts_event_xml_and_refuses_other_xml() -> None:
    reader = WindowsXmlReader()
    source = Source("x", lambda: io.BytesIO(b""))
    assert reader.sniff(b"<Event xmlns='x'><System>", source)
    assert reader.sniff(b'\xef\xbb\xbf<?xml version="1.0"?>\r\n<Events><Event>', source)
    assert reader.sniff("<Events>\n<Event>".encode("utf-16"), source)
    assert not reader.sniff(b"<html><body>EventData</body></html>", source)
    assert not reader.sniff(b'{"Event": 1}', source)


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(min_value=0, max_value=2000), junk=st.binary(max_size=40), size=st.integers(1, 300))
def test_damaged_input_never_raises_and_keeps_whole_events(cut: int, junk: bytes, size: int) -> None:
    whole = "".join(event_xml(n) for n in range(1, 6)).encode()
    data = whole[:cut] + junk + whole[cut:]
    assume(b"<!DOCTYPE" not in data and b"<!ENTITY" not in data)  # such files are refused whole
    problems = ProblemLog()
    reader = WindowsXmlReader(chunk_size=size)
    events = list(reader.read(Source("mem.xml", lambda: io.BytesIO(data)), problems))
    numbers = [e.fields.get("EventRecordID") for e in events]
    untouched = [n for n in range(1, 6) if event_xml(n).encode() in data]
    assert set(untouched) <= set(numbers)


def test_xml_without_any_event_element_is_reported() -> None:
    events, problems = read_bytes(b'<?xml version="1.0"?>\n<e:Events xmlns:e="x"><e:Event/></e:Events>\n')
    assert events == []
    assert [(p.place, p.reason) for p in problems.problems] == [(None, "no <Event> element found")]
    events, problems = read_bytes(b"<Events>\n</Events>\n")
    assert events == [] and problems.count() == 1
