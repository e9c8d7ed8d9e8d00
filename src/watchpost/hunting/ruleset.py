"""A loaded, compiled and indexed set of rules: what the engine runs.

Loading (pySigma, `rules/`) -> logsource variants (`rules/logsources.py`) -> compiled matchers
(`matching/`) -> an index that hands each event only the rule variants its logsource and
Channel/EventID admit. Every rule that cannot run is kept as a `RuleProblem` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from watchpost.events import Event, LogsourceHint
from watchpost.matching.literal_prefilter import FieldScans, LiteralPrefilter
from watchpost.matching.model import CompiledRule, CompiledVariant, CompileError
from watchpost.matching.nodes import literal_selectivity
from watchpost.rules.model import (
    COMPILING,
    LoadProgress,
    LoadReport,
    RuleMeta,
    RuleProblem,
    failure_reason,
)

if TYPE_CHECKING:  # pySigma: only loading rules needs it, never a cached start
    from watchpost.correlation.spec import CorrelationSpec
    from watchpost.rules.documents import Translator

INDEXED_FIELDS = frozenset({"Channel", "EventID"})
"""Fields `RuleIndex` selects candidates on; the literal prefilter looks at the others."""

IndexKey = tuple[str | None, str | None, str | None, str, str]


Requirement = tuple[frozenset[tuple[str, str]], ...]
"""A variant's literal sets (`literal_requirement`); empty when it requires none."""


@dataclass(frozen=True, slots=True)
class IndexedVariant:
    """A variant with the Channel/EventID values it requires (None: any) and its literal sets
    (`literal_requirement`), derived once when the index is built and pickled with it: the
    prefilter and the record gates start from them without walking the condition trees."""

    rule: CompiledRule
    variant: CompiledVariant
    channels: frozenset[str] | None
    event_ids: frozenset[str] | None
    literals: Requirement = ()

    def admits(self, hint: LogsourceHint, channel: str, event_id: str) -> bool:
        return (
            self.variant.gate.admits(hint)
            and (self.channels is None or channel in self.channels)
            and (self.event_ids is None or event_id in self.event_ids)
        )


class KeyPlan(NamedTuple):
    """The candidates for one index key, split for the literal prefilter."""

    variants: tuple[IndexedVariant, ...]  # every candidate, in rule order
    always: frozenset[int]  # positions of candidates without a literal requirement
    filtered: frozenset[int]  # positions of candidates the prefilter may rule out
    scans: FieldScans  # what the prefilter scans for this key


class RuleIndex:
    """Selects, per event, the rule variants that can match it.

    The key is the event's logsource hint plus its Channel and EventID; the candidate list for a
    key is computed once and cached (real logs have a few hundred distinct keys at most). Among
    a key's candidates, those that require literals (`LiteralPrefilter`) are evaluated only when
    the event holds one of them; ``prefilter=False`` evaluates every candidate (same results).
    """

    def __init__(self, rules: Sequence[CompiledRule], prefilter: bool = True) -> None:
        self._variants = [index_variant(rule, variant) for rule in rules for variant in rule.variants]
        self._use_prefilter = prefilter
        self._cache: dict[IndexKey, KeyPlan] = {}
        self._prefilter = self._build_prefilter()
        self._selectors = _Selectors(self._variants)

    def _build_prefilter(self) -> LiteralPrefilter | None:
        if not self._use_prefilter:
            return None
        return LiteralPrefilter([variant.literals for variant in self._variants])

    def __getstate__(self) -> dict[str, Any]:
        # The automata are rebuilt from the variants' literal sets rather than pickled (faster than
        # unpickling them); plans are per run.
        return {"_variants": self._variants, "_use_prefilter": self._use_prefilter}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._variants = state["_variants"]
        self._use_prefilter = state["_use_prefilter"]
        self._cache = {}
        self._prefilter = self._build_prefilter()
        self._selectors = _Selectors(self._variants)

    def restricted(self, rules: Sequence[CompiledRule]) -> RuleIndex:
        """An index of ``rules`` only (a subset of this one's), reusing the indexed variants: the
        condition trees are not walked again (`watchpost.rules.selection`)."""
        kept = {id(rule) for rule in rules}
        subset = RuleIndex.__new__(RuleIndex)
        subset.__setstate__({"_variants": [v for v in self._variants if id(v.rule) in kept],
                             "_use_prefilter": self._use_prefilter})
        return subset

    @property
    def variants(self) -> tuple[IndexedVariant, ...]:
        """Every indexed variant, whatever key it answers (raw-record gates need them all)."""
        return tuple(self._variants)

    def candidates(self, event: Event) -> tuple[IndexedVariant, ...]:
        return self._plan(event).variants

    def _plan(self, event: Event) -> KeyPlan:
        hint = event.logsource
        fields = event.fields
        channel = fields.get("Channel")
        channel_key = channel.lower() if isinstance(channel, str) else ""
        event_id = fields.get("EventID")
        event_id_key = "" if event_id is None else str(event_id)
        key = (hint.product, hint.service, hint.category, channel_key, event_id_key)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._make_plan(hint, channel_key, event_id_key)
        return found

    def _make_plan(self, hint: LogsourceHint, channel: str, event_id: str) -> KeyPlan:
        positions = self._selectors.admitting(hint, channel, event_id)
        variants = tuple(self._variants[n] for n in positions)
        prefilter = self._prefilter
        if prefilter is None:
            return KeyPlan(variants, frozenset(positions), frozenset(), FieldScans((), False))
        filtered = prefilter.filtered.intersection(positions)
        return KeyPlan(variants, frozenset(positions) - filtered, filtered, prefilter.fields_for(filtered))

    def admitted_pairs(self, hint: LogsourceHint) -> frozenset[tuple[str | None, str | None]] | None:
        """The (Channel lower-cased, EventID) pairs some variant admits for events of ``hint``.

        None on either side of a pair stands for "any value"; None for the whole set means
        that some variant admits every event. Readers use these to skip, undecoded, records
        no rule can match.
        """
        pairs: set[tuple[str | None, str | None]] = set()
        for variant in self._variants:
            if not variant.variant.gate.admits(hint):
                continue
            channels: Iterable[str | None] = variant.channels if variant.channels is not None else (None,)
            event_ids: Iterable[str | None] = variant.event_ids if variant.event_ids is not None else (None,)
            pairs.update((channel, event_id) for channel in channels for event_id in event_ids)
        return None if (None, None) in pairs else frozenset(pairs)

    def match(self, event: Event) -> Iterator[CompiledRule]:
        """The rules that match ``event``, each once, in rule order."""
        plan = self._plan(event)
        candidates: Iterable[IndexedVariant]
        if plan.filtered and self._prefilter is not None:
            passing = self._prefilter.passing(event, plan.scans, plan.filtered)
            variants = self._variants
            candidates = [variants[n] for n in sorted(plan.always.union(passing))]
        else:
            candidates = plan.variants
        last: CompiledRule | None = None
        for candidate in candidates:
            rule = candidate.rule
            if rule is last:
                continue
            if candidate.variant.matcher.matches(event):
                last = rule
                yield rule


class _Selectors:
    """Variant positions by required Channel, by required EventID and by logsource gate, so that
    a new index key costs a few set operations instead of one `IndexedVariant.admits` per variant
    (151 keys x 4,423 SigmaHQ variants took 0.4 s per process)."""

    def __init__(self, variants: Sequence[IndexedVariant]) -> None:
        self.by_channel: dict[str | None, set[int]] = {None: set()}
        self.by_event_id: dict[str | None, set[int]] = {None: set()}
        self.by_gate: dict[Any, set[int]] = {}
        for position, variant in enumerate(variants):
            for channel in variant.channels if variant.channels is not None else (None,):
                self.by_channel.setdefault(channel, set()).add(position)
            for event_id in variant.event_ids if variant.event_ids is not None else (None,):
                self.by_event_id.setdefault(event_id, set()).add(position)
            self.by_gate.setdefault(variant.variant.gate, set()).add(position)

    def admitting(self, hint: LogsourceHint, channel: str, event_id: str) -> list[int]:
        """Positions of the variants `IndexedVariant.admits` (hint, channel, event_id), in order."""
        found = self.by_channel[None] | self.by_channel.get(channel, set())
        found &= self.by_event_id[None] | self.by_event_id.get(event_id, set())
        gated: set[int] = set()
        for gate, positions in self.by_gate.items():
            if gate.admits(hint):
                gated |= positions
        return sorted(found & gated)


def index_variant(rule: CompiledRule, variant: CompiledVariant) -> IndexedVariant:
    required = required_equalities(variant)
    channels = required.get("Channel")
    event_ids = required.get("EventID")
    return IndexedVariant(rule, variant, channels, event_ids, literal_requirement(variant))


def literal_requirement(variant: CompiledVariant) -> Requirement:
    """The variant's literal sets (`Node.required_literal_sets`), the most selective first."""
    probe = getattr(variant.matcher, "required_literal_sets", None)
    if probe is None:
        return ()
    found: tuple[frozenset[tuple[str, str]], ...] = probe(INDEXED_FIELDS)
    if not found:
        return ()
    first = max(found, key=literal_selectivity)
    return (first, *(literals for literals in found if literals is not first))


def required_equalities(variant: CompiledVariant) -> dict[str, frozenset[str]]:
    probe = getattr(variant.matcher, "required_equalities", None)
    if probe is None:
        return {}
    found: dict[str, frozenset[str]] = probe()
    return found


@dataclass
class RuleSet:
    """Everything loaded from a set of rule paths."""

    detections: list[CompiledRule] = field(default_factory=list)
    correlations: list[CorrelationSpec] = field(default_factory=list)
    hidden: frozenset[str] = frozenset()  # detection rule ids not output on their own
    correlated_ids: frozenset[str] = frozenset()  # detection rule ids whose matches correlations use
    report: LoadReport = field(default_factory=LoadReport)
    index: RuleIndex = field(default_factory=lambda: RuleIndex(()))

    @property
    def problems(self) -> list[RuleProblem]:
        return self.report.problems

    def metas(self) -> list[RuleMeta]:
        return [rule.meta for rule in self.detections] + [c.meta for c in self.correlations]

    def detection_ids(self) -> tuple[str, ...]:
        """One key per detection rule, in order: its rule id, with ``#2``, ``#3``... appended to
        a repeated id (two files may carry the same id). Detections name their matches by it
        (`watchpost.hunting.detection`), so that a match means the same rule in every process."""
        found = self.__dict__.get("_detection_ids")
        if found is None:
            seen: dict[str, int] = {}
            keys: list[str] = []
            for rule in self.detections:
                count = seen[rule.meta.id] = seen.get(rule.meta.id, 0) + 1
                keys.append(rule.meta.id if count == 1 else f"{rule.meta.id}#{count}")
            found = self.__dict__["_detection_ids"] = tuple(keys)
        return cast(tuple[str, ...], found)

    def to_bytes(self) -> bytes:
        """The rule set in the rule cache's fast pickled form (`rule_cache.dumps`): what is sent
        once to worker processes and Spark executors. Read back with `from_bytes`."""
        from watchpost.hunting.rule_cache import dumps

        return dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> RuleSet:
        """A rule set from `to_bytes`; raises ValueError when ``data`` holds anything else."""
        from watchpost.hunting.rule_cache import loads

        try:
            found = loads(data)
        except Exception as error:
            raise ValueError(f"not a serialized rule set: {error}") from error
        if not isinstance(found, cls):
            raise ValueError(f"not a serialized rule set: {type(found).__name__}")
        return found


def compile_detection(rule: Any, path: Path, problems: list[RuleProblem]) -> CompiledRule | None:
    """Logsource variants of one pySigma rule, compiled; None (with a problem) when it can't run."""
    from watchpost.matching import compile_rule_condition
    from watchpost.rules.logsources import UnsupportedLogsource, resolve_variants
    from watchpost.rules.meta import describe_rule

    meta = describe_rule(rule, path)
    try:
        variants = resolve_variants(rule)
    except UnsupportedLogsource as error:
        problems.append(RuleProblem(str(path), meta.title, f"logsource: {error}"))
        return None
    compiled: list[CompiledVariant] = []
    for variant in variants:
        try:
            matcher = compile_rule_condition(variant.rule)
        except CompileError as error:
            problems.append(RuleProblem(str(path), meta.title, str(error)))
            return None
        except MemoryError:
            raise
        except Exception as error:  # a hostile rule (RecursionError, OverflowError...) costs only itself
            reason = f"cannot compile: {failure_reason(error)}"
            problems.append(RuleProblem(str(path), meta.title, reason))
            return None
        compiled.append(CompiledVariant(variant.label, variant.gate, matcher))
    return CompiledRule(meta, tuple(compiled))


def default_translators() -> list[Translator]:
    """Loader hooks that turn non-standard documents into standard Sigma before pySigma reads them."""
    from watchpost.correlation import split_range_condition
    from watchpost.rules.seed import translate_seed_document

    return [translate_seed_document, split_range_condition]


def load_ruleset(
    paths: Sequence[Path], placeholders: Path | None = None, progress: LoadProgress | None = None
) -> RuleSet:
    """Load, resolve, compile and index the rules under ``paths``; problems are kept, not raised.

    A rule set that took a while to build is cached on disk (`watchpost.hunting.rule_cache`): a repeat
    run over unchanged rule files unpickles it instead. ``progress`` (`LoadProgress`) is told the
    files read, then the rules compiled, as the set is built (not called on a cached start);
    `watchpost.progress.rule_load_progress` shows it on a terminal.
    """
    from watchpost.hunting.rule_cache import cached

    return cached(list(paths), placeholders, RuleSet, lambda: build_ruleset(paths, placeholders, progress))


def build_ruleset(
    paths: Sequence[Path], placeholders: Path | None = None, progress: LoadProgress | None = None
) -> RuleSet:
    """`load_ruleset` without the cache."""
    from watchpost.correlation import base_rule_ids, compile_correlations, suppressed_rule_ids
    from watchpost.rules.loader import load_rules
    from watchpost.rules.meta import describe_rule
    from watchpost.rules.placeholders import mark_undefined_placeholders, resolve_placeholders

    loaded = load_rules(paths, translators=default_translators(), progress=progress)
    report = loaded.report()
    values = None if placeholders is None else placeholder_values(placeholders, report)
    detections: list[CompiledRule] = []
    for done, item in enumerate(loaded.rules):
        if progress is not None:
            progress(COMPILING, done, len(loaded.rules))
        rule = item.rule if values is None else resolve_placeholders(item.rule, values)
        undefined = mark_undefined_placeholders(rule)
        if undefined:
            names = ", ".join(f"%{name}%" for name in undefined)
            report.notes.append(RuleProblem(str(item.path), rule.title, f"placeholder {names} not defined "
                                            "(--placeholders FILE): read as an empty list, matching nothing"))
        compiled = compile_detection(rule, item.path, report.problems)
        if compiled is not None:
            detections.append(compiled)
    if progress is not None:
        progress(COMPILING, len(loaded.rules), len(loaded.rules))
    metas = [rule.meta for rule in detections]
    specs, problems = compile_correlations([(c.rule, c.path) for c in loaded.correlations], metas)
    report.problems.extend(problems)
    report.rules = len(detections) + len(specs)
    # Rules only correlations use stay hidden only while one of those correlations runs: a refused
    # correlation (a timespan out of bounds...) must not take its base rules' alerts with it.
    referenced = {rule_id for spec in specs for rule_id in spec.rules}
    not_output = {describe_rule(i.rule, i.path).id for i in loaded.rules if not i.output} & referenced
    hidden = suppressed_rule_ids(metas, specs) | not_output
    return RuleSet(
        detections=detections,
        correlations=list(specs),
        hidden=frozenset(hidden),
        correlated_ids=base_rule_ids(specs),
        report=report,
        index=RuleIndex(detections),
    )


def placeholder_values(path: Path, report: LoadReport) -> dict[str, list[str]] | None:
    """The values of the placeholder file ``path``; None, with a problem, when it cannot be used
    (the placeholders then read as empty lists, each rule using one noted)."""
    from watchpost.rules.placeholders import PlaceholderFileError, load_placeholders

    try:
        return load_placeholders(path)
    except PlaceholderFileError as error:
        report.problems.append(RuleProblem(str(path), None, str(error).removeprefix(f"{path}: ")))
        return None
