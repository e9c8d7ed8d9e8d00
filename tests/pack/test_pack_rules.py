"""What every rule of the bundled T1049 pack must carry, and that the seed rules stay verbatim."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from watchpost.cli import main
from watchpost.hunting.engine import bundled_pack
from watchpost.rules.model import LEVELS
from watchpost.ruletests import find_rule_files

PACK = bundled_pack()
SEED = PACK / "t1049" / "seed"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "seed"
OWN_RULES = [path for path in find_rule_files([PACK]) if path.parent != SEED]
MEANINGLESS = {"", "unknown", "none", "n/a", "-"}


def documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def test_rules_check_passes_on_the_pack() -> None:
    result = CliRunner().invoke(main, ["rules", "check", str(PACK)])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(", 0 problems")


def test_the_pack_covers_every_platform_the_issue_names() -> None:
    folders = {path.parent.name for path in find_rule_files([PACK])}
    assert folders == {"seed", "windows", "linux", "macos", "cloud", "burst"}
    assert (PACK / "t1049" / "cloud" / "AZURE.md").is_file()


@pytest.mark.parametrize("path", OWN_RULES, ids=lambda p: p.relative_to(PACK).as_posix())
def test_every_rule_document_carries_tags_id_level_and_falsepositives(path: Path) -> None:
    for document in documents(path):
        title = document.get("title")
        tags = document.get("tags") or []
        assert "attack.discovery" in tags and "attack.t1049" in tags, title
        assert all(tag == tag.lower() and tag.startswith("attack.") for tag in tags), title
        assert str(uuid.UUID(str(document["id"]))) == str(document["id"]), title
        assert document.get("level") in LEVELS, title
        assert document.get("status") and document.get("description") and document.get("author"), title
        falsepositives = document.get("falsepositives") or []
        assert falsepositives, title
        assert all(str(item).strip().lower() not in MEANINGLESS for item in falsepositives), title


def test_rule_ids_are_unique_across_the_pack() -> None:
    ids = [str(doc["id"]) for path in OWN_RULES for doc in documents(path)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", ["seed_netstat.yml", "seed_net_use.yml", "seed_net_session.yml"])
def test_seed_rules_are_the_seed_note_rules_verbatim(name: str) -> None:
    assert (SEED / name).read_bytes() == (FIXTURES / name).read_bytes()


def test_the_seed_rules_lack_what_the_pack_adds_and_are_documented_as_exempt() -> None:
    """The verbatim seed rules have no id, no attack.discovery tag and no falsepositives: the
    pack keeps them as the author wrote them (docs/rule-pack.md) and adds robust versions."""
    for path in SEED.glob("seed_*.yml"):
        if path.name.endswith(".tests.yml"):
            continue
        (document,) = documents(path)
        assert "id" not in document and document["tags"] == "T1049"
    policy = (Path(__file__).resolve().parents[2] / "docs" / "rule-pack.md").read_text(encoding="utf-8")
    assert "verbatim" in policy and "seed/" in policy
