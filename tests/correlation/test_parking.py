"""Parked occurrences (`CorrelationEngine.hold_outside` / `park`): an engine whose held matches
are replaced by stand-ins and recalled from their owner's copy gives exactly the alerts of one
that keeps them in memory, chains, late matches and several groups per match included."""

from __future__ import annotations

import pickle
import random
from datetime import timedelta

import pytest

from watchpost.alerts import Alert
from watchpost.correlation import CorrelationEngine
from watchpost.correlation.occurrence import Occurrence, Parked
from watchpost.matching.model import Match
from watchpost.problems import ProblemLog

from .support import load, match
from .test_types import CHAINED

RULES = """
title: base
name: base
logsource: {product: windows}
detection: {selection: {EventID: 1}, condition: selection}
---
title: other
name: other
logsource: {product: windows}
detection: {selection: {EventID: 2}, condition: selection}
---
title: many programs
correlation:
    type: value_count
    rules: [base, other]
    group-by: [Host]
    timespan: 30s
    condition: {gte: 3, field: Program}
---
title: few events
correlation:
    type: event_count
    rules: [base]
    group-by: [User]
    timespan: 20s
    condition: {lt: 3}
---
title: both rules
correlation:
    type: temporal
    rules: [base, other]
    group-by: [Host, User]
    timespan: 15s
---
title: average size
correlation:
    type: value_avg
    rules: [other]
    group-by: [Host]
    timespan: 40s
    condition: {gt: 50, field: Size}
"""


class Owner:
    """What the watch's state file is to the engine: a pickled copy of each held occurrence."""

    def __init__(self) -> None:
        self.rows: dict[int, bytes] = {}
        self.recalled = 0

    def store(self, engine: CorrelationEngine) -> None:
        held: list[Occurrence | Parked | None] = [item[2] for item in engine._buffer]  # noqa: SLF001
        for state in engine.states.values():
            held.extend(entry.occ for group in state.groups.values() for entry in group.entries)
        for occ in held:
            if isinstance(occ, Occurrence) and occ.seq not in self.rows:
                self.rows[occ.seq] = pickle.dumps(occ)

    def recall(self, seq: int) -> Occurrence:
        self.recalled += 1
        occ = pickle.loads(self.rows[seq])
        assert isinstance(occ, Occurrence)
        return occ


def both_ways(
    text: str, matches: list[Match], lateness: timedelta, park_every: int
) -> tuple[list[Alert], list[Alert], Owner, int]:
    """The alerts of an engine keeping everything, and of one parking what ``Owner`` stored
    every ``park_every`` matches (and how many stand-ins it made)."""
    specs = load(text).specs
    plain = CorrelationEngine(specs, lateness, 1000, ProblemLog())
    parking = CorrelationEngine(specs, lateness, 1000, ProblemLog())
    owner = Owner()
    parking.hold_outside(owner.recall)
    expected: list[Alert] = []
    got: list[Alert] = []
    parked = 0
    for number, one in enumerate(matches, 1):
        expected.extend(plain.feed(one))
        got.extend(parking.feed(one))
        if number % park_every == 0:
            owner.store(parking)
            parked += parking.park(owner.rows)
    expected.extend(plain.flush())
    got.extend(parking.flush())
    return expected, got, owner, parked


def stream(seed: int, count: int) -> list[Match]:
    loaded = load(RULES)
    base, other = loaded.rule("base"), loaded.rule("other")
    rng = random.Random(seed)
    found: list[Match] = []
    seconds = 0.0
    for _ in range(count):
        seconds += rng.expovariate(1.5)
        jitter = -rng.uniform(0, 8) if rng.random() < 0.15 else 0.0  # out of order, some late
        users = rng.choice([f"u{rng.randrange(3)}", [f"u{rng.randrange(3)}", f"u{rng.randrange(3, 5)}"]])
        found.append(match(rng.choice([base, other]), seconds + jitter, Host=f"h{rng.randrange(3)}",
                           User=users, Program=f"p{rng.randrange(5)}", Size=rng.randrange(100)))
    return found


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lateness", [timedelta(0), timedelta(seconds=5)], ids=["no-lateness", "lateness-5s"])
def test_parked_engine_gives_the_same_alerts(seed: int, lateness: timedelta) -> None:
    expected, got, owner, parked = both_ways(RULES, stream(seed, 600), lateness, park_every=1 + seed % 4)
    assert [alert.to_dict() for alert in got] == [alert.to_dict() for alert in expected]
    assert expected and parked > 0 and owner.recalled > 0


def test_chain_members_are_not_parked_and_chains_alert_alike() -> None:
    """The inner correlation feeds the outer one: its entries keep their occurrences (a chain
    compares events by identity), while the outer one's own matches are parked."""
    loaded = load(CHAINED)
    failed, success = loaded.rule("failed_login"), loaded.rule("successful_login")
    matches = []
    for burst in range(4):
        start = burst * 700
        matches += [match(failed, start + i * 10, User=["alice", "root"]) for i in range(12)]
        matches.append(match(success, start + 200, User="alice"))
    expected, got, _owner, parked = both_ways(CHAINED, matches, timedelta(seconds=30), park_every=1)
    assert [alert.to_dict() for alert in got] == [alert.to_dict() for alert in expected]
    assert len(expected) == 4 and parked > 0


def test_park_needs_an_owner_who_is_not_part_of_the_saved_state() -> None:
    loaded = load(RULES)
    engine = CorrelationEngine(loaded.specs, timedelta(0), 1000, ProblemLog())
    with pytest.raises(RuntimeError):
        engine.park(set())
    owner = Owner()
    engine.hold_outside(owner.recall)
    engine.feed(match(loaded.rule("base"), 1, Host="h", User="u", Program="p"))
    assert engine.__getstate__()["recall"] is None
    assert all(state.made for state in engine.states.values() if loaded.rule("base").id in state.spec.rules)
    assert all(state.__getstate__()["made"] is None for state in engine.states.values())


SHARED = """
title: base
name: base
logsource: {product: windows}
detection: {selection: {EventID: 1}, condition: selection}
---
title: per user
name: per_user
correlation:
    type: event_count
    rules: [base]
    group-by: [User]
    timespan: 1m
    condition: {gte: 3}
---
title: per host
correlation:
    type: event_count
    rules: [per_user]
    group-by: [Host]
    timespan: 1m
    condition: {gte: 2}
"""


def test_events_shared_by_two_inner_alerts_appear_once_in_the_outer_alert() -> None:
    """A match of two users is in two groups of the inner correlation; both fire and the outer
    alert holds each event once (as without parking: the inner entries are never parked)."""
    base = load(SHARED).rule("base")
    matches = [match(base, s, User=["alice", "root"], Host="h") for s in (1, 2, 3)]
    expected, got, _owner, _parked = both_ways(SHARED, matches, timedelta(0), park_every=1)
    outer = [alert for alert in got if alert.rule.title == "per host"]
    assert len(outer) == 1 and len(outer[0].events) == 3
    assert [alert.to_dict() for alert in got] == [alert.to_dict() for alert in expected]
