"""The rule index's candidate selection by set operations gives what checking every variant gives."""

from __future__ import annotations

from itertools import product

from tests.conftest import SHARED
from watchpost.events import LogsourceHint
from watchpost.hunting.ruleset import load_ruleset


def test_candidates_by_selectors_are_those_every_variant_admits() -> None:
    sigma = SHARED / "sigma"
    ruleset = load_ruleset([sigma / "rules" / "windows", sigma / "rules-emerging-threats"])
    index = ruleset.index
    variants = index._variants
    channels = sorted({c for v in variants for c in v.channels or ()})[:15] + ["", "no such channel"]
    event_ids = sorted({e for v in variants for e in v.event_ids or ()})[:15] + ["", "99999"]
    hints = [LogsourceHint("windows"), LogsourceHint(), LogsourceHint("linux", "auditd"),
             LogsourceHint("windows", None, "process_creation")]
    checked = nonempty = 0
    for hint, channel, event_id in product(hints, channels, event_ids):
        expected = [n for n, v in enumerate(variants) if v.admits(hint, channel, event_id)]
        assert index._selectors.admitting(hint, channel, event_id) == expected
        checked += 1
        nonempty += bool(expected)
    assert checked > 1000 and nonempty > checked // 2
