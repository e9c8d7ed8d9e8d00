"""Must show: recall 100 % on every emulated scenario, no alert on the background or its near misses."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from watchpost.cli import main
from watchpost.evaluation import EmulationReport, hunt_alerts, read_labels, score_emulation
from watchpost.simulation import SCENARIOS, resolve, simulate


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> EmulationReport:
    folder = tmp_path_factory.mktemp("quality")
    simulate(resolve(["all"]), folder, background=30_000, seed=2024)
    alerts = hunt_alerts([folder / name for name in ("windows", "linux", "macos", "cloud")])
    return score_emulation(folder, alerts, read_labels(folder / "labels.csv"))


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_every_positive_action_of_every_scenario_is_detected(report: EmulationReport, name: str) -> None:
    score = report.scenarios[name]
    assert score.actions, name
    assert score.missed == []
    assert score.tp_alerts >= 1


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
