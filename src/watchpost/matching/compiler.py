"""Compile a pySigma rule's parsed condition into an immutable matcher, once, at load time.

`compile_rule_condition` reads ``rule.detection.parsed_condition[i].parsed`` - the condition tree as
it is after any processing pipeline changed the rule - and OR-s the conditions of the list. pySigma
has already resolved detection names, ``1 of``/``all of``/``them`` selectors, value lists and
modifiers (``contains``/``startswith``/``endswith`` become wildcards, ``windash``/``base64offset``
become value expansions, ``base64``/``wide``/``utf16*`` become plain strings, ``all`` an AND and
``neq`` a NOT); this module maps the resulting tree onto `nodes`, `field_matchers` and
`keyword_search`:

- ``ConditionAND``/``ConditionOR``/``ConditionNOT`` -> `AllOf`/`AnyOf`/`Not`; nested operators of the
  same kind are flattened and children run cheapest first;
- ``field: value`` -> a leaf by value type; OR-ed string, number and boolean values on one field
  (same case sensitivity) merge into one `FieldText` with a combined test (frozenset for exact values,
  ``startswith``/``endswith`` tuples, ...); OR-ed ``cidr`` values on one field merge too;
- keyword values (no field) -> `KeywordText`; OR-ed keywords merge.

Semantics (Sigma specification 2.x; where it leaves a choice, the choice is stated):

- strings are case-insensitive (``str.lower`` on both sides) unless ``cased``; ``*`` and ``?`` span
  line breaks; a value matches the whole field unless wildcards say otherwise;
- a field's value may be str, int, float, bool, None or a list; lists match when any element does;
  numbers and booleans compare by their string form (``4688`` matches 4688, 4688.0 and ``"4688"``;
  ``'4688'`` matches 4688; ``true`` matches True and ``"true"``);
- ``null`` matches a missing field, None, or an empty list - not an empty string, which only ``''``
  matches; ``exists`` only asks whether the field name is present (its value may be None or empty);
- ``neq`` is pySigma's NOT around the value(s): a missing field counts as different, as with a
  ``not filter`` selection;
- ``re`` is an unanchored RE2 search, case-sensitive unless ``i``; ``m`` and ``s`` as in PCRE;
- ``cidr``: the field's text parsed as an IPv4/IPv6 address (non-addresses do not match);
- ``gt``/``gte``/``lt``/``lte``: the field read as a number (int, float, numeric or ``0x`` string);
  non-numeric values do not match;
- ``fieldref`` (also with ``startswith``/``endswith``/``contains`` and ``neq``): compares with another
  field of the same event, case-insensitively; missing fields do not match;
- time parts (``minute`` ... ``year``, also with ``gt`` & co.): the *field's* value read as a date-time
  (ISO 8601 text, epoch seconds or milliseconds), part taken as written, no time zone conversion;
  ``week`` is the ISO week number;
- keywords: the value may occur anywhere in the string form of any value of any field (full-text
  search, one field at a time).

Anything that cannot run raises `CompileError` naming the reason: unresolved ``expand`` placeholders,
value types this engine does not evaluate (e.g. pipeline query expressions), regular expressions RE2
rejects (look-arounds, back-references), field-only value types in keyword searches, conditions
pySigma cannot parse or that are empty.
"""

from __future__ import annotations

from collections.abc import Iterable

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    TimestampPart,
)

from watchpost.matching.event_values import text_of
from watchpost.matching.field_matchers import (
    Comparison,
    FieldExists,
    FieldInNetworks,
    FieldReference,
    FieldRelation,
    FieldText,
    NullValue,
    NumberCompare,
    TimePart,
    TimePartCompare,
)
from watchpost.matching.keyword_search import KeywordText
from watchpost.matching.model import CompileError, RuleMatcher
from watchpost.matching.nodes import AllOf, AnyOf, Node, Not, Nothing
from watchpost.matching.string_patterns import (
    TextPattern,
    build_text_test,
    literal_pattern,
    pattern_from_regex,
    pattern_from_string,
)
from watchpost.rules.placeholders import UndefinedPlaceholder

_COMPARISONS = {
    CompareOperators.LT: Comparison.LT,
    CompareOperators.LTE: Comparison.LTE,
    CompareOperators.GT: Comparison.GT,
    CompareOperators.GTE: Comparison.GTE,
    CompareOperators.NEQ: Comparison.NEQ,
}

_TIME_PARTS = {
    TimestampPart.MINUTE: TimePart.MINUTE,
    TimestampPart.HOUR: TimePart.HOUR,
    TimestampPart.DAY: TimePart.DAY,
    TimestampPart.WEEK: TimePart.WEEK,
    TimestampPart.MONTH: TimePart.MONTH,
    TimestampPart.YEAR: TimePart.YEAR,
}


def compile_rule_condition(rule: SigmaRule) -> RuleMatcher:
    """Compile all conditions of ``rule`` (OR-ed) into one matcher, or raise CompileError."""
    conditions = rule.detection.parsed_condition
    if not conditions:
        raise CompileError("the rule has no condition")
    roots: list[Node] = []
    for index, condition in enumerate(conditions, start=1):
        where = f"condition {index} ({condition.condition!r})" if len(conditions) > 1 else "condition"
        try:
            tree = condition.parsed
        except SigmaError as error:
            raise CompileError(f"{where} cannot be parsed: {error}") from error
        if tree is None:
            raise CompileError(f"{where} is empty")
        try:
            roots.append(compile_tree(tree))
        except CompileError as error:
            raise CompileError(f"{where}: {error}") from None
    return RuleMatcher(roots[0] if len(roots) == 1 else merge_alternatives(roots))


def compile_tree(tree: object) -> Node:
    """Compile one parsed (post-processed) pySigma condition tree."""
    if isinstance(tree, ConditionAND):
        children: list[Node] = []
        for argument in tree.args:
            child = compile_tree(argument)
            children.extend(child.children if isinstance(child, AllOf) else (child,))
        return children[0] if len(children) == 1 else AllOf(tuple(children))
    if isinstance(tree, ConditionOR):
        return merge_alternatives(compile_tree(argument) for argument in tree.args)
    if isinstance(tree, ConditionNOT):
        inner = compile_tree(tree.args[0])
        return inner.child if isinstance(inner, Not) else Not(inner)
    if isinstance(tree, ConditionFieldEqualsValueExpression):
        try:
            return compile_field_value(tree.field, tree.value)
        except CompileError as error:
            raise CompileError(f"field {tree.field!r}: {error}") from None
    if isinstance(tree, ConditionValueExpression):
        try:
            return compile_keyword_value(tree.value)
        except CompileError as error:
            raise CompileError(f"keyword search: {error}") from None
    raise CompileError(f"unsupported condition element {type(tree).__name__}")


def merge_alternatives(nodes: Iterable[Node]) -> Node:
    """OR of ``nodes``: flattens nested ORs and merges leaves that test the same field together."""
    texts: dict[tuple[str | None, bool], list[TextPattern]] = {}
    networks: dict[str, list[FieldInNetworks]] = {}
    others: list[Node] = []
    pending = list(nodes)
    while pending:
        node = pending.pop(0)
        if isinstance(node, AnyOf):
            pending[:0] = node.children
        elif isinstance(node, FieldText):
            texts.setdefault((node.field, node.cased), []).extend(node.test.patterns)
        elif isinstance(node, KeywordText):
            texts.setdefault((None, node.cased), []).extend(node.test.patterns)
        elif isinstance(node, FieldInNetworks):
            networks.setdefault(node.field, []).append(node)
        else:
            others.append(node)
    merged: list[Node] = []
    for (name, cased), patterns in texts.items():
        test = build_text_test(patterns)
        merged.append(KeywordText(cased, test) if name is None else FieldText(name, cased, test))
    for name, leaves in networks.items():
        merged.append(FieldInNetworks(name, tuple(n for leaf in leaves for n in leaf.networks)))
    merged.extend(others)
    return merged[0] if len(merged) == 1 else AnyOf(tuple(merged))


def _text_leaf(field: str | None, pattern: TextPattern, cased: bool) -> Node:
    test = build_text_test((pattern,))
    return KeywordText(cased, test) if field is None else FieldText(field, cased, test)


def _string_leaf(field: str | None, value: SigmaType) -> Node | None:
    """Leaves shared by field and keyword matching (strings, numbers, booleans, regexes).

    Keyword values (``field`` None) may occur anywhere in a field's string form, as in a full-text
    search: ``mimikatz`` finds ``Mimikatz driver``; regexes search unanchored anyway.
    """
    anywhere = field is None
    if isinstance(value, SigmaCasedString):
        return _text_leaf(field, pattern_from_string(value, True, anywhere), cased=True)
    if isinstance(value, SigmaString):
        return _text_leaf(field, pattern_from_string(value, False, anywhere), cased=False)
    if isinstance(value, SigmaRegularExpression):
        return _text_leaf(field, pattern_from_regex(value), cased=True)
    if isinstance(value, SigmaBool):
        text = "true" if value.boolean else "false"
        return _text_leaf(field, literal_pattern(text, anywhere), cased=False)
    if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart):
        return _text_leaf(field, literal_pattern(text_of(value.number) or "", anywhere), cased=False)
    return None


def compile_field_value(field: str, value: SigmaType) -> Node:
    """The leaf for ``field: value`` (one value; pySigma links value lists with AND/OR nodes)."""
    if isinstance(value, SigmaExpansion):
        return merge_alternatives(compile_field_value(field, item) for item in value.values)
    if isinstance(value, UndefinedPlaceholder):
        return Nothing(f"undefined placeholder in {value.text!r}")
    leaf = _string_leaf(field, value)
    if leaf is not None:
        return leaf
    if isinstance(value, SigmaTimestampPart):
        return TimePartCompare(field, _TIME_PARTS[value.timestamp_part], Comparison.EQ, int(value.number))
    if isinstance(value, SigmaNull):
        return NullValue(field)
    if isinstance(value, SigmaExists):
        return FieldExists(field, value.exists)
    if isinstance(value, SigmaCIDRExpression):
        return FieldInNetworks(field, (value.network,))
    if isinstance(value, SigmaCompareExpression):
        comparison = _COMPARISONS[value.op]
        bound = value.number
        if isinstance(bound, SigmaTimestampPart):
            return TimePartCompare(field, _TIME_PARTS[bound.timestamp_part], comparison, int(bound.number))
        return NumberCompare(field, comparison, bound.number)
    if isinstance(value, SigmaFieldReference):
        return FieldReference(field, value.field, _relation(value))
    raise CompileError(f"values of type {type(value).__name__} ({value!r}) cannot be evaluated")


def _relation(value: SigmaFieldReference) -> FieldRelation:
    if value.starts_with and value.ends_with:
        return FieldRelation.CONTAINS
    if value.starts_with:
        return FieldRelation.STARTSWITH
    if value.ends_with:
        return FieldRelation.ENDSWITH
    return FieldRelation.EQUALS


def compile_keyword_value(value: SigmaType) -> Node:
    """A keyword (field-less) value: strings, numbers, booleans and regexes over all fields."""
    if isinstance(value, SigmaExpansion):
        return merge_alternatives(compile_keyword_value(item) for item in value.values)
    if isinstance(value, UndefinedPlaceholder):
        return Nothing(f"undefined placeholder in {value.text!r}")
    leaf = _string_leaf(None, value)
    if leaf is None:
        raise CompileError(f"values of type {type(value).__name__} cannot be used without a field")
    return leaf
