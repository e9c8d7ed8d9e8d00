"""`watchpost rules list`: id, title, level, logsource, tags; filters; table and JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from watchpost.cli import main
from watchpost.hunting.engine import bundled_pack

SEED = PROJECT / "tests" / "fixtures" / "seed"


def listing(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(main, ["rules", "list", *args, "-f", "jsonl"], catch_exceptions=False)
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


@pytest.fixture()
def pack(tmp_path: Path) -> Path:
    """Four small rules that differ in level, product and tags, and one that does not load."""
    def rule(name: str, level: str, product: str, tags: list[str], title: str) -> None:
        (tmp_path / f"{name}.yml").write_text(
            f"title: {title}\nid: {name}-0000-4000-8000-000000000000\nlevel: {level}\n"
            f"description: about {name}\ntags: {json.dumps(tags)}\n"
            f"logsource: {{product: {product}, category: process_creation}}\n"
            "detection:\n  sel: {CommandLine|contains: x}\n  condition: sel\n")
    rule("aaaaaaaa", "low", "windows", ["attack.discovery", "attack.t1049"], "Netstat On Windows")
    rule("bbbbbbbb", "high", "linux", ["attack.t1049"], "Ss On Linux")
    rule("cccccccc", "critical", "windows", ["attack.execution", "attack.t1059.001"], "PowerShell Thing")
    rule("dddddddd", "medium", "macos", [], "Lsof On macOS")
    (tmp_path / "broken.yml").write_text("title: broken\nlogsource: {product: windows}\ndetection: {}\n")
    return tmp_path


def test_every_loaded_rule_is_listed_with_its_fields(pack: Path) -> None:
    code, rules, err = listing(str(pack))
    assert code == 0
    titles = {r["title"] for r in rules}
    assert titles == {"Netstat On Windows", "Ss On Linux", "PowerShell Thing", "Lsof On macOS"}
    first = next(r for r in rules if r["title"] == "Netstat On Windows")
    assert first["id"] == "aaaaaaaa-0000-4000-8000-000000000000"
    assert first["level"] == "low"
    assert first["logsource"] == {"product": "windows", "category": "process_creation"}
    assert first["tags"] == ["attack.discovery", "attack.t1049"]
    assert "broken.yml" in err and "4 of 4 rules listed; 1 could not be loaded" in err


@pytest.mark.parametrize("args,titles", [
    (("--level", "high"), {"Ss On Linux"}),
    (("--level", "high", "--level", "low"), {"Ss On Linux", "Netstat On Windows"}),
    (("--min-level", "high"), {"Ss On Linux", "PowerShell Thing"}),
    (("--tag", "T1049"), {"Ss On Linux", "Netstat On Windows"}),
    (("--tag", "attack.t1059"), {"PowerShell Thing"}),
    (("--tag", "attack.execution", "--tag", "attack.discovery"), {"PowerShell Thing", "Netstat On Windows"}),
    (("--product", "Windows"), {"Netstat On Windows", "PowerShell Thing"}),
    (("--search", "lsof"), {"Lsof On macOS"}),
    (("--search", "bbbbbbbb"), {"Ss On Linux"}),
    (("--product", "windows", "--min-level", "critical"), {"PowerShell Thing"}),
    (("--tag", "t1049.001"), set()),
])
def test_filters(pack: Path, args: tuple[str, ...], titles: set[str]) -> None:
    code, rules, _ = listing(str(pack), *args)
    assert code == 0
    assert {r["title"] for r in rules} == titles


def test_the_table_shows_the_columns_and_the_default_is_the_bundled_pack() -> None:
    result = CliRunner().invoke(main, ["rules", "list"], catch_exceptions=False)
    assert result.exit_code == 0
    header = result.stdout.splitlines()[1]
    for column in ("id", "title", "level", "logsource", "tags"):
        assert column in header
    _, default, _ = listing()
    _, bundled, _ = listing(str(bundled_pack()))
    assert default and [r["id"] for r in default] == [r["id"] for r in bundled]


def test_rules_that_only_feed_correlations_are_listed_with_all() -> None:
    seed_rules = [str(p) for p in sorted(SEED.glob("*.yml"))]
    _, rules, _ = listing(*seed_rules)
    assert {r["kind"] for r in rules} == {"correlation"}
    assert sorted({Path(str(r["path"])).name for r in rules}) == sorted(Path(p).name for p in seed_rules)
    _, everything, _ = listing(*seed_rules, "--all")
    assert {r["kind"] for r in everything} == {"detection", "correlation"}
    assert len(everything) > len(rules)
