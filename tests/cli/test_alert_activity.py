"""One alert per activity, through `watchpost hunt` (issue 17, item 2): one process logged by
Security 4688 and Sysmon 1 is one alert carrying both events; ``-X`` drops exact repeats; process
ids and users read the same whatever log wrote them. And the merging stage holds alerts only for
its short window."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.alert_merging import AlertMerging, MergeSettings
from watchpost.alerts import Alert
from watchpost.cli import main
from watchpost.events import Event, Origin
from watchpost.rules.model import RuleMeta

WS01 = PROJECT / "examples" / "windows" / "ws01"
SERVER = PROJECT / "examples" / "windows" / "win-srv2016"


def alerts_of(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["hunt", *args, "-f", "jsonl", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def process_alerts(alerts: list[dict[str, object]]) -> list[dict[str, object]]:
    return [a for a in alerts if a["correlation"] is None and "process_id" in a["summary"]]  # type: ignore[operator]


def test_one_process_in_security_and_sysmon_is_one_alert_with_both_events() -> None:
    merged = process_alerts(alerts_of(str(WS01)))
    apart = process_alerts(alerts_of(str(WS01), "--no-merge"))
    both = [a for a in merged if len(a["events"]) == 2]  # type: ignore[arg-type]
    assert both, "no alert carries the 4688 and the Sysmon 1 of one process"
    assert len(merged) == len(apart) - len(both)
    for alert in both:
        first, second = alert["events"]  # type: ignore[misc]
        assert {first["fields"]["Channel"], second["fields"]["Channel"]} == {
            "Security", "Microsoft-Windows-Sysmon/Operational"}
        security = first if first["fields"]["EventID"] == 4688 else second
        sysmon = second if security is first else first
        # The same process, its id written in hex by Security and in decimal by Sysmon.
        assert int(security["fields"]["NewProcessId"], 16) == int(sysmon["fields"]["ProcessId"])
        assert alert["summary"]["process_id"] == int(sysmon["fields"]["ProcessId"])  # type: ignore[index]
        assert alert["extra"]["merged"] == 2  # type: ignore[index]
    # Nothing is lost: the merged alerts carry every event the separate ones had.
    def places(alerts: list[dict[str, object]]) -> list[str]:
        return sorted(f"{e['origin']['path']}:{e['origin']['record']}"  # type: ignore[index]
                      for a in alerts for e in a["events"])  # type: ignore[attr-defined]

    assert places(merged) == places(apart)


def test_process_ids_are_decimal_and_users_one_form_while_events_keep_what_the_log_wrote() -> None:
    apart = process_alerts(alerts_of(str(WS01), "--no-merge"))
    users: dict[int, set[str]] = {}
    for alert in apart:
        summary: dict[str, object] = alert["summary"]  # type: ignore[assignment]
        assert isinstance(summary["process_id"], int)
        assert isinstance(summary.get("parent_id", 0), int)
        fields = alert["events"][0]["fields"]  # type: ignore[index]
        users.setdefault(fields["EventID"], set()).add(str(summary["user"]))
        if fields["EventID"] == 4688:
            assert fields["NewProcessId"].startswith("0x")  # the event keeps the log's form
            assert fields["SubjectUserName"] == "alice"  # Security writes the user apart from its domain
    assert {4688, 1} <= set(users)  # both logs, one form of the user
    assert users[4688] == users[1] == {"CORP\\alice"}


def test_exact_repeats_are_dropped_with_x(tmp_path: Path) -> None:
    copy = tmp_path / "second-collection"
    copy.mkdir()
    shutil.copy(SERVER / "Security.xml", copy / "Security.xml")
    once = alerts_of(str(SERVER))
    twice = alerts_of(str(SERVER), str(copy))
    deduplicated = alerts_of(str(SERVER), str(copy), "-X")
    assert len(twice) > len(once)
    assert [(a["rule"]["id"], a["timestamp"]) for a in deduplicated] == [  # type: ignore[index]
        (a["rule"]["id"], a["timestamp"]) for a in once]  # type: ignore[index]
    assert alerts_of(str(SERVER), str(copy), "--remove-duplicates") == deduplicated
    result = CliRunner().invoke(main, ["hunt", str(SERVER), str(copy), "-X", "-f", "jsonl"])
    removed = len(twice) - len(deduplicated)
    assert f"{removed} exact repeats removed (-X)" in result.stderr  # counted, never silently dropped


RULE = RuleMeta(id="rule-1", title="netstat", level="low", path="r.yml")
START = datetime(2024, 1, 1, tzinfo=UTC)


def process_alert(seconds: float, pid: str, channel: str) -> Alert:
    fields = {"Channel": channel, "Computer": "ws", "Image": "C:\\netstat.exe", "ProcessId": pid}
    event = Event(START + timedelta(seconds=seconds), fields, Origin(channel, int(seconds), "record"))
    return Alert(RULE, event.timestamp, (event,), (RULE.id,))


def test_the_merging_stage_holds_alerts_only_for_its_window() -> None:
    stage = AlertMerging(MergeSettings(window=timedelta(seconds=2)))
    given: list[float] = []

    def stream() -> Iterator[Alert]:
        for seconds in (0, 0.5, 10, 10.2, 30):
            given.append(seconds)
            yield process_alert(seconds, "0x10" if seconds < 5 else str(int(seconds * 10)),
                                "Security" if seconds in (0, 10, 30) else "Sysmon")

    out = stage.alerts(stream())
    first = next(out)
    # The 0 s and 0.5 s alerts (one process: 0x10 in both logs) came out as one, once the 10 s
    # alert showed that nothing within 2 s could follow; nothing later was read.
    assert given == [0, 0.5, 10] and len(first.events) == 2
    rest = list(out)
    assert [len(a.events) for a in rest] == [1, 1, 1]  # 10 s and 10.2 s: different processes
    assert stage.counts.merged == 1
    bounded = AlertMerging(MergeSettings(max_held=3))
    outputs = bounded.alerts(process_alert(0, str(n), "Security") for n in range(10))
    assert len([next(outputs) for _ in range(5)]) == 5  # same time, yet no more than 3 are held
