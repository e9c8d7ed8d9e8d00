"""Hostile rules are bounded at load time (issue 19, "Rules"): each is one rule problem naming its
file, its rule and the reason; `rules check` lists exactly what `hunt` refuses; the good rule
beside it still runs; nothing reaches the terminal raw.

The hostile files are kept in tests/fixtures/hostile_rules (each the smallest case that failed):
a 4,301-digit integer (a traceback out of PyYAML in `hunt`), a regex nested 242 groups deep
(RecursionError in `rules check`), a correlation ``timespan: 800000d`` (passed `rules check`, then
OverflowError in `hunt`), an invalid regex holding escape sequences (RE2 logged it raw).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.cli import main

HOSTILE = PROJECT / "tests" / "fixtures" / "hostile_rules"
GOOD = HOSTILE / "good.yml"
EVENTS = HOSTILE / "events.jsonl"

CASES = {
    "big_number.yml": ("Big Number", "a number of 4,301 digits"),
    "nested_regex.yml": ("Nested Regex", "nests groups 242 deep"),
    "long_timespan.yml": ("Long Timespan", "timespan of 800,000 days"),
    "escape_regex.yml": ("Escape Regex", "is invalid"),
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def check_problems(rules: list[Path]) -> list[str]:
    code, out, _ = run("rules", "check", *map(str, rules))
    assert code == 1
    return [line for line in out.splitlines() if line.startswith(str(HOSTILE))]


@pytest.mark.parametrize("name", sorted(CASES))
def test_rules_check_names_the_file_rule_and_reason_and_keeps_the_good_rule(name: str) -> None:
    title, reason = CASES[name]
    code, out, _ = run("rules", "check", str(HOSTILE / name), str(GOOD))
    assert code == 1
    (problem,) = [line for line in out.splitlines() if line.startswith(str(HOSTILE))]
    assert problem.startswith(f"{HOSTILE / name} [{title}]: ")
    assert reason in problem
    assert "1 rules runnable (1 detection, 0 correlation), 1 problems" in out


@pytest.mark.parametrize("name", sorted(CASES))
def test_hunt_refuses_what_rules_check_lists_and_runs_the_good_rule(name: str) -> None:
    rules = [HOSTILE / name, GOOD]
    listed = check_problems(rules)
    code, out, err = run("hunt", str(EVENTS), "--rules", str(rules[0]), "--rules", str(rules[1]),
                         "-f", "jsonl")
    assert code == 0, err
    assert "Traceback" not in err
    refused = [line.removeprefix("rule skipped: ") for line in err.splitlines()
               if line.startswith("rule skipped: ")]
    assert refused == listed  # the two never disagree
    alerts = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [alert["rule"]["title"] for alert in alerts] == ["Good Rule"] * 3


def test_all_hostile_rules_together_cost_only_themselves() -> None:
    listed = check_problems(sorted(HOSTILE.glob("*.yml")))
    assert sorted(line.split(" [")[0] for line in listed) == sorted(str(HOSTILE / name) for name in CASES)
    code, out, err = run("hunt", str(EVENTS), "--rules", str(HOSTILE), "-f", "jsonl")
    assert code == 0 and "Traceback" not in err
    assert len(out.splitlines()) == 3


def test_an_invalid_regex_never_reaches_standard_error_raw(tmp_path: Path) -> None:
    """RE2 logged an invalid pattern raw to the process's stderr (file descriptor 2, which
    CliRunner does not capture): the escape sequences of the rule reached the terminal."""
    environment = {**os.environ, "PYTHONPATH": str(PROJECT / "src"), "WATCHPOST_RULE_CACHE": "0"}
    hostile = str(HOSTILE / "escape_regex.yml")
    commands = (["rules", "check", hostile], ["hunt", str(EVENTS), "--rules", hostile, "--rules", str(GOOD)])
    for command in commands:
        done = subprocess.run([sys.executable, "-c", "from watchpost.cli import main; main()", *command],
                              capture_output=True, env=environment, cwd=tmp_path, timeout=120, check=False)
        assert b"Escape Regex" in done.stdout + done.stderr  # the problem is reported...
        for stream in (done.stdout, done.stderr):
            assert b"\x1b" not in stream and b"\x07" not in stream  # ...with no raw control character
        assert b"Traceback" not in done.stderr and b"re2.cc" not in done.stderr
