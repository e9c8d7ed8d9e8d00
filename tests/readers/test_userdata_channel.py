"""System 104 "log cleared": a rule's ``Channel`` is the cleared log (UserData/LogFileCleared/Channel),
the log the event is in stays ``Channel`` for the logsource (docs/rule-pack.md, "UserData and the
System 104 Channel"), on the real 104 events of omerbenamram_system_benign.evtx and on fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from watchpost.evaluation import hunt_alerts
from watchpost.readers.winevent import flatten_windows_event

EVENTLOG = Path("rules/windows/builtin/system/microsoft_windows_eventlog")
HIGH = "Important Windows Eventlog Cleared"
MEDIUM = "Eventlog Cleared"


@pytest.fixture(scope="module")
def cleared_rules(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rules104")
    for name in ("win_system_susp_eventlog_cleared.yml", "win_system_eventlog_cleared.yml"):
        shutil.copy(shared / "sigma" / EVENTLOG / name, folder / name)
    return folder


def event_104(channel: str, record: int) -> str:
    return (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Microsoft-Windows-Eventlog" Guid="{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}" />'
        "<EventID>104</EventID><Version>0</Version><Level>4</Level><Task>104</Task><Opcode>0</Opcode>"
        "<Keywords>0x8000000000000000</Keywords>"
        f'<TimeCreated SystemTime="2024-05-01T10:00:{record:02d}.000000000Z" />'
        f"<EventRecordID>{record}</EventRecordID><Correlation />"
        '<Execution ProcessID="1240" ThreadID="5124" /><Channel>System</Channel>'
        "<Computer>WS01.corp.example</Computer><Security UserID=\"S-1-5-21-1-2-3-1104\" /></System>"
        '<UserData><LogFileCleared xmlns="http://manifests.microsoft.com/win/2004/08/windows/eventlog">'
        "<SubjectUserName>alice</SubjectUserName><SubjectDomainName>CORP</SubjectDomainName>"
        f"<Channel>{channel}</Channel><BackupPath></BackupPath></LogFileCleared></UserData></Event>"
    )


def titles_by_record(alerts: list) -> dict[int, set[str]]:  # type: ignore[type-arg]
    found: dict[int, set[str]] = {}
    for alert in alerts:
        for event in alert.events:
            found.setdefault(int(event.origin.record), set()).add(alert.rule.title)
    return found


def test_the_real_104_events_clear_the_sysmon_log(shared: Path, cleared_rules: Path) -> None:
    sample = shared / "samples" / "windows" / "evtx" / "omerbenamram_system_benign.evtx"
    alerts = hunt_alerts([sample], [cleared_rules])
    assert alerts, "the two 104 events of the sample clear Microsoft-Windows-Sysmon/Operational"
    for alert in alerts:
        fields = alert.events[0].fields
        assert fields["EventID"] == 104
        assert fields["Channel"] == "System"
        assert fields["UserData.Channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert {alert.rule.title for alert in alerts} == {HIGH}  # an important log: high, not medium
    assert len(alerts) == 2


def test_each_rule_reads_the_cleared_log(tmp_path: Path, cleared_rules: Path) -> None:
    cleared = {
        1: "Security",
        2: "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
        3: "Windows PowerShell",
        4: "Application",
        5: "System",
    }
    log = tmp_path / "System.xml"
    text = "\n".join(event_104(channel, n) for n, channel in cleared.items()) + "\n"
    log.write_text(text, encoding="utf-8")
    found = titles_by_record(hunt_alerts([log], [cleared_rules]))
    assert found == {1: {HIGH}, 2: {MEDIUM}, 3: {HIGH}, 4: {MEDIUM}, 5: {HIGH}}


def test_a_rule_of_another_log_still_reads_the_system_channel(tmp_path: Path) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text(
        "title: Any Security Event Named By Channel\nid: 6c0fd1b4-5f6a-4d43-9f39-5b8f0a3b0c11\nstatus: test\n"
        "logsource: {product: windows, service: security}\n"
        "detection:\n  selection:\n    Channel: Security\n    EventID: 1102\n"
        "  condition: selection\nlevel: low\n",
        encoding="utf-8",
    )
    log = tmp_path / "Security.xml"
    log.write_text(event_104("Security", 7).replace("<EventID>104</EventID>", "<EventID>1102</EventID>")
                   .replace("<Channel>System</Channel>", "<Channel>Security</Channel>")
                   .replace("<Channel>Security</Channel></LogFileCleared>", "</LogFileCleared>") + "\n",
                   encoding="utf-8")
    assert [a.rule.title for a in hunt_alerts([log], [rule])] == ["Any Security Event Named By Channel"]


def test_a_user_data_member_never_takes_a_system_name() -> None:
    cleared = {"LogFileCleared": {"Channel": "Application", "Computer": "x"}}
    fields, _ = flatten_windows_event({"UserData": cleared})
    assert "Channel" not in fields and "Computer" not in fields
    assert fields["UserData.Channel"] == "Application" and fields["UserData.Computer"] == "x"
