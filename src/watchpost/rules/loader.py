"""Load Sigma rules with pySigma, one bad rule or file never stopping the others.

`load_rules` reads the files (`watchpost.rules.documents`: discovery, YAML, collection actions,
translators), parses each document as a detection rule, correlation rule or meta filter, and
puts what parsed into one `SigmaCollection`. Each failure is a `RuleProblem(path, rule, reason)`.

Decisions:

- A rule is rejected when pySigma reports any error for it, or when one of its conditions does
  not parse (unknown detection name, bad syntax): such a rule could never run.
- Duplicate rule ids (and duplicate ``name``s, which correlations refer to) across the loaded
  files: the first one in load order (paths in the order given, files sorted) is kept, each later
  one is reported and skipped. Two rules with one id would make correlation references and alert
  ids ambiguous.
- Meta filters are applied to the detection rules they select (pySigma's ``apply_on_rule``, in
  place), as Sigma defines; they are also returned.
- A correlation that refers to a rule that did not load (missing, or itself rejected) is reported
  and skipped, and so is a correlation that refers to such a correlation. The rest are resolved
  with ``SigmaCollection.resolve_rule_references()``; rules only a correlation uses
  (``generate: false``) are marked ``output=False``.
- Rule files are bounded before pySigma sees them (`watchpost.rules.rule_yaml`: file size,
  integer length, dates that cannot be); a file or document that makes PyYAML or pySigma fail
  in any other way (RecursionError on deep nesting...) is reported with the reason and costs
  only itself. pySigma's regex check runs on RE2 with its logging off (`regex_policy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from watchpost.rules.documents import (
    RuleDocument,
    Translator,
    find_rule_files,
    read_documents,
    sigma_message,
)
from watchpost.rules.model import READING, LoadProgress, LoadReport, RuleProblem, failure_reason
from watchpost.rules.modifiers import register_modifier_aliases
from watchpost.rules.regex_policy import quiet_regex_checks

ParsedItem = SigmaRule | SigmaCorrelationRule | SigmaFilter


@dataclass(frozen=True, slots=True)
class LoadedRule:
    """A detection rule and its file; ``output`` is False for rules only correlations use."""

    rule: SigmaRule
    path: Path
    output: bool = True


@dataclass(frozen=True, slots=True)
class LoadedCorrelation:
    rule: SigmaCorrelationRule
    path: Path


@dataclass(frozen=True, slots=True)
class LoadedFilter:
    filter: SigmaFilter
    path: Path


@dataclass
class LoadedRules:
    """Everything `load_rules` found: rules by kind, each with its file, and the problems."""

    rules: list[LoadedRule] = field(default_factory=list)
    correlations: list[LoadedCorrelation] = field(default_factory=list)
    filters: list[LoadedFilter] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    files: int = 0
    collection: SigmaCollection = field(default_factory=lambda: SigmaCollection([]))

    def report(self) -> LoadReport:
        return LoadReport(
            files=self.files,
            rules=len(self.rules) + len(self.correlations),
            problems=list(self.problems),
        )


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    item: ParsedItem
    path: Path


def load_rules(
    paths: Sequence[Path], translators: Sequence[Translator] = (), progress: LoadProgress | None = None
) -> LoadedRules:
    """Load every rule under ``paths`` (files or directories).

    ``progress`` is told ``("reading rule files", files read, files)`` after each file.
    """
    register_modifier_aliases()  # modifier names of the Sigma spec that pySigma lacks
    quiet_regex_checks()  # RE2 must not print a rule's invalid regex raw to standard error
    problems: list[RuleProblem] = []
    files = find_rule_files(paths, problems)
    parsed: list[ParsedDocument] = []
    for done, path in enumerate(files, start=1):
        parsed.extend(parse_file(path, translators, problems))
        if progress is not None:
            progress(READING, done, len(files))
    unique = drop_duplicates(parsed, problems)
    loaded = assemble(unique, problems)
    loaded.files = len(files)
    return loaded


def parse_file(
    path: Path, translators: Sequence[Translator], problems: list[RuleProblem]
) -> list[ParsedDocument]:
    """The parsed documents of one file; an unexpected failure costs this file only, reported."""
    parsed: list[ParsedDocument] = []
    try:
        for document in read_documents(path, translators, problems):
            item = parse_document(document, problems)
            if item is not None:
                parsed.append(ParsedDocument(item, path))
    except MemoryError:
        raise
    except Exception as error:  # a hostile rule file (RecursionError, ValueError...) costs only itself
        reason = f"cannot load: {failure_reason(error)}"
        problems.append(RuleProblem(str(path), None, reason))
    return parsed


def parse_document(document: RuleDocument, problems: list[RuleProblem]) -> ParsedItem | None:
    """The pySigma object of one document, or None (with a problem) when it is invalid."""
    content = document.content
    source = SigmaRuleLocation(document.path)
    item: ParsedItem
    try:
        if "correlation" in content:
            item = SigmaCorrelationRule.from_dict(content, collect_errors=True, source=source)
        elif "filter" in content:
            item = SigmaFilter.from_dict(content, collect_errors=True, source=source)
        else:
            item = SigmaRule.from_dict(content, collect_errors=True, source=source)
        reasons = [sigma_message(error) for error in item.errors]
        if not reasons and isinstance(item, SigmaRule):
            reasons = condition_errors(item)
    except SigmaError as error:
        reasons = [sigma_message(error)]
    except Exception as error:  # pySigma raising on odd input must not stop the other rules
        reasons = [failure_reason(error)]
    if reasons:
        reason = "invalid rule: " + "; ".join(dict.fromkeys(reasons))
        if document.number > 1:
            reason = f"document {document.number}: {reason}"
        problems.append(RuleProblem(str(document.path), document.label, reason))
        return None
    return item


def condition_errors(rule: SigmaRule) -> list[str]:
    """Why the rule's conditions do not parse (empty when they all do)."""
    errors: list[str] = []
    for condition in rule.detection.parsed_condition:
        try:
            condition.parse()
        except SigmaError as error:
            errors.append(f"condition '{condition.condition}': {sigma_message(error)}")
    return errors


def drop_duplicates(parsed: list[ParsedDocument], problems: list[RuleProblem]) -> list[ParsedDocument]:
    """Keep the first of each rule id and name, report and skip the later ones."""
    first_ids: dict[UUID | str, Path] = {}
    first_names: dict[str, Path] = {}
    kept: list[ParsedDocument] = []
    for entry in parsed:
        item = entry.item
        clash = None
        if item.id is not None and item.id in first_ids:
            clash = f"duplicate rule id {item.id}: already loaded from {first_ids[item.id]}"
        elif item.name is not None and item.name in first_names:
            clash = f"duplicate rule name '{item.name}': already loaded from {first_names[item.name]}"
        if clash is not None:
            problems.append(RuleProblem(str(entry.path), item.title or None, f"{clash}; skipped"))
            continue
        if item.id is not None:
            first_ids[item.id] = entry.path
        if item.name is not None:
            first_names[item.name] = entry.path
        kept.append(entry)
    return kept


def assemble(parsed: list[ParsedDocument], problems: list[RuleProblem]) -> LoadedRules:
    """Apply filters, drop unresolvable correlations, build and resolve the collection."""
    rules = [(entry.item, entry.path) for entry in parsed if isinstance(entry.item, SigmaRule)]
    filters = [(entry.item, entry.path) for entry in parsed if isinstance(entry.item, SigmaFilter)]
    correlations = [
        (entry.item, entry.path) for entry in parsed if isinstance(entry.item, SigmaCorrelationRule)
    ]
    apply_filters(filters, [rule for rule, _ in rules], problems)
    correlations = resolvable_correlations(correlations, [rule for rule, _ in rules], problems)
    collection = SigmaCollection(
        [*(rule for rule, _ in rules), *(rule for rule, _ in correlations)],
        resolve_references=False,
    )
    try:
        collection.resolve_rule_references()
    except SigmaError as error:  # not expected after the checks above; keep the detection rules
        for correlation, path in correlations:
            reason = f"cannot resolve rule references: {sigma_message(error)}"
            problems.append(RuleProblem(str(path), correlation.title, reason))
        correlations = []
        collection = SigmaCollection([rule for rule, _ in rules], resolve_references=False)
    output = {id(rule) for rule in collection.get_output_rules()}
    return LoadedRules(
        rules=[LoadedRule(rule, path, id(rule) in output) for rule, path in rules],
        correlations=[LoadedCorrelation(rule, path) for rule, path in correlations],
        filters=[LoadedFilter(item, path) for item, path in filters],
        problems=problems,
        collection=collection,
    )


def apply_filters(
    filters: list[tuple[SigmaFilter, Path]], rules: list[SigmaRule], problems: list[RuleProblem]
) -> None:
    """Apply each meta filter to the rules it selects (in place); a failing filter is reported."""
    for sigma_filter, path in filters:
        for rule in rules:
            try:
                sigma_filter.apply_on_rule(rule)
            except Exception as error:  # a bad filter must not stop loading
                reason = f"filter cannot be applied to rule '{rule.title}': {error}"
                problems.append(RuleProblem(str(path), sigma_filter.title, reason))
                break


def resolvable_correlations(
    correlations: list[tuple[SigmaCorrelationRule, Path]],
    rules: list[SigmaRule],
    problems: list[RuleProblem],
) -> list[tuple[SigmaCorrelationRule, Path]]:
    """The correlations whose references all resolve; the others are reported."""
    ids = {rule.id for rule in rules if isinstance(rule.id, UUID)}
    names = {rule.name for rule in rules if rule.name is not None}
    remaining = list(correlations)
    for correlation, _ in remaining:
        if isinstance(correlation.id, UUID):
            ids.add(correlation.id)
        if correlation.name is not None:
            names.add(correlation.name)
    changed = True
    while changed:
        changed = False
        for entry in list(remaining):
            correlation, path = entry
            missing = [ref for ref in rule_references(correlation) if not resolves(ref, ids, names)]
            if not missing:
                continue
            reason = "refers to rules that are not loaded: " + ", ".join(missing)
            problems.append(RuleProblem(str(path), correlation.title, reason))
            remaining.remove(entry)
            if isinstance(correlation.id, UUID):
                ids.discard(correlation.id)
            if correlation.name is not None:
                names.discard(correlation.name)
            changed = True
    return remaining


def rule_references(correlation: SigmaCorrelationRule) -> list[str]:
    """The rule ids/names a correlation refers to (its ``rules`` or its extended condition)."""
    if correlation.rules is not None:
        return [reference.reference for reference in correlation.rules]
    if isinstance(correlation.condition, SigmaExtendedCorrelationCondition):
        return list(correlation.condition.get_referenced_rules())
    return []


def resolves(reference: str, ids: set[UUID], names: set[str]) -> bool:
    """Whether pySigma's lookup (UUID first, else name) would find ``reference``."""
    try:
        return UUID(reference) in ids
    except ValueError:
        return reference in names
