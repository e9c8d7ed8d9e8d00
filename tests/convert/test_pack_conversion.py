"""Whole-pack conversion: output rules only, correlations through the engine's specs, pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.backends import BUILTIN_BACKENDS
from watchpost.backends.pack_conversion import convert_pack
from watchpost.cli import main
from watchpost.hunting.ruleset import default_translators
from watchpost.rules.loader import load_rules

PACK = PROJECT / "src" / "watchpost" / "packs" / "t1049"
LIFECYCLE = PACK / "windows" / "security_win_discovery_process_lifecycle.yml"
BURST = PACK / "burst" / "discovery_burst_windows.yml"
HELPER_IDS = {"1a14355e-b890-47e5-bdb3-2ea652f8ada8", "215b2887-cf9f-4544-825d-7e58f9e6251b"}


def convert(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["convert", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def records(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("target", ["splunk", "sparksql", "sqlite"])  # sqlite: an installed plugin
def test_the_whole_pack_converts_and_exits_zero(target: str) -> None:
    code, out, err = convert("--target", target, "--format", "jsonl", str(PACK))
    assert code == 0, err
    converted = records(out)
    # 13 detection rules that alert on their own + 10 output correlations (the net1 chain is inside one)
    assert len(converted) == 23, [r["title"] for r in converted]
    assert not HELPER_IDS & {r["rule_id"] for r in converted}
    assert "23 rules converted" in err and "0 failed" in err


def test_helper_rules_are_output_only_with_include_helpers() -> None:
    code, out, _ = convert("--target", "splunk", "--format", "jsonl", "--include-helpers", str(LIFECYCLE))
    assert code == 0
    ids = {r["rule_id"] for r in records(out)}
    assert ids >= HELPER_IDS and len(ids) == 3
    code, out, _ = convert("--target", "splunk", "--format", "jsonl", str(LIFECYCLE))
    assert code == 0 and len(records(out)) == 1
    query = str(records(out)[0]["queries"][0])  # type: ignore[index]
    assert 'sigma_rule="t1049_win_lifecycle_created"' in query
    assert 'sigma_rule="t1049_win_lifecycle_exited"' in query


def test_splunk_groups_by_host_and_process_id_read_in_either_notation() -> None:
    code, out, _ = convert("--target", "splunk", str(LIFECYCLE))
    assert code == 0
    assert "streamstats time_window=2m list(sigma_letter) as sigma_sequence by Computer ProcessKey" in out
    assert 'where match(sigma_sequence, "a.*b")' in out
    # the 4688 reads NewProcessId, the 4689 ProcessId, both through the hexadecimal/decimal reading
    assert "ProcessKey=coalesce(if(match('NewProcessId', " in out
    assert "tonumber(replace(trim('ProcessId'), \"^0[xX]\", \"\"), 16)" in out
    assert "Computer=lower('Computer')" in out


def test_a_pipeline_renames_the_group_keys_as_it_renames_the_rules_fields() -> None:
    code, out, err = convert("--target", "esql", "--pipeline", "ecs_windows", str(BURST))
    assert code == 0, err
    assert "TO_LOWER(TO_STRING(winlog.event_data.SubjectLogonId))" in out  # Security 4688's logon
    assert "TO_LOWER(TO_STRING(winlog.event_data.LogonId))" in out  # Sysmon 1's logon
    assert "TO_LOWER(TO_STRING(process.executable))" in out  # the Sysmon program counted
    assert "winlog.computer_name" in out and "TO_STRING(event.code)" in out


@pytest.mark.parametrize(("pipeline", "expected"), [
    ("splunk_windows", ['source="*WinEventLog:Security"', "EventCode=4689"]),
    ("sysmon", ["EventID=4689"]),
    ("ecs_windows", ['winlog.channel="Security"', "event.code=4689", "winlog.event_data.ProcessName"]),
])
def test_the_built_in_pipelines_are_known_by_name(pipeline: str, expected: list[str]) -> None:
    code, out, err = convert("--target", "splunk", "--pipeline", pipeline, str(LIFECYCLE))
    assert code == 0, err
    for text in expected:
        assert text in out, (pipeline, text)
    code, out, _ = convert("--list-targets")
    assert f"  {pipeline} (built in)" in out


def test_what_a_target_cannot_express_is_refused_with_the_reason() -> None:
    code, _, err = convert("--target", "eql", str(BURST))
    assert code == 1 and "EQL has no aggregation: a value_count correlation" in err
    code, _, err = convert("--target", "lucene", str(BURST))
    assert code == 1 and "--target esql" in err
    code, _, err = convert("--target", "esql", str(PACK / "seed" / "seed_net_session.yml"))
    assert code == 1 and "ES|QL has no sub-queries" in err


def test_an_ordered_upper_bound_is_refused_not_approximated(tmp_path: Path) -> None:
    upper = "  timespan: 2m\n  condition:\n    lt: 2\n"
    text = LIFECYCLE.read_text(encoding="utf-8").replace("  timespan: 2m\n", upper, 1)
    rule = tmp_path / "lifecycle_upper.yml"
    rule.write_text(text, encoding="utf-8")
    loaded = load_rules([rule], translators=default_translators())
    for target in ("splunk", "sparksql", "esql"):
        result = convert_pack(BUILTIN_BACKENDS[target](), loaded, "default", include_helpers=False)
        reasons = [f.reason for f in result.failed]
        assert any("upper bound" in reason or "other than" in reason for reason in reasons), target


def test_a_correlation_that_cannot_compile_is_reported_with_its_file(tmp_path: Path) -> None:
    rule = tmp_path / "broken.yml"
    rule.write_text(BURST.read_text(encoding="utf-8").split("\n---\n")[0], encoding="utf-8")  # no base rules
    code, _, err = convert("--target", "splunk", str(rule))
    assert code == 1
    assert f"not loaded: {rule} [Burst Of Discovery Commands In One Logon Session (Windows)]" in err
    assert "0 rules converted to splunk (default), 1 failed" in err


def test_a_title_cannot_end_the_comment_it_is_written_in(tmp_path: Path) -> None:
    title = "Network Connections Discovery Process Ran To Its End (Security Audit Lifecycle)"
    rule = tmp_path / "odd_title.yml"
    rule.write_text(LIFECYCLE.read_text(encoding="utf-8").replace(title, "ends ``` here */ and\\nthere", 1),
                    encoding="utf-8")
    loaded = load_rules([rule], translators=default_translators())
    for target, opening, closing in (("splunk", "```", "```"), ("eql", "/*", "*/")):
        query = convert_pack(BUILTIN_BACKENDS[target](), loaded, "default", False).converted[0].queries[0]
        first = str(query).splitlines()[0]
        assert first.startswith(opening) and first.endswith(closing)
        assert first.count(closing) == 1 + (opening == closing), (target, first)
