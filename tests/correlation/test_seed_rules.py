"""The seed's three rules, loaded verbatim, on a faithful reproduction of the seed's test case."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchpost.alerts import Alert

from .seed_cases import (
    FIXTURES,
    NET_SESSION,
    NET_USE,
    NETSTAT,
    events_of,
    hunt_seed,
    moved,
    time_of,
    with_data,
    write_events,
)

SEED_COMMANDS = {NETSTAT: "netstat", NET_USE: "net  use", NET_SESSION: "net  session"}


def command_of(alert: Alert) -> str:
    """The command line of the 4688 that opens the alert (the seed rule it stands for)."""
    first = alert.events[0]
    assert first.fields["EventID"] == 4688
    return str(first.fields["CommandLine"])


def test_the_seed_test_case_fires_each_rule_exactly_once() -> None:
    alerts = hunt_seed([FIXTURES / NETSTAT, FIXTURES / NET_USE, FIXTURES / NET_SESSION])
    assert sorted(command_of(a) for a in alerts) == sorted(SEED_COMMANDS.values())
    for alert in alerts:
        assert alert.rule.title == "windows 系统网络链接发现"
        assert alert.rule.level == "medium" and alert.rule.kind == "correlation"
        assert alert.rule.tags == ("attack.t1049",) and alert.rule.author == "12306Bro"
        assert alert.techniques == ("T1049",)
        assert alert.host == "WIN-SRV2016.contoso.local"


@pytest.mark.parametrize("name", [NETSTAT, NET_USE, NET_SESSION])
def test_each_command_alone_gives_its_alert_with_all_its_events(name: str) -> None:
    (alert,) = hunt_seed([FIXTURES / name])
    assert command_of(alert) == SEED_COMMANDS[name]
    expected = events_of(name)
    assert len(alert.events) == len(expected) == len(set(alert.event_rules))
    assert [e.fields["EventID"] for e in alert.events] == [
        int(str(e.find("{*}System/{*}EventID").text)) for e in expected
    ]
    assert alert.correlation is not None and alert.correlation.type == "temporal_ordered"


def test_netstat_alert_names_the_process_and_its_host() -> None:
    (alert,) = hunt_seed([FIXTURES / NETSTAT])
    assert alert.group == (("Computer", "WIN-SRV2016.contoso.local"), ("ProcessKey", str(0x1A2C)))
    assert [e.fields["EventID"] for e in alert.events] == [4688, 4703, 4689]
    assert alert.correlation is not None and alert.correlation.timespan_seconds == 5
    summary = alert.to_dict()["summary"]
    assert summary["process"] == r"C:\Windows\System32\NETSTAT.EXE" and summary["command_line"] == "netstat"


@pytest.mark.parametrize(("name", "count"), [(NETSTAT, 3), (NET_USE, 2), (NET_SESSION, 4)])
def test_no_alert_when_any_event_is_missing(tmp_path: Path, name: str, count: int) -> None:
    events = events_of(name)
    assert len(events) == count
    for missing in range(count):
        path = write_events(tmp_path, f"without_{missing}.xml", events[:missing] + events[missing + 1 :])
        assert hunt_seed([path]) == [], f"{name} without event {missing + 1}"


@pytest.mark.parametrize(("name", "late"), [(NETSTAT, 5.1), (NET_USE, 5.1), (NET_SESSION, 60.1)])
def test_no_alert_when_the_last_event_falls_outside_the_window(
    tmp_path: Path, name: str, late: float
) -> None:
    events = events_of(name)
    first, last = events[0], events[-1]
    gap = late - (time_of(last) - time_of(first)).total_seconds()
    path = write_events(tmp_path, "late.xml", [*events[:-1], moved(last, gap)])
    assert hunt_seed([path]) == []
    inside = write_events(tmp_path, "inside.xml", [*events[:-1], moved(last, gap - 0.2)])
    assert len(hunt_seed([inside])) == 1


def test_no_alert_when_the_events_belong_to_two_processes(tmp_path: Path) -> None:
    create, adjust, exit_ = events_of(NETSTAT)
    other_pid = [create, adjust, with_data(exit_, ProcessId="0x1a30")]
    other_host = [create, with_data(adjust, Computer="WIN-WKS01.contoso.local"), exit_]
    # The same PID in decimal notation (as Sysmon writes it) is the same process.
    decimal = [create, with_data(adjust, ProcessId=str(0x1A2C)), exit_]
    assert hunt_seed([write_events(tmp_path, "pid.xml", other_pid)]) == []
    assert hunt_seed([write_events(tmp_path, "host.xml", other_host)]) == []
    assert len(hunt_seed([write_events(tmp_path, "decimal.xml", decimal)])) == 1


def test_no_alert_when_the_child_process_is_not_the_parents(tmp_path: Path) -> None:
    net, net1, net1_exit, net_exit = events_of(NET_SESSION)
    stranger = with_data(net1, ProcessId="0x1b44")  # created by another net.exe
    assert hunt_seed([write_events(tmp_path, "stranger.xml", [net, stranger, net1_exit, net_exit])]) == []
    wrong_exit = with_data(net1_exit, ProcessId="0x1cc")
    assert hunt_seed([write_events(tmp_path, "exit.xml", [net, net1, wrong_exit, net_exit])]) == []


def test_no_alert_when_the_order_is_impossible(tmp_path: Path) -> None:
    create, adjust, exit_ = events_of(NETSTAT)
    exit_first = [moved(exit_, -0.2), moved(create, 0.1), moved(adjust, 0.1)]
    assert hunt_seed([write_events(tmp_path, "order.xml", exit_first)]) == []


def test_two_interleaved_netstat_runs_give_two_alerts_each_with_its_own_events(tmp_path: Path) -> None:
    create, adjust, exit_ = events_of(NETSTAT)
    second = [
        with_data(moved(event, 0.01), **{key: "0x1b00" for key in keys})
        for event, keys in ((create, ["NewProcessId"]), (adjust, ["ProcessId"]), (exit_, ["ProcessId"]))
    ]
    alerts = hunt_seed(
        [write_events(tmp_path, "two.xml", [create, second[0], adjust, second[1], exit_, second[2]])]
    )
    assert len(alerts) == 2
    by_pid = {dict(a.group)["ProcessKey"]: a for a in alerts}
    assert set(by_pid) == {str(0x1A2C), str(0x1B00)}
    for pid, alert in by_pid.items():
        assert [e.fields["EventID"] for e in alert.events] == [4688, 4703, 4689]
        owned = {str(e.fields.get("NewProcessId") or e.fields.get("ProcessId")) for e in alert.events}
        assert {int(value, 16) for value in owned} == {int(pid)}


def test_a_reused_pid_joins_the_newest_process(tmp_path: Path) -> None:
    create, adjust, exit_ = events_of(NETSTAT)
    # An earlier netstat had the same PID and left no 4703; the new one starts 1 s later.
    earlier = moved(create, -1)
    alerts = hunt_seed([write_events(tmp_path, "reuse.xml", [earlier, create, adjust, exit_])])
    (alert,) = alerts
    assert alert.events[0].timestamp == hunt_seed([FIXTURES / NETSTAT])[0].events[0].timestamp
