"""x-watchpost-processes: a process counted once across logs and across alerts, collector
lineages not counted (watchpost.correlation.processes), on the pack's Windows burst rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchpost.events import Event, LogsourceHint, Origin
from watchpost.hunting.ruleset import load_ruleset
from watchpost.ruletests import alerts_over

PACK = Path(__file__).resolve().parents[2] / "src" / "watchpost" / "packs" / "t1049" / "burst"
WINDOWS_BURST = PACK / "discovery_burst_windows.yml"
S32 = "C:\\Windows\\System32\\"
START = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)


def security(seconds: float, image: str, pid: int, ppid: int, logon: str = "0x4d9a3") -> Event:
    fields = {
        "EventID": 4688, "Channel": "Security", "Computer": "WS01.corp.example",
        "SubjectLogonId": logon, "NewProcessId": hex(pid), "NewProcessName": S32 + image,
        "CommandLine": image, "ProcessId": hex(ppid), "ParentProcessName": S32 + "cmd.exe",
    }
    return Event(START + timedelta(seconds=seconds), fields, Origin("t.xml", "record", int(seconds * 10)),
                 LogsourceHint(product="windows", service="security"))


def sysmon(seconds: float, image: str, pid: int, ppid: int, logon: str = "0x4d9a3") -> Event:
    fields = {
        "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS01.corp.example",
        "LogonId": logon, "ProcessId": str(pid), "Image": S32 + image, "CommandLine": image,
        "ParentProcessId": str(ppid), "ParentImage": S32 + "cmd.exe",
    }
    return Event(START + timedelta(seconds=seconds), fields, Origin("s.xml", "record", int(seconds * 10)),
                 LogsourceHint(product="windows", service="sysmon"))


SURVEY = [("whoami.exe", 6000), ("ipconfig.exe", 6004), ("NETSTAT.EXE", 6008)]


def bursts(events: list[Event], path: Path = WINDOWS_BURST) -> list[str]:
    ruleset = load_ruleset([path])
    assert not ruleset.problems
    return [a.rule.title for a in alerts_over(ruleset, sorted(events, key=lambda e: e.timestamp))
            if "Burst" in a.rule.title]


def test_sysmon_copies_after_an_alert_do_not_make_a_second_burst() -> None:
    first = [security(i * 2, image, pid, 4200) for i, (image, pid) in enumerate(SURVEY)]
    copies = [sysmon(12 + i * 2, image, pid, 4200) for i, (image, pid) in enumerate(SURVEY)]
    assert bursts(first + copies) == ["Burst Of Discovery Commands In One Logon Session (Windows)"]


def test_without_process_identity_the_copies_fire_again(tmp_path: Path) -> None:
    """The same rules without the attribute: the second alert the issue saw (the test above
    can fail)."""
    text = WINDOWS_BURST.read_text(encoding="utf-8")
    stripped = []
    for document in text.split("\n---\n"):
        if "x-watchpost-processes:" in document:
            head, _, tail = document.partition("x-watchpost-processes:")
            tail = tail[tail.index("falsepositives:"):]
            document = head + tail
        stripped.append(document)
    plain = tmp_path / "burst.yml"
    plain.write_text("\n---\n".join(stripped), encoding="utf-8")
    first = [security(i * 2, image, pid, 4200) for i, (image, pid) in enumerate(SURVEY)]
    copies = [sysmon(12 + i * 2, image, pid, 4200) for i, (image, pid) in enumerate(SURVEY)]
    assert len(bursts(first + copies, plain)) == 2


def test_new_processes_after_an_alert_still_count() -> None:
    first = [security(i * 2, image, pid, 4200) for i, (image, pid) in enumerate(SURVEY)]
    later = [security(30 + i * 2, image, pid + 100, 4200) for i, (image, pid) in enumerate(SURVEY)]
    assert len(bursts(first + later)) == 2


def test_a_reused_process_id_running_another_program_counts() -> None:
    events = [security(0, "whoami.exe", 6000, 4200), security(2, "ipconfig.exe", 6004, 4200),
              security(4, "NETSTAT.EXE", 6008, 4200)]
    events += [sysmon(10, "systeminfo.exe", 6000, 4200), sysmon(12, "tasklist.exe", 6004, 4200),
               sysmon(14, "HOSTNAME.EXE", 6008, 4200)]
    assert len(bursts(events)) == 2


@pytest.mark.parametrize("logon", ["0x3e7", "0x3E7", "0x3e4"])
def test_service_sessions_are_grouped_by_parent_process(logon: str) -> None:
    two_agents = [
        security(0, "ipconfig.exe", 5000, 900, logon), security(1, "HOSTNAME.EXE", 5004, 900, logon),
        sysmon(2, "systeminfo.exe", 5008, 1200, logon), sysmon(3, "tasklist.exe", 5012, 1200, logon),
    ]
    assert bursts(two_agents) == []
    one_shell = [security(0, "whoami.exe", 5000, 1200, logon), sysmon(1, "ipconfig.exe", 5004, 1200, logon),
                 security(2, "NETSTAT.EXE", 5008, 1200, logon)]
    assert bursts(one_shell) == ["Burst Of Discovery Commands From One Service Process (Windows)"]


def test_collector_lineage_ends_a_timespan_after_its_last_activity() -> None:
    gather = Event(START, {
        "EventID": 4688, "Channel": "Security", "Computer": "WS01.corp.example", "SubjectLogonId": "0x4d9a3",
        "NewProcessId": hex(7460), "NewProcessName": S32 + "cscript.exe",
        "CommandLine": "cscript.exe C:\\Windows\\system32\\gatherNetworkInfo.vbs",
        "ProcessId": hex(3912), "ParentProcessName": S32 + "netsh.exe",
    }, Origin("t.xml", "record", 1), LogsourceHint(product="windows", service="security"))
    children = [security(1 + i, image, pid, 7460) for i, (image, pid) in enumerate(SURVEY)]
    assert bursts([gather, *children]) == []
    much_later = [security(1000 + i, image, pid, 7460) for i, (image, pid) in enumerate(SURVEY)]
    assert len(bursts([gather, *much_later])) == 1


def test_unknown_collector_rule_is_a_rule_problem(tmp_path: Path) -> None:
    text = WINDOWS_BURST.read_text(encoding="utf-8").replace(
        "    - t1049_burst_windows_collector_sysmon\n  relays:", "    - no_such_rule\n  relays:", 1)
    broken = tmp_path / "burst.yml"
    broken.write_text(text, encoding="utf-8")
    ruleset = load_ruleset([broken])
    assert any("no_such_rule" in problem.describe() for problem in ruleset.problems)
