"""What every target needs to write a correlation rule as a query, resolved as the engine resolves it.

A `CorrelationPlan` is built from the engine's own `CorrelationSpec` (`watchpost.correlation.spec`):
the referenced rules in order, per referenced rule the field each group-by name reads (aliases
resolved) and the measured field, the timespan, the condition (ranges included) and whether the
engine decides it on arrival or at a window's end. A referenced correlation (a chain, such as the
seed's `net session` rule around its `net1.exe` child) is a part holding its own plan.

A target renders a plan with the detection queries of its parts (`PartQueries`); the texts it has
to say about approximations come from `approximations`, so that every target words them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from watchpost.correlation.keys import is_pid_field
from watchpost.correlation.spec import (
    TEMPORAL_ORDERED,
    CorrelationSpec,
    compile_correlations,
)
from watchpost.rules.meta import describe_rule
from watchpost.rules.model import RuleProblem


class PlanError(ValueError):
    """A correlation a target cannot express; the message says why."""


@dataclass(frozen=True, slots=True)
class Part:
    """One rule a correlation references: a detection rule or (a chain) another correlation."""

    rule_id: str
    tag: str
    """How the query names the part: the rule's name, or its id when it has none."""
    slot: int
    """Position in the correlation's ``rules`` (0-based): the order temporal_ordered checks."""
    group_sources: tuple[str, ...]
    value_sources: tuple[str, ...]
    detection: Any | None = None
    """The pySigma `SigmaRule` of a detection part."""
    inner: CorrelationPlan | None = None
    """The plan of a correlation part."""
    renamed: tuple[tuple[str, str], ...] = ()
    """Field names a processing pipeline gives this detection rule's fields (Sigma name, target name)."""

    def field(self, name: str) -> str:
        """The name ``name`` has in this detection rule's events once the pipeline is applied."""
        return dict(self.renamed).get(name, name)


@dataclass(frozen=True, slots=True)
class CorrelationPlan:
    spec: CorrelationSpec
    parts: tuple[Part, ...]
    rule: Any
    """The pySigma `SigmaCorrelationRule`."""

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def title(self) -> str:
        return self.spec.meta.title

    @property
    def tag(self) -> str:
        return self.spec.meta.name or self.spec.meta.id

    @property
    def group_by(self) -> tuple[str, ...]:
        return self.spec.group_by

    @property
    def timespan_seconds(self) -> int:
        return int(self.spec.timespan_seconds)

    @property
    def bounds(self) -> tuple[tuple[str, float], ...]:
        return self.spec.condition.bounds

    @property
    def on_arrival(self) -> bool:
        return self.spec.decided_on_arrival

    def is_pid_key(self, index: int, source: str) -> bool:
        """True when group key ``index`` read from ``source`` is a process id (keys.py's rule)."""
        return is_pid_field(source) or is_pid_field(self.group_by[index])

    def carried_fields(self, part: Part) -> tuple[str, ...]:
        """Fields an inner correlation's result must carry for this (outer) plan to read."""
        own = set(part.inner.group_by) if part.inner is not None else set()
        return tuple(dict.fromkeys(f for f in (*part.group_sources, *part.value_sources) if f not in own))


def describe_timespan(seconds: int) -> str:
    """``5m``, ``2h``, ``90s``: the largest whole unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe_rule_title(plan: CorrelationPlan, closing: str) -> str:
    """The title quoted on one line, with a target's end-of-comment mark (``closing``) broken up."""
    return repr(plan.title).replace(closing, " ".join(closing))


def describe_condition(plan: CorrelationPlan) -> str:
    return plan.spec.condition.describe()


def plan_correlations(
    detections: Sequence[tuple[Any, Path]], correlations: Sequence[tuple[Any, Path]]
) -> tuple[dict[str, CorrelationPlan], list[RuleProblem]]:
    """Plans by correlation id for pySigma correlation rules, with the problems of those that fail."""
    metas = [describe_rule(rule, path) for rule, path in detections]
    specs, problems = compile_correlations(list(correlations), metas)
    rules_by_id = {meta.id: rule for meta, (rule, _) in zip(metas, detections, strict=True)}
    names = {meta.id: meta.name or meta.id for meta in metas}
    correlation_rules = {describe_rule(rule, path).id: rule for rule, path in correlations}
    plans: dict[str, CorrelationPlan] = {}
    for spec in specs:  # dependency order: an inner correlation's plan exists before its outer
        parts = []
        for slot, rule_id in enumerate(spec.rules):
            inner = plans.get(rule_id)
            parts.append(Part(
                rule_id=rule_id,
                tag=inner.tag if inner is not None else names[rule_id],
                slot=slot,
                group_sources=spec.sources[slot],
                value_sources=spec.value_sources[slot] if spec.value_sources else (),
                detection=rules_by_id.get(rule_id),
                inner=inner,
            ))
        plans[spec.id] = CorrelationPlan(spec, tuple(parts), correlation_rules[spec.id])
    return plans, problems


def ordered_subsequences(plan: CorrelationPlan, limit: int = 64) -> list[tuple[int, ...]]:
    """For temporal_ordered: the slot sequences (increasing) whose length meets a lower bound.

    The engine measures the longest chain of matches whose rules follow the ``rules`` order in time;
    "at least k" holds when some k slots appear in increasing order. Only lower bounds are
    decided this way (an upper bound on a chain is decided at a window's end).
    """
    from itertools import combinations

    length = minimal_count(plan)
    count = len(plan.parts)
    if length > count:
        raise PlanError(f"the condition asks for a chain of {length} of {count} rules: it never holds")
    chosen = list(combinations(range(count), max(length, 1)))
    if len(chosen) > limit:
        raise PlanError(f"{len(chosen)} ordered sub-sequences of the rules would have to be listed")
    return chosen


def minimal_count(plan: CorrelationPlan) -> int:
    """The smallest whole count a lower-bound condition accepts (``gt 2`` -> 3, ``gte 2`` -> 2)."""
    import math

    smallest = 0
    for op, threshold in plan.bounds:
        if op == "gte":
            smallest = max(smallest, math.ceil(threshold))
        elif op == "gt":
            smallest = max(smallest, math.floor(threshold) + 1)
        else:
            raise PlanError(f"a {plan.type} condition with {op!r} is decided at a window's end")
    return smallest


def approximations(plan: CorrelationPlan, target: str, *, sliding: bool) -> list[str]:
    """What the target's query does differently from the engine (docs/convert.md lists the same)."""
    notes: list[str] = []
    span = describe_timespan(plan.timespan_seconds)
    if sliding:
        notes.append(
            f"{target}: one result per event that completes the condition in the trailing {span} "
            "window ending at it (watchpost fires once and starts the group afresh after the "
            "fired events, so one burst gives it one alert and this query several rows)")
    else:
        notes.append(
            f"{target}: windows of {span} aligned to the clock (tumbling); watchpost opens a window "
            "at a group's first match, so a burst that straddles a boundary can be judged differently")
    if plan.type == TEMPORAL_ORDERED:
        notes.append(f"{target}: events with the same timestamp are ordered by rule order, not "
                     "by arrival as in watchpost")
    if any(p.inner is not None for p in plan.parts):
        notes.append(f"{target}: an inner correlation's result carries the values of every event of "
                     "its window, not only those of the fired events")
    if plan.spec.processes is not None:
        notes.append(f"{target}: x-watchpost-processes is not expressed: watchpost counts a process "
                     "once across logs (Security and Sysmon, hex and decimal ids) and across firings, "
                     "and leaves out the children of benign collectors also when started through a "
                     "shell; this query counts every event the rules match")
    return notes


def renamed_plan(plan: CorrelationPlan, rename: Callable[[Any, str], str],
                 carried: Sequence[str] = ()) -> CorrelationPlan:
    """The plan with each detection part's field names as a processing pipeline renames them.

    ``rename(rule, field)`` gives the target name of ``field`` in the events of detection ``rule``;
    ``carried`` are fields an outer correlation reads from this plan's results.
    """
    parts = []
    for part in plan.parts:
        if part.inner is not None:
            inner = renamed_plan(part.inner, rename, [*plan.carried_fields(part), *carried])
            parts.append(replace(part, inner=inner))
            continue
        names = dict.fromkeys([*part.group_sources, *part.value_sources, *carried])
        renamed = tuple((name, rename(part.detection, name)) for name in names)
        parts.append(replace(part, renamed=tuple(pair for pair in renamed if pair[0] != pair[1])))
    return replace(plan, parts=tuple(parts))
