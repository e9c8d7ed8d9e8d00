"""Azure Log Analytics exports of Linux hosts read as their inner records (auoms, Sysmon for Linux,
raw auditd), on the real OTRF log4shell exports in ../shared/samples/linux/azure_log_analytics/."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import orjson
import pytest

from watchpost.evaluation import hunt_alerts
from watchpost.events import Event
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.registry import iter_sources, read_events, sniff

SAMPLES = Path("samples") / "linux" / "azure_log_analytics"


def rows_of(archive: Path) -> list[dict[str, object]]:
    with zipfile.ZipFile(archive) as opened:
        (name,) = opened.namelist()
        return [json.loads(line) for line in opened.read(name).splitlines() if line.strip()]


def read(path: Path) -> tuple[list[Event], ProblemLog]:
    problems = ProblemLog()
    return list(read_events([path], problems)), problems


@pytest.fixture(scope="module")
def folder(shared: Path) -> Path:
    return shared / SAMPLES


EXPORTS = ["otrf_log4shell_syslog_sysmon.zip", "otrf_log4shell_syslog_auoms_auditd.zip"]


@pytest.mark.parametrize("name", EXPORTS)
def test_the_exports_are_recognised(folder: Path, name: str) -> None:
    problems = ProblemLog()
    (source,) = list(iter_sources([folder / name], problems))
    reader = sniff(source)
    assert reader is not None and reader.name == "azure-log-analytics"


def test_sysmon_for_linux_rows_are_sysmon_events(folder: Path) -> None:
    archive = folder / "otrf_log4shell_syslog_sysmon.zip"
    events, problems = read(archive)
    sysmon_rows = [row for row in rows_of(archive) if "<Event>" in str(row["SyslogMessage"])]
    assert len(sysmon_rows) == 93 and len(events) == 92
    # row 8 was cut by the Syslog table (2,012 characters, no </Event>): reported, not dropped
    assert [(p.place, "without </Event>" in p.reason) for p in problems.problems] == [("line 8", True)]
    assert {(e.logsource.product, e.logsource.service) for e in events} == {("linux", "sysmon")}
    whoami = [e for e in events if e.fields.get("Image") == "/usr/bin/whoami" and e.fields["EventID"] == 1]
    assert len(whoami) == 1
    fields = whoami[0].fields
    assert whoami[0].logsource.category == "process_creation"
    assert (fields["CommandLine"], fields["User"], fields["ParentImage"], fields["Computer"]) == (
        "whoami", "tomcat", "/bin/bash", "UBUNTU5")
    assert whoami[0].timestamp.isoformat() == "2022-05-11T18:10:33.150833+00:00"
    # Sysmon for Linux writes "&lt unknown process&gt " (no semicolons): read, not dropped
    assert any(e.fields.get("Image") == "< unknown process> " for e in events)


def test_auoms_rows_are_process_creations(folder: Path) -> None:
    archive = folder / "otrf_log4shell_syslog_auoms_auditd.zip"
    events, problems = read(archive)
    successful = [row for row in rows_of(archive) if " success=yes " in str(row["SyslogMessage"])]
    assert problems.counts == {}
    assert len(events) == len(successful) == 27
    assert {(e.logsource.product, e.logsource.category) for e in events} == {("linux", "process_creation")}
    (whoami,) = [e for e in events if e.fields["Image"] == "/usr/bin/whoami"]
    assert whoami.fields["CommandLine"] == "whoami" and whoami.fields["User"] == "tomcat"
    assert (whoami.fields["ProcessId"], whoami.fields["ParentProcessId"]) == (17832, 17806)
    assert (whoami.fields["ParentImage"], whoami.fields["ParentCommandLine"]) == ("/bin/bash", "bash -i")
    assert whoami.timestamp.isoformat() == "2022-05-11T18:10:33.146000+00:00"
    assert whoami.fields["Computer"] == "UBUNTU5"


def test_sigmahq_linux_rules_see_both_exports(folder: Path, shared: Path) -> None:
    rules = shared / "sigma" / "rules" / "linux" / "process_creation"
    expected = {
        "otrf_log4shell_syslog_sysmon.zip": {"Local Groups Discovery - Linux", "Decode Base64 Encoded Text"},
        # auoms logs the parent's full command line (bash -i), Sysmon only "bash"
        "otrf_log4shell_syslog_auoms_auditd.zip": {
            "Local Groups Discovery - Linux", "Interactive Bash Suspicious Children"},
    }
    for name, titles in expected.items():
        assert titles <= {alert.rule.title for alert in hunt_alerts([folder / name], [rules])}, name


def source_of(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "Syslog.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(message: str, **extra: object) -> str:
    values = {"TenantId": "t", "TimeGenerated": "2024-01-01T00:00:00Z", "Computer": "web01",
              "ProcessName": "audispd", "SyslogMessage": message, **extra}
    return orjson.dumps(values).decode()


def test_raw_auditd_rows_are_assembled_by_the_auditd_reader(tmp_path: Path) -> None:
    stamp = "audit(1704067200.123:501)"
    lines = [
        row(f'type=SYSCALL msg={stamp}: arch=c000003e syscall=59 success=yes exit=0 items=2 ppid=900 pid=901 '
            'auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 '
            'tty=pts0 '
            'ses=3 comm="netstat" exe="/usr/bin/netstat" key="exec"'),
        row(f'type=EXECVE msg={stamp}: argc=2 a0="netstat" a1="-antp"'),
        row(f'type=CWD msg={stamp}: cwd="/root"'),
        row(f"type=PROCTITLE msg={stamp}: proctitle=6E65747374617400" + "2D616E7470"),
        row("Accepted publickey for alice", ProcessName="sshd"),
    ]
    events, problems = read(source_of(tmp_path, lines))
    created = [e for e in events if e.logsource.category == "process_creation"]
    assert len(created) == 1 and problems.counts == {}
    assert created[0].fields["CommandLine"] == "netstat -antp" and created[0].origin.record == 1
    assert created[0].fields["Computer"] == "web01"


def test_bad_rows_are_problems_with_their_line(tmp_path: Path) -> None:
    good = row("type=AUOMS_EXECVE audit(1704067200.5:7): node=web01 success=yes ppid=1 pid=2 user=root "
               'exe="/usr/bin/ss" cmdline="ss -tn" cwd="/"', ProcessName="auoms")
    lines = [good, "{not json", json.dumps({"TimeGenerated": "x", "Computer": "web01"}),
             row("type=AUOMS_EXECVE garbage", ProcessName="auoms"), "[1, 2]", good]
    events, problems = read(source_of(tmp_path, lines))
    assert [e.fields["CommandLine"] for e in events] == ["ss -tn", "ss -tn"]
    assert sorted(problem.place for problem in problems.problems) == ["line 2", "line 3", "line 4", "line 5"]
    assert events[0].timestamp.isoformat() == "2024-01-01T00:00:00.500000+00:00"


def test_an_unreadable_file_is_one_problem() -> None:
    from watchpost.readers.azure_log_analytics import AzureLogAnalyticsReader

    def fail() -> object:
        raise OSError("gone")

    problems = ProblemLog()
    assert list(AzureLogAnalyticsReader().read(Source("x.json", fail), problems)) == []  # type: ignore[arg-type]
    assert problems.counts == {"read": 1}
