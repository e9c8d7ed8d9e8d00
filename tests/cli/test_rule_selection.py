"""Choosing rules at hunt time (issue 17, item 1): the filters of `hunt`, `rules list|check|test`.

The central property: with the same options, the rules `rules list` shows are exactly the rules
`hunt` raises alerts with. The pack below is built so that every rule (and every correlation)
fires on the one event of the log: a rule that runs is a rule that alerts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SHARED
from watchpost.cli import main
from watchpost.exit_codes import EXIT_RULES
from watchpost.hunting.engine import bundled_pack
from watchpost.rules.selection import NOISY_RULES, read_id_list

A, B, C, D = ("aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002",
              "cccccccc-0000-4000-8000-000000000003", "dddddddd-0000-4000-8000-000000000004")
E, F, G = ("eeeeeeee-0000-4000-8000-000000000005", "ffffffff-0000-4000-8000-000000000006",
           "99999999-0000-4000-8000-000000000007")
EVENT = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1",
         "CommandLine": "netstat -ano", "Image": "C:\\Windows\\System32\\NETSTAT.EXE",
         "@timestamp": "2024-05-01T10:00:00Z", "ProcessId": 4}


def detection(folder: Path, rule_id: str, title: str, level: str, status: str, tags: list[str],
              name: str | None = None) -> None:
    named = f"name: {name}\n" if name else ""
    (folder / f"{title.replace(' ', '_')}.yml").write_text(
        f"title: {title}\nid: {rule_id}\n{named}status: {status}\nlevel: {level}\n"
        f"tags: {json.dumps(tags)}\nlogsource: {{product: windows, category: process_creation}}\n"
        "detection:\n  sel: {CommandLine|contains: netstat}\n  condition: sel\n", encoding="utf-8")


def correlation(folder: Path, rule_id: str, title: str, level: str, tags: list[str], rules: list[str],
                generate: bool) -> None:
    (folder / f"{title.replace(' ', '_')}.yml").write_text(
        f"title: {title}\nid: {rule_id}\nname: {title.replace(' ', '_').lower()}\nstatus: test\n"
        f"level: {level}\ntags: {json.dumps(tags)}\ncorrelation:\n  type: event_count\n"
        f"  rules: {json.dumps(rules)}\n  group-by: [Computer]\n  timespan: 1h\n"
        f"  condition: {{gte: 1}}\n  generate: {str(generate).lower()}\n", encoding="utf-8")


@pytest.fixture()
def pack(tmp_path: Path) -> Path:
    """Detections A-D and F, correlation E over C (C also alerts alone), G over F (F does not)."""
    folder = tmp_path / "pack"
    folder.mkdir()
    detection(folder, A, "Netstat A", "low", "test", ["attack.discovery", "attack.t1049"])
    detection(folder, B, "Netstat B", "high", "stable", ["attack.t1049.001"])
    detection(folder, C, "Netstat C", "medium", "experimental", ["attack.execution"], name="netstat_c")
    detection(folder, D, "Netstat D", "critical", "deprecated", [])
    detection(folder, F, "Netstat F", "medium", "test", ["attack.t1016"], name="netstat_f")
    correlation(folder, E, "Corr E", "high", ["attack.t1049"], ["netstat_c"], generate=True)
    correlation(folder, G, "Corr G", "low", ["attack.t1016"], ["netstat_f"], generate=False)
    return folder


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    path = tmp_path / "sysmon.jsonl"
    path.write_text(json.dumps(EVENT) + "\n", encoding="utf-8")
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def listed(pack: Path, *options: str) -> list[str]:
    code, out, err = invoke("rules", "list", str(pack), "-f", "jsonl", *options)
    assert code == 0, err
    return [json.loads(line)["id"] for line in out.splitlines()]


def hunted(pack: Path, log: Path, *options: str) -> list[dict[str, object]]:
    code, out, err = invoke("hunt", str(log), "-r", str(pack), "-f", "jsonl", "-q", *options)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def alerting_rules(alerts: list[dict[str, object]]) -> set[str]:
    return {str(alert["rule"]["id"]) for alert in alerts}  # type: ignore[index]


def test_without_filters_every_rule_that_can_alert_alerts(pack: Path, log: Path) -> None:
    # F only feeds G (generate: false): listed with --all, never alerting on its own.
    assert alerting_rules(hunted(pack, log)) == {A, B, C, D, E, G}
    assert set(listed(pack)) == {A, B, C, D, E, G}
    assert set(listed(pack, "--all")) == {A, B, C, D, E, F, G}


@pytest.mark.parametrize("options,expected", [
    (("--tag", "T1049"), {A, B, E}),
    (("--tag", "attack.discovery,attack.t1016"), {A, G}),
    (("--exclude-tag", "attack.t1049"), {C, D, G}),
    (("--exclude-tag", "attack.execution", "--exclude-tag", "attack.t1016"), {A, B, D, E}),
    (("--status", "stable", "--status", "experimental"), {B, C}),
    (("--exclude-status", "deprecated,experimental"), {A, B, E, G}),
    (("--level", "high,critical"), {B, D, E}),
    (("--min-level", "high"), {B, D, E}),
    (("--rule-id", A, "--rule-id", "corr_g"), {A, G}),
    (("--rule-id", "NETSTAT_C"), {C}),
    (("--product", "Windows"), {A, B, C, D, E, G}),
    (("--product", "linux"), set()),
    (("--search", "netstat b"), {B}),
    (("--tag", "t1049", "--exclude-status", "stable", "--min-level", "medium"), {E}),
])
def test_rules_list_shows_exactly_the_rules_hunt_runs(pack: Path, log: Path, options: tuple[str, ...],
                                                      expected: set[str]) -> None:
    shown = listed(pack, *options)
    assert set(shown) == expected
    assert len(shown) == len(set(shown))
    if not expected:  # nothing left to run is never a clean "no alerts" (exit_codes, issue 14)
        code, out, err = invoke("hunt", str(log), "-r", str(pack), "-f", "jsonl", *options)
        assert code == EXIT_RULES and out == "" and "no rule is left after the rule filters" in err
        return
    assert alerting_rules(hunted(pack, log, *options)) == set(shown)


def test_a_kept_correlation_runs_its_rules_without_their_own_alerts(pack: Path, log: Path) -> None:
    alerts = hunted(pack, log, "--rule-id", E)
    assert alerting_rules(alerts) == {E}
    (alert,) = alerts
    assert {event["rule"] for event in alert["events"]} == {C}  # type: ignore[index,union-attr]
    assert listed(pack, "--rule-id", E) == [E]
    assert set(listed(pack, "--rule-id", E, "--all")) == {E, C}
    # Leaving the correlation out: its rule alerts alone only if chosen.
    assert alerting_rules(hunted(pack, log, "--exclude-tag", "attack.t1049")) == {C, D, G}


def test_an_exclusion_file_takes_ids_one_per_line_with_comments(pack: Path, log: Path,
                                                                tmp_path: Path) -> None:
    exclusions = tmp_path / "exclude_rules.txt"
    exclusions.write_text(f"# noisy here\n\n{A}   # Netstat A\n  {E.upper()}\ncorr_g # by name\n"
                          "00000000-0000-4000-8000-00000000dead\n", encoding="utf-8")
    assert alerting_rules(hunted(pack, log, "--exclude-rules", str(exclusions))) == {B, C, D}
    code, out, err = invoke("rules", "list", str(pack), "-f", "jsonl", "--exclude-rules", str(exclusions))
    assert code == 0 and {json.loads(line)["id"] for line in out.splitlines()} == {B, C, D}
    assert f"{exclusions}:6" in err and "matches no loaded rule" in err


def test_a_malformed_exclusion_file_is_a_usage_error_naming_the_line(pack: Path, log: Path,
                                                                     tmp_path: Path) -> None:
    exclusions = tmp_path / "bad.txt"
    exclusions.write_text(f"{A}\n{B} {C}\n", encoding="utf-8")
    code, _, err = invoke("hunt", str(log), "-r", str(pack), "--exclude-rules", str(exclusions))
    assert code == 2
    assert f"{exclusions}:2" in err and "one rule id per line" in err


def test_an_unknown_status_or_level_is_a_usage_error(pack: Path, log: Path) -> None:
    code, _, err = invoke("hunt", str(log), "-r", str(pack), "--status", "stabel")
    assert code == 2 and "unknown status 'stabel'" in err and "experimental" in err
    code, _, err = invoke("rules", "list", str(pack), "--level", "severe")
    assert code == 2 and "unknown level 'severe'" in err


def test_a_rule_id_matching_nothing_is_noted_on_stderr(pack: Path, log: Path) -> None:
    code, out, err = invoke("hunt", str(log), "-r", str(pack), "-f", "jsonl", "--rule-id", "no-such-rule")
    assert code == EXIT_RULES and out == ""
    assert "'no-such-rule' matches no loaded rule" in err and "0 rules run" in err


NOISY_SIGMA_RULE = (SHARED / "sigma" / "rules" / "windows" / "process_creation"
                    / "proc_creation_win_mstsc_remote_connection.yml")


def test_every_id_of_the_noisy_list_is_a_sigmahq_rule(shared: Path) -> None:
    noisy = {item.value for item in read_id_list(NOISY_RULES)}
    assert noisy
    sigma_ids = set()
    for path in (shared / "sigma" / "rules").rglob("*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("id: "):
                sigma_ids.add(line[4:].strip())
                break
    assert noisy <= sigma_ids


def test_noisy_rules_are_off_by_default_and_can_be_switched_on(shared: Path, tmp_path: Path) -> None:
    rule = str(NOISY_SIGMA_RULE)
    log = tmp_path / "mstsc.jsonl"
    log.write_text(json.dumps({**EVENT, "Image": "C:\\Windows\\System32\\mstsc.exe", "OriginalFileName":
                               "mstsc.exe", "CommandLine": "mstsc.exe /v:10.0.0.5"}) + "\n", encoding="utf-8")
    code, out, err = invoke("rules", "list", rule, "-f", "jsonl")
    assert code == 0 and out == ""
    assert "1 noisy rules left out (--enable-noisy-rules runs them)" in err
    assert len(listed(Path(rule), "--enable-noisy-rules")) == 1
    code, out, err = invoke("hunt", str(log), "-r", rule, "-f", "jsonl")
    assert code == EXIT_RULES and out == "" and "1 noisy rules left out" in err
    code, out, _ = invoke("hunt", str(log), "-r", rule, "-f", "jsonl", "--enable-noisy-rules")
    assert code == 0 and len(out.splitlines()) == 1


def test_rules_check_and_rules_test_default_to_the_bundled_pack() -> None:
    code, default_out, _ = invoke("rules", "check")
    assert code == 0
    _, explicit_out, _ = invoke("rules", "check", str(bundled_pack()))
    assert default_out == explicit_out and "0 problems" in default_out
    code, default_out, _ = invoke("rules", "test", "-q")
    assert code == 0
    _, explicit_out, _ = invoke("rules", "test", "-q", str(bundled_pack()))
    assert default_out == explicit_out and " 0 failed" in default_out


def test_rules_check_and_rules_test_take_the_same_filters() -> None:
    _, everything, _ = invoke("rules", "check")
    code, linux, _ = invoke("rules", "check", "--product", "linux")
    assert code == 0
    linux_rules = len(listed(bundled_pack(), "--product", "linux", "--all"))
    assert f"filters: hunt would run {linux_rules} of the " in linux
    assert linux.splitlines()[-1] == everything.splitlines()[-1]  # every rule is still checked
    code, out, _ = invoke("rules", "test", "--product", "linux")
    assert code == 0
    tests_run = {line.split()[1] for line in out.splitlines() if line.startswith("PASS")}
    assert tests_run and all("/linux/" in path or "burst_linux" in path for path in tests_run)
    assert "test files left out by the rule filters" in out.splitlines()[-1]


def test_worker_processes_run_the_same_selection(pack: Path, log: Path, tmp_path: Path) -> None:
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps({**EVENT, "@timestamp": "2024-05-01T11:00:00Z"}) + "\n", encoding="utf-8")
    options = ("--tag", "T1049", "--exclude-rules", str(write_ids(tmp_path, [B])))
    one = hunted(pack, log, *options)
    assert alerting_rules(one) == {A, E}
    code, out, err = invoke("hunt", str(log), str(second), "-r", str(pack), "-f", "jsonl", "-q",
                            "--jobs", "2", *options)
    assert code == 0, err
    assert alerting_rules([json.loads(line) for line in out.splitlines()]) == {A, E}


def test_the_python_api_runs_every_rule_unless_given_a_selection(pack: Path, log: Path) -> None:
    from watchpost.hunting.engine import Hunt, HuntOptions
    from watchpost.rules.selection import RuleSelection

    everything = Hunt(HuntOptions(rules=[pack]))
    assert {a.rule.id for a in everything.run([log])} == {A, B, C, D, E, G}
    chosen = Hunt(HuntOptions(rules=[pack], selection=RuleSelection(tags=("attack.t1016",))))
    assert {a.rule.id for a in chosen.run([log])} == {G}
    assert {rule.meta.id for rule in chosen.ruleset.detections} == {F}  # G's rule, as a feeder


def write_ids(folder: Path, ids: list[str]) -> Path:
    path = folder / "ids.txt"
    path.write_text("".join(f"{rule_id}\n" for rule_id in ids), encoding="utf-8")
    return path
