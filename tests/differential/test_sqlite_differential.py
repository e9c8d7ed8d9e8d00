"""Differential test: watchpost against pySigma's SQLite backend (an independent implementation of
Sigma's matching) on the shared EVTX samples with SigmaHQ's Windows rules. Every rule whose alert
set differs is listed, with the reason, in ``sqlite_expected_differences.yml``; a rule that
differs and is not listed, or differs otherwise than listed, or is listed and no longer differs,
fails the test. docs/DETECTION.md, "Differential test against pySigma's SQLite backend"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.differential.sqlite_reference import Hit, convert_rules, event_table, run_queries
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.problems import ProblemLog
from watchpost.readers.registry import read_events

EXPECTED = Path(__file__).with_name("sqlite_expected_differences.yml")
Difference = dict[str, object]
COUNTS = ("watchpost_only", "sqlite_only")


def watchpost_hits(rules: Path, files: list[Path]) -> dict[str, set[Hit]]:
    hits: dict[str, set[Hit]] = {}
    for alert in Hunt(HuntOptions(rules=[rules])).run(list(files)):
        if alert.rule.kind != "detection":
            continue
        for event in alert.events:
            if event.origin.record is not None:
                hit = (Path(event.origin.path).name, int(event.origin.record))
                hits.setdefault(alert.rule.id, set()).add(hit)
    return hits


def differences(rules: Path, files: list[Path]) -> tuple[dict[str, Difference], dict[str, str], int]:
    """Per rule that differs: its title, how many events each side alone alerted on, examples;
    the rules the backend could not convert (with why); how many rules were compared."""
    queries, titles, left_out = convert_rules(sorted(rules.rglob("*.yml")))
    database = event_table(read_events(files, ProblemLog()))
    reference = run_queries(database, queries)
    ours = watchpost_hits(rules, files)
    found: dict[str, Difference] = {}
    for rule_id in sorted(set(reference) | set(ours)):
        if rule_id in left_out:
            continue
        mine, theirs = ours.get(rule_id, set()), reference.get(rule_id, set())
        if mine != theirs:
            found[rule_id] = {
                "title": titles.get(rule_id, "?"),
                "watchpost_only": len(mine - theirs),
                "sqlite_only": len(theirs - mine),
                "examples": sorted(mine ^ theirs)[:3],
            }
    compared = sum(1 for rule_id in queries if rule_id not in left_out)
    return found, left_out, compared


@pytest.mark.slow
def test_watchpost_and_the_sqlite_backend_agree_but_for_the_listed_rules(shared: Path) -> None:
    rules = shared / "sigma" / "rules" / "windows"
    files = sorted((shared / "samples" / "windows" / "evtx").glob("*.evtx"))
    found, left_out, compared = differences(rules, files)
    expected = yaml.safe_load(EXPECTED.read_text(encoding="utf-8"))
    listed: dict[str, dict[str, object]] = {entry["id"]: entry for entry in expected["differences"]}
    assert all(entry.get("reason") for entry in listed.values()), "every listed difference needs a reason"
    problems = []
    for rule_id, difference in found.items():
        entry = listed.get(rule_id)
        if entry is None:
            problems.append(f"new difference, not explained: {rule_id} {difference}")
        elif [entry[k] for k in COUNTS] != [difference[k] for k in COUNTS]:
            problems.append(f"difference changed: {rule_id} listed {entry}, now {difference}")
    problems += [f"listed but no longer different: {rule_id} {listed[rule_id]['title']}"
                 for rule_id in listed if rule_id not in found]
    assert problems == []
    assert compared > 2000
    assert sorted(left_out) == sorted(entry["id"] for entry in expected["left_out"])


SYSTEM_EVENT = (
    '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
    '<Provider Name="Service Control Manager" /><EventID>7036</EventID><Level>4</Level>'
    '<TimeCreated SystemTime="2024-05-01T10:00:0{n}.000Z" /><EventRecordID>{n}</EventRecordID>'
    "<Channel>System</Channel><Computer>WS01</Computer></System>"
    "<EventData><Data>{first}</Data><Data>running</Data></EventData></Event>"
)


def test_the_comparison_finds_a_difference(tmp_path: Path) -> None:
    """The harness has teeth: an equality on a list-valued field (unnamed <Data>) matches a member
    in watchpost and the JSON text of the list in SQLite, so the rule is reported as differing;
    a contains on a named scalar field agrees."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yml").write_text(
        "title: Member Equals\nid: 0c5d3f7e-5a4c-4c8e-9a55-1f0e8f4b9a01\nstatus: test\n"
        "logsource: {product: windows, service: system}\n"
        "detection:\n  selection:\n    Data: 'Print Spooler'\n  condition: selection\nlevel: low\n"
        "---\n"
        "title: Computer Contains\nid: 7a7e8f0b-0f5e-4b8e-8d8a-2b1f4d2e9c02\nstatus: test\n"
        "logsource: {product: windows, service: system}\n"
        "detection:\n  selection:\n    Computer|contains: 'WS'\n  condition: selection\nlevel: low\n",
        encoding="utf-8",
    )
    log = tmp_path / "System.xml"
    events = (SYSTEM_EVENT.format(n=n, first=f) for n, f in ((1, "Print Spooler"), (2, "BITS")))
    log.write_text("\n".join(events) + "\n", encoding="utf-8")
    found, left_out, compared = differences(tmp_path / "rules", [log])
    assert (compared, left_out) == (2, {})
    assert set(found) == {"0c5d3f7e-5a4c-4c8e-9a55-1f0e8f4b9a01"}
    assert (found["0c5d3f7e-5a4c-4c8e-9a55-1f0e8f4b9a01"]["watchpost_only"],
            found["0c5d3f7e-5a4c-4c8e-9a55-1f0e8f4b9a01"]["sqlite_only"]) == (1, 0)
