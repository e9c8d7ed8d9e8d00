"""Converting loaded rules as a pack: output rules only, correlations through their plans.

The rules a correlation references without `generate: true` (helper rules, inner correlations)
are not output on their own, as the engine does not alert on them
(`watchpost.correlation.suppressed_rule_ids`); they are written inside their correlation's query.
`include_helpers` outputs them too. A built-in backend renders a correlation from its
`CorrelationPlan` (`convert_correlation_plan`); an installed plugin converts it its own way
(`convert_correlation_rule`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchpost.backends.correlation_plan import (
    CorrelationPlan,
    Part,
    PlanError,
    plan_correlations,
    renamed_plan,
)
from watchpost.correlation.spec import suppressed_rule_ids
from watchpost.rules.meta import describe_rule

PROBE = "watchpost_probe"


@dataclass(frozen=True, slots=True)
class ConvertedRule:
    rule: Any
    path: Path
    queries: list[Any]


@dataclass(frozen=True, slots=True)
class FailedRule:
    path: Path
    title: str
    reason: str
    kind: str = "correlation"
    """``detection`` or ``correlation``."""


@dataclass
class PackConversion:
    converted: list[ConvertedRule] = field(default_factory=list)
    failed: list[FailedRule] = field(default_factory=list)


class DetectionQueries:
    """A backend's queries for detection rules, each rule converted once (pipelines change rules)."""

    def __init__(self, backend: Any, output_format: str) -> None:
        self.backend = backend
        self.output_format = output_format
        self.cache: dict[tuple[int, bool], list[Any]] = {}

    def of(self, rule: Any, finalize: bool) -> list[Any]:
        """The rule's queries; ``finalize``: as a rule on its own (not a correlation's part)."""
        key = (id(rule), finalize)
        if key not in self.cache:
            saved = (rule._output, rule._backreferences, self.backend.finalize_correlation_subqueries)
            rule._output = True  # pySigma returns nothing for a rule only a correlation uses
            self.backend.finalize_correlation_subqueries = finalize
            try:
                self.cache[key] = list(self.backend.convert_rule(rule, self.output_format))
            finally:
                rule._output, rule._backreferences, self.backend.finalize_correlation_subqueries = saved
        return self.cache[key]

    def of_part(self, part: Part) -> list[str]:
        if part.detection is None:
            raise PlanError(f"referenced rule {part.tag} is not a loaded detection rule")
        queries = self.of(part.detection, finalize=False)
        if not queries:
            raise PlanError(f"referenced rule {part.tag} converts to no query")
        return [str(query) for query in queries]


class PipelineRenamer:
    """What a processing pipeline renames a field to in one detection rule's events.

    The correlation's group-by and measured fields are not in the referenced rules' detections, so
    the pipeline never sees them; each is probed: the rule (as loaded, before conversion changes
    it) gets one more selection naming the field, the pipeline is applied, and the selection's field
    name is read back. Rule conditions (logsource, detection items) decide as for the rule itself.
    """

    def __init__(self, pipeline: Any, rules: Sequence[Any]) -> None:
        self.pipeline = pipeline
        self.documents = {id(rule): rule.to_dict() for rule in rules}
        self.cache: dict[tuple[int, str], str] = {}

    def __call__(self, rule: Any, field: str) -> str:
        key = (id(rule), field)
        if key not in self.cache:
            self.cache[key] = self.probe(rule, field)
        return self.cache[key]

    def probe(self, rule: Any, field: str) -> str:
        from sigma.rule import SigmaDetectionItem, SigmaRule

        document = dict(self.documents[id(rule)])
        detection = {**document["detection"], PROBE: {field: PROBE}, "condition": PROBE}
        probe = SigmaRule.from_dict({**document, "detection": detection})
        self.pipeline.apply(probe)
        items = probe.detection.detections[PROBE].detection_items
        if len(items) == 1 and isinstance(items[0], SigmaDetectionItem) and items[0].field:
            return str(items[0].field)
        raise PlanError(f"the pipeline turns field {field!r} into several fields: a group key needs one")


def convert_pack(backend: Any, loaded: Any, output_format: str, include_helpers: bool) -> PackConversion:
    """Convert `load_rules`' result: every output rule, or every rule with ``include_helpers``."""
    detections = [(item.rule, item.path) for item in loaded.rules]
    correlations = [(item.rule, item.path) for item in loaded.correlations]
    plans, problems = plan_correlations(detections, correlations)
    if getattr(backend, "last_processing_pipeline", None) is None:
        backend.init_processing_pipeline(output_format)
    renamer = PipelineRenamer(backend.last_processing_pipeline, [rule for rule, _ in detections])
    result = PackConversion()
    for problem in problems:
        result.failed.append(FailedRule(Path(problem.path), problem.rule or "?", problem.reason))
    metas = [describe_rule(rule, path) for rule, path in detections]
    hidden = set() if include_helpers else suppressed_rule_ids(metas, [p.spec for p in plans.values()])
    queries = DetectionQueries(backend, output_format)
    for rule, path, plan in output_rules(detections, correlations, plans, hidden):
        try:
            if plan is not None:
                plan = renamed_plan(plan, renamer)
            found = convert_one(backend, queries, rule, plan, output_format)
        except Exception as error:  # a backend failing on one rule must not stop the others
            kind = "detection" if plan is None else "correlation"
            result.failed.append(FailedRule(path, str(rule.title), str(error), kind))
            continue
        result.converted.append(ConvertedRule(rule, path, found))
    return result


def output_rules(detections: Sequence[tuple[Any, Path]], correlations: Sequence[tuple[Any, Path]],
                 plans: dict[str, CorrelationPlan], hidden: AbstractSet[str],
                 ) -> Iterator[tuple[Any, Path, CorrelationPlan | None]]:
    """(rule, file, plan) of each rule to write, in load order; a correlation without a plan
    (it failed to compile) is left out: its problem is already reported."""
    for rule, path in detections:
        if describe_rule(rule, path).id not in hidden:
            yield rule, path, None
    for rule, path in correlations:
        rule_id = describe_rule(rule, path).id
        if rule_id not in hidden and rule_id in plans:
            yield rule, path, plans[rule_id]


def convert_one(backend: Any, queries: DetectionQueries, rule: Any, plan: CorrelationPlan | None,
                output_format: str) -> list[Any]:
    if plan is None:
        return queries.of(rule, finalize=True)
    render = getattr(backend, "convert_correlation_plan", None)
    if render is None:  # an installed plugin: its own correlation support, if any
        for part in detection_parts(plan):  # pySigma reads their conversion states
            queries.of(part.detection, finalize=False)
        return list(backend.convert_correlation_rule(rule, output_format))
    return [render(plan, queries.of_part)]


def detection_parts(plan: CorrelationPlan) -> Iterator[Part]:
    """The detection parts of a plan and of the correlations it references."""
    for part in plan.parts:
        if part.inner is not None:
            yield from detection_parts(part.inner)
        elif part.detection is not None:
            yield part
