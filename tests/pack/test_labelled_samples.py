"""The pack over the labelled real events of ../shared/samples/LABELS.csv."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchpost.evaluation import SamplesReport, score_samples

LIFECYCLE = "Network Connections Discovery Process Ran To Its End (Security Audit Lifecycle)"


@pytest.fixture(scope="module")
def report(shared: Path) -> SamplesReport:
    return score_samples(shared / "samples")


def test_every_labelled_row_is_scored(report: SamplesReport, shared: Path) -> None:
    rows = (shared / "samples" / "LABELS.csv").read_text(encoding="utf-8").splitlines()
    assert len(report.results) == len(rows) - 1


def test_every_yes_row_is_detected(report: SamplesReport) -> None:
    yes = [r for r in report.results if r.row.expected == "yes"]
    assert len(yes) == 3
    commands = {r.row.text.split("(")[0].strip() for r in yes}
    assert commands == {"net  use", '"C:\\Windows\\system32\\NETSTAT.EXE" -n'}
    assert all(r.rules for r in yes), [r.row for r in yes if not r.rules]


def test_the_capattack_netstat_is_alerted_with_its_4689(report: SamplesReport) -> None:
    exits = [r for r in report.results if r.row.expected == "companion"]
    assert len(exits) == 2
    for result in exits:
        assert result.rules == (LIFECYCLE,)


def test_no_row_and_ambiguous_rows_raise_no_alert(report: SamplesReport) -> None:
    quiet = [r for r in report.results if r.row.expected in ("no", "ambiguous")]
    assert len(quiet) == 13
    assert [(r.row.path, r.row.record_id, r.rules) for r in quiet if r.rules] == []


def test_the_nettcpip_module_auto_load_does_not_alert(report: SamplesReport) -> None:
    traps = [r for r in report.results if "otrf_lsass" in r.row.path]
    assert {r.row.event_id for r in traps} == {4103, 4104}
    assert all(r.passed and not r.rules for r in traps)
    titles = set(report.other_alerts)
    assert not any("PowerShell" in title or "Script Block" in title for title in titles)
