"""Streaming semantics: when windows fire, upper-bound conditions, lateness, the group cap."""

from __future__ import annotations

from datetime import timedelta

from watchpost.correlation import CorrelationEngine
from watchpost.correlation.state import KEEP_EVENTS
from watchpost.problems import ProblemLog

from .support import at, load, match, records, run

BASE = """
title: base
name: base
logsource: {product: windows}
detection: {selection: {EventID: 1}, condition: selection}
"""


def counting(condition: str, timespan: str = "1m", group_by: str = "[Host]") -> str:
    return (
        BASE
        + f"""
---
title: counted
correlation:
    type: event_count
    rules: [base]
    group-by: {group_by}
    timespan: {timespan}
    condition: {condition}
"""
    )


def test_a_burst_fires_once_then_a_new_window_starts_after_the_fired_events() -> None:
    loaded = load(counting("{gte: 3}"))
    base = loaded.rule("base")
    matches = [match(base, s, Host="h") for s in (0, 1, 2, 3, 4, 5, 6, 50)]
    alerts = run(loaded.specs, matches)
    assert [records(a) for a in alerts] == [records_of(matches[0:3]), records_of(matches[3:6])]
    assert [a.correlation.value for a in alerts if a.correlation] == [3, 3]


def records_of(matches: list) -> list[int | None]:  # type: ignore[type-arg]
    return [m.event.origin.record for m in matches]


def test_upper_bounds_are_decided_when_the_window_ends() -> None:
    loaded = load(counting("{lt: 3}"))
    base = loaded.rule("base")
    engine = CorrelationEngine(loaded.specs, timedelta(0), 100, ProblemLog())
    assert engine.feed(match(base, 0, Host="quiet")) == []
    for second in (1, 2, 3):
        assert engine.feed(match(base, second, Host="busy")) == []
    assert engine.feed(match(base, 30, Host="quiet")) == []
    assert engine.advance(at(59)) == []  # the quiet window [0 s, 60 s] is still open
    alerts = engine.advance(at(61))
    assert len(alerts) == 1
    assert alerts[0].group == (("Host", "quiet"),)
    assert alerts[0].correlation is not None and alerts[0].correlation.value == 2
    assert alerts[0].extra["decided"] == "window_end"
    assert engine.flush() == []  # busy had 3 in its window [1 s, 61 s]


def test_flush_decides_windows_still_open() -> None:
    loaded = load(counting("{lte: 1}"))
    base = loaded.rule("base")
    alerts = run(
        loaded.specs, [match(base, 0, Host="a"), match(base, 10, Host="b"), match(base, 20, Host="b")]
    )
    assert [a.group for a in alerts] == [(("Host", "a"),)]  # b: [10 s, 70 s] holds 2
    assert [len(a.events) for a in alerts] == [1]


def test_eq_neq_and_ranges() -> None:
    for condition, sizes, fired in (
        ("{eq: 2}", [1, 2, 3], [2]),
        ("{neq: 2}", [1, 2, 3], [1, 3]),
        ("{gt: 1, lte: 3}", [1, 2, 3, 4], [2, 3]),
        ("{gte: 2, lt: 4}", [1, 2, 3, 4], [2, 3]),
    ):
        loaded = load(counting(condition))
        assert loaded.problems == []
        base = loaded.rule("base")
        matches = [match(base, i, Host=f"h{size}") for size in sizes for i in range(size)]
        alerts = run(loaded.specs, matches)
        assert sorted(len(a.events) for a in alerts) == fired, condition


def test_range_condition_keeps_every_bound() -> None:
    loaded = load(counting("{gt: 100, lte: 200}"))
    (spec,) = loaded.specs
    assert spec.condition.describe() == "gt 100 and lte 200"
    assert not spec.decided_on_arrival


def test_reordering_within_the_lateness_allowance_changes_nothing() -> None:
    loaded = load(counting("{gte: 3}", timespan="10s"))
    base = loaded.rule("base")
    in_order = [match(base, s, Host="h") for s in (0, 4, 8, 9, 30)]
    shuffled = [in_order[1], in_order[0], in_order[3], in_order[2], in_order[4]]
    problems = ProblemLog()
    expected = run(loaded.specs, in_order)
    got = run(loaded.specs, shuffled, lateness=timedelta(seconds=5), problems=problems)
    assert [records(a) for a in got] == [records(a) for a in expected] == [records_of(in_order[:3])]
    assert problems.count("correlation") == 0


def test_matches_later_than_the_allowance_are_reported_and_still_used_when_possible() -> None:
    loaded = load(counting("{gte: 2}", timespan="1m"))
    base = loaded.rule("base")
    problems = ProblemLog()
    engine = CorrelationEngine(loaded.specs, timedelta(seconds=1), 100, problems)
    assert engine.feed(match(base, 0, Host="a")) == []
    assert engine.feed(match(base, 20, Host="b")) == []  # horizon moves to 19 s
    late = engine.feed(match(base, 5, Host="a"))  # 14 s behind; a's window is still held
    assert [records(a) for a in late] and late[0].group == (("Host", "a"),)
    assert problems.count("correlation") == 1
    (problem,) = problems.of_stage("correlation")
    assert "14 s behind the release horizon" in problem.reason
    assert "correlated out of order" in problem.reason


def test_late_matches_into_fired_windows_are_not_correlated() -> None:
    loaded = load(counting("{gte: 2}", timespan="10s"))
    base = loaded.rule("base")
    problems = ProblemLog()
    engine = CorrelationEngine(loaded.specs, timedelta(0), 100, problems)
    fired = engine.feed(match(base, 0, Host="a")) + engine.feed(match(base, 5, Host="a"))
    assert len(fired) == 1
    assert engine.feed(match(base, 3, Host="a")) == []
    (problem,) = problems.of_stage("correlation")
    assert "not correlated: its window had already fired or closed" in problem.reason
    assert engine.stats["late_dropped"] == 1


def test_group_cap_evicts_the_least_recently_used_group_and_reports_it() -> None:
    loaded = load(counting("{gte: 2}", timespan="1h"))
    base = loaded.rule("base")
    problems = ProblemLog()
    matches = [
        match(base, 0, Host="a"),
        match(base, 1, Host="b"),
        match(base, 2, Host="c"),
        match(base, 3, Host="a"),
    ]
    alerts = run(loaded.specs, matches, max_groups=2, problems=problems)
    assert alerts == []  # a was evicted when c arrived, then b when a came back
    evicted_a, evicted_b = problems.of_stage("correlation")
    assert "group limit (2) reached" in evicted_a.reason and "'Host': 'a'" in evicted_a.reason
    assert "'Host': 'b'" in evicted_b.reason
    kept = run(loaded.specs, matches, max_groups=3)
    assert [a.group for a in kept] == [(("Host", "a"),)]


def test_groups_expire_with_their_window() -> None:
    loaded = load(counting("{gte: 5}", timespan="10s"))
    base = loaded.rule("base")
    engine = CorrelationEngine(loaded.specs, timedelta(0), 100, ProblemLog())
    for i in range(50):
        engine.feed(match(base, i, Host=f"host{i}"))
    assert engine.held_groups() <= 11
    engine.advance(at(100))
    assert engine.held_groups() == 0


def test_big_counts_keep_a_bounded_number_of_events_and_say_so() -> None:
    loaded = load(counting("{gte: 250}", timespan="1h"))
    base = loaded.rule("base")
    matches = [match(base, i, Host="h") for i in range(250)]
    (alert,) = run(loaded.specs, matches)
    assert len(alert.events) == KEEP_EVENTS
    assert records(alert) == records_of(matches[-KEEP_EVENTS:])
    assert alert.extra["events_behind"] == 250 and alert.extra["events_truncated"] is True
    assert alert.correlation is not None and alert.correlation.first == matches[0].event.timestamp


def test_process_ids_join_across_hex_and_decimal_notation() -> None:
    loaded = load(
        BASE
        + """
---
title: other
name: other
logsource: {product: windows}
detection: {selection: {EventID: 2}, condition: selection}
---
title: same process
correlation:
    type: temporal_ordered
    rules: [base, other]
    group-by: [Computer, ProcessKey]
    timespan: 5s
    aliases:
        ProcessKey: {base: NewProcessId, other: ProcessId}
"""
    )
    base, other = loaded.rule("base"), loaded.rule("other")
    matches = [
        match(base, 0, Computer="PC1", NewProcessId="0x2bc"),
        match(other, 1, Computer="pc1", ProcessId="700"),
        match(base, 2, Computer="pc1", NewProcessId="0x2bd"),
        match(other, 3, Computer="pc1", ProcessId=700),
    ]
    alerts = run(loaded.specs, matches)
    assert len(alerts) == 1
    assert alerts[0].group == (("Computer", "PC1"), ("ProcessKey", "700"))
    assert records(alerts[0]) == records_of(matches[:2])


def test_a_multi_valued_group_field_puts_the_match_in_each_group() -> None:
    loaded = load(counting("{gte: 2}", timespan="1m", group_by="[User]"))
    base = loaded.rule("base")
    matches = [
        match(base, 0, User=["alice", "bob"]),
        match(base, 1, User="bob"),
        match(base, 2, User="ALICE"),
    ]
    alerts = run(loaded.specs, matches)
    assert sorted(dict(a.group)["User"] for a in alerts) == ["alice", "bob"]
    assert all(records(a)[0] == matches[0].event.origin.record for a in alerts)


def test_a_late_match_can_make_a_window_end_decision_due() -> None:
    loaded = load(counting("{lt: 2}", timespan="10s"))
    base = loaded.rule("base")
    problems = ProblemLog()
    engine = CorrelationEngine(loaded.specs, timedelta(seconds=2), 100, problems)
    assert engine.feed(match(base, 30, Host="other")) == []  # horizon: 28 s
    late = engine.feed(match(base, 5, Host="a"))  # its window [5 s, 15 s] is over: decided now
    assert [(a.group, len(a.events)) for a in late] == [((("Host", "a"),), 1)]
    assert engine.feed(match(base, 9, Host="a")) == []  # falls into the decided window
    first, second = problems.of_stage("correlation")
    assert "correlated out of order" in first.reason and "not correlated" in second.reason
    assert [a.group for a in engine.flush()] == [(("Host", "other"),)]
