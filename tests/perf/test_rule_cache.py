"""The rule cache returns what loading returns, notices changed rules and ignores damage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SHARED
from watchpost.hunting import rule_cache
from watchpost.hunting.engine import Hunt, HuntOptions
from watchpost.hunting.ruleset import build_ruleset, load_ruleset

SAMPLE = SHARED / "samples" / "windows" / "evtx"
RULE = ("title: {title}\nid: 4c2b9d3e-0000-4000-8000-00000000000{n}\n"
        "logsource: {{product: windows, service: security}}\n"
        "detection:\n  sel: {{EventID: {event_id}}}\n  condition: sel\nlevel: low\n")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("WATCHPOST_RULE_CACHE", "1")
    monkeypatch.setattr(rule_cache, "MIN_LOAD_SECONDS", 0.0)
    return tmp_path / "cache" / "watchpost"


def write_rules(folder: Path, event_ids: tuple[int, ...]) -> Path:
    folder.mkdir(exist_ok=True)
    for n, event_id in enumerate(event_ids):
        (folder / f"r{n}.yml").write_text(RULE.format(title=f"rule {n}", n=n, event_id=event_id))
    return folder


def alerts_of(rules: Path) -> list[tuple[str, str]]:
    hunt = Hunt(HuntOptions(rules=[rules]))
    return [(a.rule.id, a.events[0].origin.describe()) for a in hunt.run([SAMPLE])]


def test_a_cached_rule_set_matches_like_a_built_one(tmp_path: Path, cache: Path) -> None:
    rules = write_rules(tmp_path / "rules", (4624, 4688, 4672))
    first = alerts_of(rules)  # builds and stores
    assert len(list(cache.glob("rules-*.pickle"))) == 1
    again = alerts_of(rules)  # from the cache
    assert first and again == first
    built = build_ruleset([rules])
    cached = load_ruleset([rules])
    assert [r.meta for r in cached.detections] == [r.meta for r in built.detections]


def test_a_changed_rule_is_not_served_from_the_cache(tmp_path: Path, cache: Path) -> None:
    rules = write_rules(tmp_path / "rules", (4624, 4688))
    before = load_ruleset([rules])
    (rules / "r1.yml").write_text(RULE.format(title="renamed", n=1, event_id=4688))
    os.utime(rules / "r1.yml", ns=(1, 1))  # even with an old time the size differs
    after = load_ruleset([rules])
    assert sorted(r.meta.title for r in before.detections) == ["rule 0", "rule 1"]
    assert sorted(r.meta.title for r in after.detections) == ["renamed", "rule 0"]
    (rules / "r2.yml").write_text(RULE.format(title="added", n=2, event_id=1))
    assert len(load_ruleset([rules]).detections) == 3


def test_a_damaged_cache_file_is_ignored_and_replaced(tmp_path: Path, cache: Path) -> None:
    rules = write_rules(tmp_path / "rules", (4624,))
    load_ruleset([rules])
    (stored,) = cache.glob("rules-*.pickle")
    stored.write_bytes(stored.read_bytes()[:100])
    assert [r.meta.title for r in load_ruleset([rules]).detections] == ["rule 0"]
    stored.write_bytes(b"not a pickle at all")
    assert [r.meta.title for r in load_ruleset([rules]).detections] == ["rule 0"]
    assert len(stored.read_bytes()) > 100  # rewritten


def test_the_cache_can_be_turned_off(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHPOST_RULE_CACHE", "0")
    load_ruleset([write_rules(tmp_path / "rules", (4624,))])
    assert not cache.exists()


def test_fast_loads_are_not_stored(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rule_cache, "MIN_LOAD_SECONDS", 3600.0)
    load_ruleset([write_rules(tmp_path / "rules", (4624,))])
    assert not list(cache.glob("rules-*.pickle"))


def test_old_cache_files_are_pruned(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rule_cache, "KEEP", 2)
    for n in range(4):
        load_ruleset([write_rules(tmp_path / f"rules{n}", (4624,))])
    assert len(list(cache.glob("rules-*.pickle"))) == 2
