"""Correlation rules compiled once at load time into pySigma-free, immutable specs.

`compile_correlations` turns each pySigma `SigmaCorrelationRule` into a `CorrelationSpec`:
references (``rules`` by id or name, aliases keyed by rule name or id) resolved to rule ids, each
group-by and value field resolved per referenced rule through ``aliases``, the condition parsed
(ranges included). A correlation that cannot run (unknown reference, cycle, unsupported
condition) becomes a `RuleProblem` and is left out, with every correlation built on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchpost.correlation.conditions import (
    CONDITION_ATTRIBUTE,
    Condition,
    ConditionError,
    parse_condition,
)
from watchpost.correlation.processes import (
    ATTRIBUTE as PROCESSES_ATTRIBUTE,
)
from watchpost.correlation.processes import (
    ProcessSpec,
    ProcessSpecError,
    compile_process_spec,
)
from watchpost.rules.model import RuleMeta, RuleProblem

EVENT_COUNT = "event_count"
VALUE_COUNT = "value_count"
TEMPORAL = "temporal"
TEMPORAL_ORDERED = "temporal_ordered"
VALUE_SUM = "value_sum"
VALUE_AVG = "value_avg"
VALUE_PERCENTILE = "value_percentile"
VALUE_MEDIAN = "value_median"

TYPES = frozenset(
    {
        EVENT_COUNT,
        VALUE_COUNT,
        TEMPORAL,
        TEMPORAL_ORDERED,
        VALUE_SUM,
        VALUE_AVG,
        VALUE_PERCENTILE,
        VALUE_MEDIAN,
    }
)
VALUE_TYPES = frozenset({VALUE_COUNT, VALUE_SUM, VALUE_AVG, VALUE_PERCENTILE, VALUE_MEDIAN})
"""Types that measure a ``field`` of the events."""
NUMERIC_TYPES = frozenset({VALUE_SUM, VALUE_AVG, VALUE_PERCENTILE, VALUE_MEDIAN})
"""Types whose field must hold numbers."""
WHOLE_WINDOW_TYPES = frozenset({VALUE_AVG, VALUE_PERCENTILE, VALUE_MEDIAN})
"""Types measured over the complete window only: a partial window's average says nothing."""


MAX_TIMESPAN_SECONDS = 366 * 86_400
"""Longest timespan a correlation may have (one year; longer ones are refused at load time, so
`rules check` and `hunt` agree: a ``timespan: 800000d`` reached past year 1 from any event)."""


class SpecError(ValueError):
    """A correlation rule that cannot be compiled; the message says why."""


RULE_ERRORS = (SpecError, ConditionError, ArithmeticError, TypeError, ValueError, RecursionError)
"""What reading or compiling one correlation may raise on a hostile rule: it costs that rule only."""


@dataclass(frozen=True, slots=True)
class CorrelationSpec:
    """One correlation rule, ready to run.

    ``rules`` are the ids of the referenced rules (detections or correlations), in the rule's
    order. ``sources[i][j]`` is the field read, in an occurrence of ``rules[i]``, for
    ``group_by[j]`` (the alias resolved). ``value_sources[i]`` is the measured field for
    ``rules[i]`` (value_* types; a tuple of fields for a value_count over several fields).
    """

    meta: RuleMeta
    type: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    sources: tuple[tuple[str, ...], ...]
    timespan_us: int
    condition: Condition
    value_field: tuple[str, ...] = ()
    value_sources: tuple[tuple[str, ...], ...] = ()
    percentile: float | None = None
    generate: bool = False
    processes: ProcessSpec | None = None
    """``x-watchpost-processes``: process identity and collector lineage (`processes`)."""

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def timespan_seconds(self) -> float:
        return self.timespan_us / 1_000_000

    @property
    def decided_on_arrival(self) -> bool:
        """True: fires as soon as its condition holds; False: decided when a window ends."""
        return self.condition.on_arrival and self.type not in WHOLE_WINDOW_TYPES


@dataclass(frozen=True, slots=True)
class RawCorrelation:
    """What compiling needs of one pySigma correlation rule (read by `read_correlation`)."""

    meta: RuleMeta
    type: str
    references: tuple[str, ...]
    group_by: tuple[str, ...]
    aliases: Mapping[str, Mapping[str, str]]
    timespan_seconds: int
    condition: Mapping[str, Any]
    generate: bool
    processes: Any = None


def read_correlation(rule: Any, path: Path) -> RawCorrelation:
    """The parts of a pySigma ``SigmaCorrelationRule`` that compiling uses."""
    from sigma.correlations import SigmaCorrelationCondition

    from watchpost.rules.meta import describe_rule

    meta = describe_rule(rule, path)
    condition = rule.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise SpecError(
            f"extended (boolean) correlation conditions are not supported: {condition.expression!r}"
        )
    mapping: dict[str, Any] = dict(condition.to_dict())
    extra = rule.custom_attributes.get(CONDITION_ATTRIBUTE)
    if isinstance(extra, dict):
        mapping = dict(extra)
    aliases = {
        alias.alias: {ref.reference: str(field) for ref, field in alias.mapping.items()}
        for alias in rule.aliases
    }
    return RawCorrelation(
        meta=meta,
        type=str(rule.type.name).lower(),
        references=tuple(ref.reference for ref in rule.rules or ()),
        group_by=tuple(rule.group_by or ()),
        aliases=aliases,
        timespan_seconds=int(rule.timespan.seconds),
        condition=mapping,
        generate=bool(rule.generate),
        processes=rule.custom_attributes.get(PROCESSES_ATTRIBUTE),
    )


def compile_correlations(
    correlations: Sequence[tuple[Any, Path]],
    detections: Sequence[RuleMeta],
) -> tuple[list[CorrelationSpec], list[RuleProblem]]:
    """Specs for the pySigma correlation rules (each with the path it came from).

    References resolve against ``detections`` and the correlations themselves, by id or name.
    Specs come back in dependency order (a correlation after the ones it references).
    """
    problems: list[RuleProblem] = []
    raws: list[RawCorrelation] = []
    for rule, path in correlations:
        try:
            raws.append(read_correlation(rule, path))
        except RULE_ERRORS as error:
            problems.append(RuleProblem(str(path), getattr(rule, "title", None), str(error)))
    specs, more = compile_raw(raws, detections)
    return specs, problems + more


def compile_raw(
    raws: Sequence[RawCorrelation], detections: Sequence[RuleMeta]
) -> tuple[list[CorrelationSpec], list[RuleProblem]]:
    """`compile_correlations` on already read rules (also what tests use without pySigma)."""
    names = reference_table([*detections, *(raw.meta for raw in raws)])
    problems: list[RuleProblem] = []
    built: dict[str, CorrelationSpec] = {}
    pending = {raw.meta.id: raw for raw in raws}
    failed: set[str] = set()
    for raw in raws:
        try:
            resolve_order(raw.meta.id, pending, names, [])
        except SpecError as error:
            problems.append(RuleProblem(raw.meta.path, raw.meta.title, str(error)))
            failed.add(raw.meta.id)
    for raw_id in topological(pending, names):
        raw = pending[raw_id]
        if raw_id in failed:
            continue
        missing = [ref for ref in resolved_refs(raw, names) if ref in failed]
        if missing:
            failed.add(raw_id)
            problems.append(
                RuleProblem(
                    raw.meta.path, raw.meta.title, f"depends on correlation {missing[0]} that cannot run"
                )
            )
            continue
        try:
            built[raw_id] = build_spec(raw, names)
        except (*RULE_ERRORS, ProcessSpecError) as error:
            failed.add(raw_id)
            problems.append(RuleProblem(raw.meta.path, raw.meta.title, str(error)))
    return list(built.values()), problems


def reference_table(metas: Iterable[RuleMeta]) -> dict[str, str]:
    """Rule id by id and by name."""
    table: dict[str, str] = {}
    for meta in metas:
        if meta.name:
            table.setdefault(meta.name, meta.id)
        table[meta.id] = meta.id
    return table


def resolved_refs(raw: RawCorrelation, names: Mapping[str, str]) -> list[str]:
    return [names[ref] for ref in raw.references if ref in names]


def resolve_order(
    rule_id: str, pending: Mapping[str, RawCorrelation], names: Mapping[str, str], trail: list[str]
) -> None:
    """Raise `SpecError` on an unknown reference or a reference cycle under ``rule_id``."""
    if rule_id in trail:
        raise SpecError("correlation references form a cycle: " + " -> ".join([*trail, rule_id]))
    raw = pending[rule_id]
    if not raw.references:
        raise SpecError("correlation without referenced rules")
    for ref in raw.references:
        if ref not in names:
            raise SpecError(f"referenced rule {ref!r} is not loaded (no rule has this id or name)")
        target = names[ref]
        if target in pending:
            resolve_order(target, pending, names, [*trail, rule_id])


def topological(pending: Mapping[str, RawCorrelation], names: Mapping[str, str]) -> list[str]:
    """Correlation ids, each after the correlations it references (cycles broken arbitrarily)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(rule_id: str) -> None:
        if rule_id in seen:
            return
        seen.add(rule_id)
        for ref in pending[rule_id].references:
            target = names.get(ref)
            if target is not None and target in pending:
                visit(target)
        order.append(rule_id)

    for rule_id in pending:
        visit(rule_id)
    return order


def build_spec(raw: RawCorrelation, names: Mapping[str, str]) -> CorrelationSpec:
    if raw.type not in TYPES:
        raise SpecError(f"correlation type {raw.type!r} is not supported")
    if raw.timespan_seconds <= 0:
        raise SpecError("the timespan must be positive")
    if raw.timespan_seconds > MAX_TIMESPAN_SECONDS:
        raise SpecError(f"the timespan of {raw.timespan_seconds // 86_400:,} days is longer than the "
                        f"{MAX_TIMESPAN_SECONDS // 86_400} days a correlation may span")
    rules = tuple(names[ref] for ref in raw.references)
    if len(set(rules)) != len(rules):
        raise SpecError("a rule is referenced twice")
    aliases = resolve_aliases(raw, names, rules)
    sources = tuple(
        tuple(aliases.get(field, {}).get(rule, field) for field in raw.group_by) for rule in rules
    )
    condition = parse_condition(raw.condition)
    value_field, value_sources, percentile = value_parts(raw, aliases, rules)
    return CorrelationSpec(
        meta=raw.meta,
        type=raw.type,
        rules=rules,
        group_by=raw.group_by,
        sources=sources,
        timespan_us=raw.timespan_seconds * 1_000_000,
        condition=condition,
        value_field=value_field,
        value_sources=value_sources,
        percentile=percentile,
        generate=raw.generate,
        processes=compile_process_spec(raw.processes, names, rules),
    )


def resolve_aliases(
    raw: RawCorrelation, names: Mapping[str, str], rules: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    """alias -> {rule id: field}; alias keys may name a rule by name or id."""
    resolved: dict[str, dict[str, str]] = {}
    for alias, mapping in raw.aliases.items():
        per_rule: dict[str, str] = {}
        for ref, field in mapping.items():
            target = names.get(ref)
            if target is None or target not in rules:
                raise SpecError(
                    f"alias {alias!r} names rule {ref!r}, which the correlation does not reference"
                )
            per_rule[target] = field
        resolved[alias] = per_rule
    return resolved


def value_parts(
    raw: RawCorrelation, aliases: Mapping[str, Mapping[str, str]], rules: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], float | None]:
    """The measured field(s), per rule, and the percentile (value_* types)."""
    if raw.type not in VALUE_TYPES:
        return (), (), None
    field = raw.condition.get("field")
    fields = (
        tuple(str(f) for f in field) if isinstance(field, list | tuple) else (str(field),) if field else ()
    )
    if not fields:
        raise SpecError(f"a {raw.type} correlation needs a 'field' in its condition")
    if len(fields) > 1 and raw.type != VALUE_COUNT:
        raise SpecError(f"a {raw.type} correlation measures one field, not {len(fields)}")
    sources = tuple(tuple(aliases.get(f, {}).get(rule, f) for f in fields) for rule in rules)
    percentile: float | None = None
    if raw.type == VALUE_MEDIAN:
        percentile = 50.0
    elif raw.type == VALUE_PERCENTILE:
        given = raw.condition.get("percentile")
        if isinstance(given, bool) or not isinstance(given, int | float) or not 0 <= given <= 100:
            raise SpecError(
                "a value_percentile correlation needs 'percentile' between 0 and 100 in its condition"
            )
        percentile = float(given)
    return fields, sources, percentile


def suppressed_rule_ids(detections: Iterable[RuleMeta], specs: Iterable[CorrelationSpec]) -> frozenset[str]:
    """Ids of rules (detections and correlations) that must not be output on their own.

    A rule referenced by a correlation is not output unless some correlation referencing it
    says ``generate: true`` (the specification's default is ``generate: false``). Rules
    nobody references are always output. ``detections`` is accepted for symmetry with the
    loader (its ids are the candidates); correlation ids are included too.
    """
    spec_list = list(specs)
    candidates = {meta.id for meta in detections} | {spec.id for spec in spec_list}
    referenced: set[str] = set()
    generated: set[str] = set()
    for spec in spec_list:
        referenced.update(spec.rules)
        if spec.processes is not None:
            referenced.update(spec.processes.marker_rules)
        if spec.generate:
            generated.update(spec.rules)
    return frozenset((referenced - generated) & candidates)


def base_rule_ids(specs: Iterable[CorrelationSpec]) -> frozenset[str]:
    """Ids of the detection rules whose matches the correlations consume (feed these)."""
    spec_list = list(specs)
    correlation_ids = {spec.id for spec in spec_list}
    found = {rule for spec in spec_list for rule in spec.rules if rule not in correlation_ids}
    for spec in spec_list:
        if spec.processes is not None:
            found.update(spec.processes.marker_rules)
    return frozenset(found)
