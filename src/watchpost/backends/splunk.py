"""Splunk SPL queries for pySigma 2, in the shape of the official pysigma-backend-splunk's default format.

- `field="value"`, `*` for any characters (SPL has no single-character wildcard, so `?` becomes `*`),
  implicit AND (a space), `OR`, `NOT`; OR binds tighter than AND in SPL, so grouping follows that.
- A field's alternatives become `field IN ("a", "b*")`; numbers, `>`/`>=`/`<`/`<=`, `field=*` for
  exists, `NOT field=*` for null, `field="10.0.0.0/8"` for a network (SPL matches CIDR there).
- Regular expressions cannot be in the search itself: one that every result must match is appended
  as `| regex field="..."` (`!=` when negated); one under an OR is evaluated first with
  `| rex field=F "(?<FMatch>...)" | eval FCondition=if(isnotnull(FMatch), "true", "false")` and the
  search tests `FCondition="true"`.
- A field compared with another field (`|fieldref`) becomes `| where 'a'='b'`, refused under an OR.
- SPL values match case-insensitively, which is Sigma's default; `|cased` is refused, as is a regular
  expression with no field (a keyword `|re`), which SPL's search cannot express.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.deferred import DeferredQueryExpression, DeferredTextQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import CompareOperators, SigmaString

from watchpost.backends.correlation_plan import CorrelationPlan
from watchpost.backends.refusal import RefusingTextQueryBackend
from watchpost.backends.splunk_correlation import PartQueries, splunk_correlation

SEARCH_MARKER = "\n| search "
# Splunk's limit on a regular expression's group name.
GROUP_NAME_LIMIT = 32
# A leading `field="value"` or `field=value` term of a search.
LEADING_TERM = re.compile(r'([\w.]+)(?:="(?:[^"\\]|\\.)*"|=[^\s")]+)\s*')
# The true/false field an `| eval` of a regex-under-OR sets.
EVALUATED_FIELD = re.compile(r"^\| eval (\w+)=if\(isnotnull\(", re.MULTILINE)


@dataclass
class SplunkRegexFilter(DeferredTextQueryExpression):
    """`| regex field="re"` (or `!=`), applied after the search."""

    template: ClassVar[str] = 'regex {field}{op}"{value}"'
    operators: ClassVar[dict[bool, str]] = {False: "=", True: "!="}
    default_field: ClassVar[str | None] = "_raw"


@dataclass
class SplunkFieldRefFilter(DeferredTextQueryExpression):
    """`| where 'field'='other'`, applied after the search."""

    template: ClassVar[str] = "where {op}'{field}'='{value}'"
    operators: ClassVar[dict[bool, str]] = {False: "", True: "NOT "}
    default_field: ClassVar[str | None] = "_raw"


@dataclass
class SplunkRegexFlag(DeferredQueryExpression):
    """`| rex` capturing a regular expression's match and `| eval` of a true/false field from it.

    Used for a regular expression under an OR: the search then tests the evaluated field.
    """

    field: str
    regex: str
    number: int

    @property
    def short_field(self) -> str:
        return self.field.rsplit(".", 1)[-1]  # a rex group name cannot hold dots

    @property
    def suffix(self) -> str:
        return "" if self.number == 1 else str(self.number)

    @property
    def condition_field(self) -> str:
        return f"{self.short_field}Condition{self.suffix}"

    @property
    def group_name(self) -> str:
        tail = f"Match{self.suffix}"
        name = self.short_field + tail
        if len(name) <= GROUP_NAME_LIMIT:
            return name
        digest = hashlib.blake2s(self.short_field.encode()).hexdigest()[:8]
        return self.short_field[:max(GROUP_NAME_LIMIT - len(tail) - len(digest), 0)] + digest + tail

    def finalize_expression(self) -> str:
        group = self.group_name
        return (f'rex field={self.field} "(?<{group}>{self.regex})"\n'
                f'| eval {self.condition_field}=if(isnotnull({group}), "true", "false")')


class SplunkBackend(RefusingTextQueryBackend):
    """Splunk SPL (watchpost's pySigma 2 backend, after the official pysigma-backend-splunk)."""

    name: ClassVar[str] = "Splunk SPL (watchpost built-in)"
    identifier: ClassVar[str] = "splunk"
    formats: ClassVar[dict[str, str]] = {"default": "Plain SPL queries"}
    requires_pipeline: ClassVar[bool] = False

    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT, ConditionOR, ConditionAND)
    group_expression: ClassVar[str] = "({expr})"
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = " "
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = "="
    bool_values: ClassVar[dict[bool, str | None]] = {True: "true", False: "false"}

    field_quote: ClassVar[str] = '"'
    field_quote_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^[\w.]+$")
    str_quote: ClassVar[str] = '"'
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "*"
    wildcard_single: ClassVar[str] = "*"
    add_escaped: ClassVar[str] = "\\"

    re_expression: ClassVar[str] = "{regex}"
    re_escape_char: ClassVar[str] = "\\"
    re_escape: ClassVar[list[str]] = ['"']
    cidr_expression: ClassVar[str] = '{field}="{value}"'
    compare_op_expression: ClassVar[str] = "{field}{operator}{value}"
    compare_operators: ClassVar[dict[CompareOperators, str]] = {
        CompareOperators.LT: "<",
        CompareOperators.LTE: "<=",
        CompareOperators.GT: ">",
        CompareOperators.GTE: ">=",
    }
    field_equals_field_expression: ClassVar[str] = "{field2}"
    field_null_expression: ClassVar[str] = "NOT {field}=*"
    field_exists_expression: ClassVar[str] = "{field}=*"
    field_not_exists_expression: ClassVar[str] = "NOT {field}=*"

    convert_or_as_in: ClassVar[bool] = True
    convert_and_as_in: ClassVar[bool] = False
    in_expressions_allow_wildcards: ClassVar[bool] = True
    field_in_list_expression: ClassVar[str] = "{field} {op} ({list})"
    or_in_operator: ClassVar[str] = "IN"
    list_separator: ClassVar[str] = ", "

    unbound_value_str_expression: ClassVar[str] = "{value}"
    unbound_value_num_expression: ClassVar[str] = "{value}"

    deferred_start: ClassVar[str] = "\n| "
    deferred_separator: ClassVar[str] = "\n| "
    deferred_only_query: ClassVar[str] = "*"

    def convert_condition_field_eq_val_re(self, cond: ConditionFieldEqualsValueExpression,
                                          state: ConversionState) -> str | DeferredQueryExpression:
        regex = super().convert_condition_field_eq_val_re(cond, state)
        if not isinstance(regex, str):  # pragma: no cover - the template makes a string
            return regex
        if not cond.parent_condition_chain_contains(ConditionOR):
            return SplunkRegexFilter(state, cond.field, regex)
        number = 1 + sum(isinstance(item, SplunkRegexFlag) and item.field == cond.field
                         for item in state.deferred)
        flag = SplunkRegexFlag(state, cond.field, regex, number)
        matched = ConditionFieldEqualsValueExpression(flag.condition_field, SigmaString("true"))
        return self.convert_condition_field_eq_val_str(matched, state)

    def convert_condition_field_eq_field(self, cond: ConditionFieldEqualsValueExpression,
                                         state: ConversionState) -> str | DeferredQueryExpression:
        if cond.parent_condition_chain_contains(ConditionOR):
            raise SigmaFeatureNotSupportedByBackendError(
                "Splunk cannot compare two fields (|fieldref) under an OR: the comparison is a "
                "`| where` after the search", source=cond.source)
        other = super().convert_condition_field_eq_field(cond, state)
        if not isinstance(other, str):  # pragma: no cover - the template makes a string
            return other
        return SplunkFieldRefFilter(state, cond.field, other)

    def convert_condition_val_re(self, cond: ConditionValueExpression,
                                 state: ConversionState) -> str | DeferredQueryExpression:
        raise SigmaFeatureNotSupportedByBackendError(
            "Splunk's search cannot match a regular expression against no field (a keyword |re)",
            source=cond.source)

    def finish_query(self, rule: Any, query: Any, state: ConversionState) -> Any:
        if isinstance(query, DeferredQueryExpression):
            query = self.deferred_only_query
        flags = [item for item in state.deferred if isinstance(item, SplunkRegexFlag)]
        if flags:
            state.deferred[:] = [item for item in state.deferred if not isinstance(item, SplunkRegexFlag)]
            query = (self.deferred_start + self.deferred_separator.join(
                flag.finalize_expression() for flag in flags) + SEARCH_MARKER + query)
        return super().finish_query(rule, query, state)

    def convert_correlation_plan(self, plan: CorrelationPlan, queries: PartQueries) -> str:
        """A correlation rule as one SPL search (watchpost.backends.splunk_correlation)."""
        return splunk_correlation(plan, queries)

    def finalize_query_default(self, rule: Any, query: Any, index: int, state: ConversionState) -> Any:
        if isinstance(query, str) and query.startswith(self.deferred_start) and SEARCH_MARKER in query:
            query = move_plain_terms_first(query)
        if isinstance(rule, SigmaRule) and rule.fields:
            return query + " | table " + ",".join(rule.fields)
        return query


def move_plain_terms_first(query: str) -> str:
    """Put the search's leading `field=value` terms before the `| rex` commands.

    Splunk then narrows the events by them before evaluating regular expressions. A term is moved
    only while it is ANDed with the rest (not followed by OR) and is not one of the evaluated fields.
    """
    rex_part, search = query.split(SEARCH_MARKER, 1)
    condition_fields = set(EVALUATED_FIELD.findall(rex_part))
    moved: list[str] = []
    position = 0
    while (term := LEADING_TERM.match(search, position)) and term.group(1) not in condition_fields:
        if search.startswith("OR ", term.end()):
            break
        moved.append(term.group().strip())
        position = term.end()
    if not moved:
        return query
    return " ".join(moved) + rex_part + SEARCH_MARKER + search[position:]
