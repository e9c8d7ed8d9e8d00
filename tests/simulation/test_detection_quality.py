"""Must show: recall 100 % on every emulated scenario, no alert on the background or its near misses."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from watchpost.cli import main
from watchpost.evaluation import TRAP_PREFIX, EmulationReport, hunt_alerts, read_labels, score_emulation
from watchpost.simulation import SCENARIOS, resolve, simulate


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> EmulationReport:
    folder = tmp_path_factory.mktemp("quality")
    simulate(resolve(["all"]), folder, background=30_000, seed=2024)
    alerts = hunt_alerts([folder / name for name in ("windows", "linux", "macos", "cloud")])
    return score_emulation(folder, alerts, read_labels(folder / "labels.csv"))


ATTACKS = [s.name for s in SCENARIOS if not s.name.startswith(TRAP_PREFIX)]
TRAPS = [s.name for s in SCENARIOS if s.name.startswith(TRAP_PREFIX)]


@pytest.mark.parametrize("name", ATTACKS)
def test_every_positive_action_of_every_scenario_is_detected(report: EmulationReport, name: str) -> None:
    score = report.scenarios[name]
    assert score.actions, name
    assert score.missed == []
    assert score.tp_alerts >= 1


def test_the_issue_15_traps_are_emulated() -> None:
    assert TRAPS == ["trap-azure-guest-agent", "trap-netsh-trace-stop", "trap-linux-diagnostics",
                     "trap-macos-sysdiagnose"]


@pytest.mark.parametrize("name", TRAPS)
def test_no_alert_on_a_benign_trap(report: EmulationReport, name: str) -> None:
    """Benign collectors running several discovery programs (issue #15): counted, none alerted."""
    trap = report.traps[name]
    assert trap.records >= 7
    assert (trap.alerts, dict(trap.rules)) == (0, {})
    assert name not in report.scenarios  # no positive action: not part of the recall


def strip_issue_15_defences(text: str) -> str:
    """The Windows burst rules as they were before issue #15: no collector rules, no process
    identity, no cloud-agent filter, service sessions counted as one user's session."""
    kept = []
    for document in text.split("\n---\n"):
        if "_collector_" in document.split("\nname: ")[1].split("\n")[0] or "_relay_" in document:
            continue
        if "x-watchpost-processes:" in document:
            head, _, tail = document.partition("x-watchpost-processes:")
            document = head + tail[tail.index("falsepositives:"):]
        document = document.replace("  filter_service_session:", "  service_session_kept:")
        kept.append(document.replace("  filter_cloud_agent:", "  cloud_agent_kept:"))
    return "\n---\n".join(kept)


def test_traps_reach_the_burst_rules_without_their_defences(tmp_path: Path) -> None:
    """The traps are hard: without the collector lineage, process identity, cloud-agent filter and
    service-session grouping, the Windows traps raise bursts."""
    import watchpost

    rule = Path(watchpost.__file__).parent / "packs" / "t1049" / "burst" / "discovery_burst_windows.yml"
    rules = tmp_path / "rules"
    rules.mkdir()
    stripped = strip_issue_15_defences(rule.read_text(encoding="utf-8"))
    (rules / rule.name).write_text(stripped, encoding="utf-8")
    folder = tmp_path / "sim"
    simulate(resolve(["trap-azure-guest-agent", "trap-netsh-trace-stop"]), folder, background=0, seed=7)
    alerts = hunt_alerts([folder / "windows"], [rules])
    report = score_emulation(folder, alerts, read_labels(folder / "labels.csv"))
    assert report.traps["trap-netsh-trace-stop"].alerts >= 1
    assert report.traps["trap-azure-guest-agent"].alerts >= 1


def test_no_alert_on_the_background_and_its_near_misses(report: EmulationReport) -> None:
    assert [a.events[0].origin.describe() for a in report.false_positives] == []
    assert sum(report.near_misses.values()) > 200
    assert {
        "net view",
        "NetTCPIP auto-load",
        "netstat.txt",
        "zabbix netstat",
        "landscape-sysinfo who",
        "aws config",
        "monitoring agent netstat",
    } <= set(report.near_misses)
    assert sum(report.near_misses_alerted.values()) == 0
    assert report.recall == 1.0


def test_every_windows_process_positive_is_covered_in_both_logs(report: EmulationReport) -> None:
    for name in ("atomic-t1049-1", "seed-netstat", "seed-net-use", "seed-net-session", "atomic-t1033-1"):
        score = report.scenarios[name]
        assert score.covered_records == score.positive_records, name


def test_evaluate_command_prints_the_tables_and_succeeds(shared: Path, tmp_path: Path) -> None:
    output = tmp_path / "report.md"
    result = CliRunner().invoke(
        main,
        ["evaluate", "--background", "500", "--samples", str(shared / "samples"), "--output", str(output)],
    )
    assert result.exit_code == 0, result.output
    text = output.read_text(encoding="utf-8")
    assert "Recall over positive actions: 100%; false-positive alerts: 0." in text
    assert "| scenario | positive actions |" in text and "| rule | file | level |" in text
    assert "| splunk_capattack_a_security.evtx | 2786552 | 4689 | companion |" in text
    assert "FAIL" not in text


def test_simulate_command(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["simulate", "--list"])
    assert listed.exit_code == 0 and "atomic-t1049-7" in listed.output
    result = runner.invoke(
        main,
        [
            "simulate",
            "seed",
            "--out",
            str(tmp_path / "logs"),
            "--background",
            "50",
            "--truth",
            str(tmp_path / "truth"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "logs" / "windows" / "win-srv2016" / "Security.xml").is_file()
    assert (tmp_path / "truth" / "labels.csv").is_file() and not (tmp_path / "logs" / "labels.csv").exists()
    unknown = runner.invoke(main, ["simulate", "nope", "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 2 and "unknown scenario 'nope'" in unknown.output
    missing = runner.invoke(main, ["simulate", "seed"])
    assert missing.exit_code == 2
