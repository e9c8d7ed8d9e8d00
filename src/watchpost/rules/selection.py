"""Which loaded rules run: the rule filters of `hunt`, `watch` and every `rules` command.

A `RuleSelection` is a predicate on a rule's `RuleMeta` (id or name, tags, level, status,
logsource product, text, an exclusion list, the noisy-rules list). `select_rules` applies it to a
loaded `RuleSet`: `rules list` shows, and `hunt` runs, the result of the same call, so that the two
agree by construction.

Decisions:

- Filters judge the rules that can raise alerts on their own: detection rules that are output
  (not ``generate: false``, not a seed-dialect step) and correlation rules. Every filter given
  must pass; the values of one repeated filter are alternatives (``--tag a --tag b``: either).
- A correlation that is kept keeps everything it refers to (detections and correlations, through
  chains) loaded and matched, even when a filter leaves those rules out: they feed the
  correlation but raise no alert of their own. A rule that is neither chosen nor needed by a
  kept correlation is not matched at all.
- A correlation is judged on its own metadata (its tags, level, status...), not its rules', but
  for ``--product``: a correlation has no logsource, so it takes the products of the detection
  rules it refers to (through chains).
- ``--rule-id`` and the exclusion list name a rule by id or by ``name`` (case-insensitive).
  An id of the exclusion list (or of ``--rule-id``) that matches no loaded rule is a note: a
  typing mistake should not pass unseen.
- The noisy-rules list (`NOISY_RULES`, package data) names SigmaHQ rules that raise mostly on
  routine administration; those rules are left out unless ``include_noisy``. Rules of other packs
  are never on it. The Python API (``HuntOptions.selection`` None) runs every rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from watchpost.rules.model import LEVELS, LoadReport, RuleMeta, RuleProblem

if TYPE_CHECKING:
    from watchpost.correlation.spec import CorrelationSpec
    from watchpost.hunting.ruleset import RuleSet
    from watchpost.matching.model import CompiledRule

NOISY_RULES = Path(__file__).resolve().parent / "noisy_rules.txt"
STATUSES = ("stable", "test", "experimental", "deprecated", "unsupported")
"""Sigma's rule statuses (a rule without one has no status: ``--status`` never selects it)."""


@dataclass(frozen=True, slots=True)
class ListedId:
    """A rule id or name read from a list file, with where it was read (for notes)."""

    value: str
    place: str


def read_id_list(path: Path) -> list[ListedId]:
    """Rule ids of ``path``: one per line; ``#`` starts a comment; blank lines are ignored.

    Raises ``OSError``/``UnicodeDecodeError`` when the file cannot be read, ``ValueError`` naming
    the line when a line holds more than one word before its comment.
    """
    found: list[ListedId] = []
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) > 1:
            raise ValueError(f"{path}:{number}: one rule id per line (comments start with #): "
                             f"{line.strip()!r}")
        found.append(ListedId(words[0], f"{path}:{number}"))
    return found


def noisy_rule_ids() -> list[ListedId]:
    """The bundled noisy-rules list (see docs in the file)."""
    return read_id_list(NOISY_RULES)


@dataclass(frozen=True)
class RuleSelection:
    """Rule filters; the default selects every rule except the noisy ones."""

    rule_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    min_level: str | None = None
    statuses: tuple[str, ...] = ()
    exclude_statuses: tuple[str, ...] = ()
    product: str | None = None
    search: str | None = None
    excluded: tuple[ListedId, ...] = ()
    include_noisy: bool = False
    noisy: tuple[ListedId, ...] = field(default_factory=lambda: tuple(noisy_rule_ids()))

    def with_min_level(self, level: str | None) -> RuleSelection:
        """This selection with ``level`` as its minimum too (the higher of the two wins)."""
        if level is None or (self.min_level is not None and rank(self.min_level) >= rank(level)):
            return self
        return replace(self, min_level=level)

    def chooses(self, meta: RuleMeta, products: frozenset[str] | None = None) -> bool:
        """Whether ``meta`` passes every filter (the exclusion and noisy lists included).

        ``products``: the logsource products the rule stands for (default: its own)."""
        names = rule_names(meta)
        if self.rule_ids and not names & {value.lower() for value in self.rule_ids}:
            return False
        if names & {listed.value.lower() for listed in self.excluded}:
            return False
        if not self.include_noisy and names & {listed.value.lower() for listed in self.noisy}:
            return False
        return self.chooses_by_meta(meta, products)

    def chooses_by_meta(self, meta: RuleMeta, products: frozenset[str] | None = None) -> bool:
        """The filters on tags, level, status, product and text."""
        if self.tags and not any(has_tag(meta, tag) for tag in self.tags):
            return False
        if any(has_tag(meta, tag) for tag in self.exclude_tags):
            return False
        if self.levels and meta.level not in self.levels:
            return False
        if self.min_level is not None and rank(meta.level) < rank(self.min_level):
            return False
        status = (meta.status or "").lower()
        if self.statuses and status not in self.statuses:
            return False
        if status and status in self.exclude_statuses:
            return False
        if self.product is not None:
            if products is None:
                products = frozenset({dict(meta.logsource).get("product", "").lower()})
            if self.product.lower() not in products:
                return False
        if self.search is not None:
            haystack = " ".join(filter(None, (meta.id, meta.title, meta.description, meta.path))).lower()
            if self.search.lower() not in haystack:
                return False
        return True

    def is_noisy(self, meta: RuleMeta) -> bool:
        """Whether ``meta`` is on the noisy list and left out for that (switched on or not)."""
        return bool(rule_names(meta) & {listed.value.lower() for listed in self.noisy})


def rule_names(meta: RuleMeta) -> set[str]:
    """What a list may call the rule by: its id and its ``name``, lower case."""
    return {meta.id.lower()} | ({meta.name.lower()} if meta.name else set())


def rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def has_tag(meta: RuleMeta, wanted: str) -> bool:
    """``T1049`` and ``attack.t1049`` match ``attack.t1049`` and ``attack.t1049.001``."""
    wanted = wanted.lower()
    forms = {wanted, "attack." + wanted}
    for tag in (t.lower() for t in meta.tags):
        if tag in forms or any(tag.startswith(form + ".") for form in forms if form[-1:].isdigit()):
            return True
    return False


@dataclass
class Selected:
    """The rule set `select_rules` made and what the selection left out."""

    ruleset: RuleSet
    chosen: list[RuleMeta]
    """The rules that may raise alerts (output detections and correlations), in load order."""
    feeders: list[RuleMeta]
    """Rules matched only for the correlations that need them."""
    candidates: int
    """The rules that could raise alerts before the selection."""
    noisy_left_out: int
    notes: list[RuleProblem]


def select_rules(ruleset: RuleSet, selection: RuleSelection) -> Selected:
    """``ruleset`` restricted to what ``selection`` chooses (and what kept correlations need)."""
    outputs = [m for m in ruleset.metas() if m.id not in ruleset.hidden]
    products = correlation_products(ruleset)
    chosen = [m for m in outputs if selection.chooses(m, products.get(m.id))]
    needed = needed_ids({m.id for m in chosen}, ruleset)
    chosen_ids = {m.id for m in chosen}
    detections = [rule for rule in ruleset.detections if rule.meta.id in needed]
    correlations = [spec for spec in ruleset.correlations if spec.id in needed]
    feeders = [m for m in (*(r.meta for r in detections), *(c.meta for c in correlations))
               if m.id not in chosen_ids]
    noisy = 0 if selection.include_noisy else sum(
        1 for m in outputs if selection.is_noisy(m) and selection.chooses_by_meta(m, products.get(m.id)))
    notes = unmatched_ids(selection, ruleset.metas())
    if noisy:
        notes.append(RuleProblem(str(NOISY_RULES), None, f"{noisy} noisy rules left out "
                                 "(--enable-noisy-rules runs them)"))
    if len(detections) == len(ruleset.detections) and len(correlations) == len(ruleset.correlations) \
            and len(chosen) == len(outputs):
        restricted = ruleset
    else:
        restricted = restrict(ruleset, detections, correlations, chosen_ids)
    if notes:
        report = restricted.report
        restricted = replace(restricted, report=LoadReport(report.files, report.rules, list(report.problems),
                                                           [*report.notes, *notes]))
    return Selected(restricted, chosen, feeders, len(outputs), noisy, notes)


def correlation_products(ruleset: RuleSet) -> dict[str, frozenset[str]]:
    """Per correlation id, the logsource products of the detection rules it refers to."""
    detection_products = {rule.meta.id: dict(rule.meta.logsource).get("product", "").lower()
                          for rule in ruleset.detections}
    found: dict[str, frozenset[str]] = {}
    for spec in ruleset.correlations:
        referred = needed_ids({spec.id}, ruleset)
        found[spec.id] = frozenset(detection_products[r] for r in referred if r in detection_products)
    return found


def needed_ids(chosen: set[str], ruleset: RuleSet) -> set[str]:
    """``chosen`` and, through correlation chains, every rule a chosen correlation refers to."""
    by_id = {spec.id: spec for spec in ruleset.correlations}
    needed = set(chosen)
    pending = [rule_id for rule_id in chosen if rule_id in by_id]
    while pending:
        for reference in by_id[pending.pop()].rules:
            if reference not in needed:
                needed.add(reference)
                if reference in by_id:
                    pending.append(reference)
    return needed


def restrict(ruleset: RuleSet, kept_detections: Sequence[CompiledRule],
             kept_correlations: Sequence[CorrelationSpec], chosen_ids: set[str]) -> RuleSet:
    """A new `RuleSet` of the kept rules; those not chosen are hidden (they only feed)."""
    from watchpost.hunting.ruleset import RuleSet

    kept_ids = {r.meta.id for r in kept_detections} | {c.id for c in kept_correlations}
    correlation_ids = {c.id for c in kept_correlations}
    report = ruleset.report
    return RuleSet(
        detections=list(kept_detections),
        correlations=list(kept_correlations),
        hidden=frozenset(kept_ids - chosen_ids),
        correlated_ids=frozenset(r for c in kept_correlations for r in c.rules if r not in correlation_ids),
        report=LoadReport(report.files, len(kept_ids), list(report.problems), list(report.notes)),
        index=ruleset.index.restricted(kept_detections),
    )


def unmatched_ids(selection: RuleSelection, metas: Iterable[RuleMeta]) -> list[RuleProblem]:
    """Notes for the ids of ``--rule-id`` and the exclusion list that name no loaded rule."""
    known: set[str] = set()
    for meta in metas:
        known |= rule_names(meta)
    listed = [*(ListedId(value, "--rule-id") for value in selection.rule_ids), *selection.excluded]
    return [RuleProblem(item.place, None, f"rule id {item.value!r} matches no loaded rule")
            for item in listed if item.value.lower() not in known]
