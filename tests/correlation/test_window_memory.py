"""What a group holds: entries a timespan behind the horizon are forgotten even in a group that
gets no new match, and the alerts of an in-order stream do not change (the SQLite reference and
parking tests compare whole streams)."""

from __future__ import annotations

import pickle
import sys
from collections import deque
from datetime import timedelta

from watchpost.correlation import CorrelationEngine
from watchpost.correlation.state import SHARED_VALUES_LIMIT, GroupWindow, _shared_values, shared_values
from watchpost.problems import ProblemLog

from .support import at, load, match

RULES = """
title: base
name: base
logsource: {product: windows}
detection: {selection: {EventID: 1}, condition: selection}
---
title: programs
correlation:
    type: value_count
    rules: [base]
    group-by: [Host]
    timespan: 5m
    condition: {gte: 3, field: Image}
"""


def held(engine: CorrelationEngine) -> dict[str, list[float]]:
    (state,) = engine.states.values()
    return {
        group.shown[0][1]: [entry.ts / 1_000_000 - at(0).timestamp() for entry in group.entries]
        for group in state.groups.values()
    }


def test_a_quiet_group_forgets_entries_a_timespan_behind_the_horizon() -> None:
    loaded = load(RULES)
    base = loaded.rule("base")
    engine = CorrelationEngine(loaded.specs, timedelta(0), 100, ProblemLog())
    for second, host in ((0, "quiet"), (200, "quiet"), (250, "busy"), (280, "quiet")):
        assert engine.feed(match(base, second, Host=host, Image="netstat.exe")) == []
    assert held(engine) == {"quiet": [0.0, 200.0, 280.0], "busy": [250.0]}
    engine.feed(match(base, 430, Host="other", Image="netstat.exe"))
    # a sweep visits every group: it waits until the correlation has taken entries for half
    # of them (3 groups, 1 entry since the last sweep)
    assert held(engine)["quiet"] == [0.0, 200.0, 280.0]
    engine.feed(match(base, 435, Host="another", Image="netstat.exe"))
    # 4 groups, 2 entries: 135 s is a timespan behind, the quiet group's 0 s entry goes
    assert held(engine) == {"quiet": [200.0, 280.0], "busy": [250.0], "other": [430.0], "another": [435.0]}
    engine.advance(at(560))  # 260 s: busy has nothing newer and is dropped
    assert "busy" not in held(engine) and held(engine)["quiet"] == [200.0, 280.0]
    for second in range(561, 565):
        engine.feed(match(base, second, Host=f"new-{second}", Image="netstat.exe"))
    assert held(engine)["quiet"] == [280.0]


def test_forgotten_entries_are_not_counted_by_later_matches() -> None:
    loaded = load(RULES)
    base = loaded.rule("base")
    engine = CorrelationEngine(loaded.specs, timedelta(0), 100, ProblemLog())
    engine.feed(match(base, 0, Host="h", Image="a.exe"))
    engine.feed(match(base, 200, Host="h", Image="b.exe"))
    engine.advance(at(400))
    # 0 s is more than 5 min before 400 s: only b and c are in the window, below 3 programs
    assert engine.feed(match(base, 400, Host="h", Image="c.exe")) == []
    alerts = engine.feed(match(base, 410, Host="h", Image="d.exe"))
    assert [a.correlation.value for a in alerts if a.correlation] == [3]


def test_a_group_pickled_with_a_deque_comes_back_with_a_list() -> None:
    group = GroupWindow(("h",), (("Host", "h"),))
    state = group.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    assert state[2] is not None
    slots = dict(state[2][1])
    slots["entries"] = deque(["x"])
    restored = GroupWindow.__new__(GroupWindow)
    restored.__setstate__((None, slots))
    assert restored.entries == ["x"] and type(restored.entries) is list
    again = pickle.loads(pickle.dumps(group, pickle.HIGHEST_PROTOCOL))
    assert again.entries == [] and again.key == ("h",)


def test_equal_measured_values_and_group_texts_are_held_once() -> None:
    loaded = load(RULES)
    base = loaded.rule("base")
    engine = CorrelationEngine(loaded.specs, timedelta(0), 100, ProblemLog())
    for second, host in enumerate(("a", "b", "a")):
        engine.feed(match(base, second, Host="WKS-" + host, Image="C:\\Windows\\NETSTAT.EXE"))
    engine.advance(at(10))
    (state,) = engine.states.values()
    entries = [entry for group in state.groups.values() for entry in group.entries]
    assert len(entries) == 3 and len({id(entry.values) for entry in entries}) == 1
    assert entries[0].values == ("c:\\windows\\netstat.exe",)
    shown = sorted(group.shown[0][1] for group in state.groups.values())
    assert shown == ["WKS-a", "WKS-b"]
    again = [group for group in state.groups.values() if group.shown[0][1] == "WKS-a"]
    assert again[0].key[0] is sys.intern("wks-a") and again[0].shown[0][1] is sys.intern("WKS-a")


def test_the_memo_of_measured_values_is_bounded() -> None:
    for number in range(SHARED_VALUES_LIMIT * 3):
        assert shared_values((f"program-{number}",)) == (f"program-{number}",)
    assert len(_shared_values) <= SHARED_VALUES_LIMIT
