"""Elasticsearch query strings (Lucene syntax) for pySigma 2, as the official `lucene` backend writes them.

- `field:value` joined with `AND`/`OR`/`NOT`, every AND/OR group parenthesised; a field's
  alternatives as `field:(a OR b*)`.
- Values escape Lucene's reserved characters (`+ - = & | ! ( ) { } [ ] < > ^ " ~ * ? : \\ /` and
  space) with `\\`; `*` and `?` stay wildcards; a plain value with spaces is a phrase `"a b"`; the empty
  string is `""`. Field names escape spaces and `*`.
- `field:/regex/` (Lucene's regular expression dialect: the rule's regex is passed on as written, with
  `/` escaped and flags as a `(?i)` prefix, as the official backend does), `field:10.0.0.0\\/8` for a
  network (Elasticsearch matches CIDR on `ip` fields), `field:>5` comparisons, `_exists_:field` for
  exists, `NOT _exists_:field` for null; keywords become `*value*`.
- Case: Elasticsearch matches as the index's field mapping says (keyword fields are case-sensitive),
  the official backend does nothing about it and neither does this one. `|cased`, `|fieldref` and a
  regular expression without a field are refused: a query string cannot express them.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import CompareOperators, SigmaCIDRExpression, SigmaExpansion, SigmaNull, SigmaString

from watchpost.backends.correlation_plan import PlanError
from watchpost.backends.refusal import RefusingTextQueryBackend


def is_null_test(cond: Any) -> bool:
    return isinstance(cond, ConditionFieldEqualsValueExpression) and isinstance(cond.value, SigmaNull)


class LuceneBackend(RefusingTextQueryBackend):
    """Elasticsearch Lucene query strings (watchpost's pySigma 2 backend, after the official one)."""

    name: ClassVar[str] = "Elasticsearch Lucene (watchpost built-in)"
    identifier: ClassVar[str] = "lucene"
    formats: ClassVar[dict[str, str]] = {"default": "Plain Elasticsearch Lucene queries"}
    requires_pipeline: ClassVar[bool] = False

    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT, ConditionOR, ConditionAND)
    group_expression: ClassVar[str] = "({expr})"
    parenthesize: bool = True
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = ":"
    bool_values: ClassVar[dict[bool, str | None]] = {True: "true", False: "false"}

    field_escape: ClassVar[str] = "\\"
    field_escape_pattern: ClassVar[re.Pattern[str]] = re.compile(r"[\s*]")
    str_quote: ClassVar[str] = '"'
    str_quote_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^$")  # only the empty string is quoted
    str_quote_pattern_negation: ClassVar[bool] = False
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "*"
    wildcard_single: ClassVar[str] = "?"
    add_escaped: ClassVar[str] = '+-=&|!(){}[]<>^"~*?:\\/ '

    re_expression: ClassVar[str] = "{field}:/{regex}/"
    re_escape_char: ClassVar[str] = "\\"
    re_escape: ClassVar[list[str]] = ["/"]
    re_escape_escape_char: bool = False
    cidr_expression: ClassVar[str] = "{field}:{network}\\/{prefixlen}"
    compare_op_expression: ClassVar[str] = "{field}:{operator}{value}"
    compare_operators: ClassVar[dict[CompareOperators, str]] = {
        CompareOperators.LT: "<",
        CompareOperators.LTE: "<=",
        CompareOperators.GT: ">",
        CompareOperators.GTE: ">=",
    }
    field_null_expression: ClassVar[str] = "NOT _exists_:{field}"
    field_exists_expression: ClassVar[str] = "_exists_:{field}"
    field_not_exists_expression: ClassVar[str] = "NOT _exists_:{field}"

    convert_or_as_in: ClassVar[bool] = True
    convert_and_as_in: ClassVar[bool] = False
    in_expressions_allow_wildcards: ClassVar[bool] = True
    field_in_list_expression: ClassVar[str] = "{field}{op}({list})"
    or_in_operator: ClassVar[str] = ":"
    list_separator: ClassVar[str] = " OR "

    unbound_value_str_expression: ClassVar[str] = "*{value}*"
    unbound_value_num_expression: ClassVar[str] = "{value}"

    def convert_condition_field_eq_field(self, cond: ConditionFieldEqualsValueExpression,
                                         state: ConversionState) -> str | DeferredQueryExpression:
        raise SigmaFeatureNotSupportedByBackendError(
            "an Elasticsearch query string cannot compare two fields (|fieldref)", source=cond.source)

    def convert_condition_val_re(self, cond: ConditionValueExpression,
                                 state: ConversionState) -> str | DeferredQueryExpression:
        raise SigmaFeatureNotSupportedByBackendError(
            "an Elasticsearch query string cannot match a regular expression against no field "
            "(a keyword |re)", source=cond.source)

    def convert_condition_not(self, cond: ConditionNOT,
                              state: ConversionState) -> str | DeferredQueryExpression | None:
        negated = cond.args[0]
        if is_null_test(negated):  # not null: the field exists
            return f"_exists_:{negated.field}"  # type: ignore[union-attr]
        return super().convert_condition_not(cond, state)

    def compare_precedence(self, outer: Any, inner: Any) -> bool:
        if isinstance(inner, ConditionNOT) and is_null_test(inner.args[0]):
            return True  # becomes `_exists_:field`, needs no parentheses
        if is_null_test(inner):
            return False  # becomes `NOT _exists_:field`, needs them
        return super().compare_precedence(outer, inner)

    def convert_condition_field_eq_val_cidr(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> str | DeferredQueryExpression:
        query = super().convert_condition_field_eq_val_cidr(cond, state)
        if not isinstance(query, str) or not isinstance(cond.value, SigmaCIDRExpression):
            return query  # pragma: no cover - the template makes a string
        if ":" not in cond.value.cidr:
            return query
        field, network = query.split(":", 1)  # escape an IPv6 network's colons, not the field's
        return field + ":" + network.replace(":", "\\:")

    def convert_condition_field_eq_expansion(self, cond: ConditionFieldEqualsValueExpression,
                                             state: ConversionState) -> Any:
        """An expanded value (windash, base64offset...) as one `field:(a OR b)` list where it can be."""
        assert isinstance(cond.value, SigmaExpansion)
        alternatives = ConditionOR(
            [ConditionFieldEqualsValueExpression(cond.field, value) for value in cond.value.values],
            cond.source)
        if self.decide_convert_condition_as_in_expression(alternatives, state):
            return self.convert_condition_as_in_expression(alternatives, state)
        return self.convert_condition_or(alternatives, state)

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        """A plain value with spaces is a phrase, `"a b"`, so the query string does not split it."""
        if not s.contains_special() and " " in str(s):
            escaped = s.convert(self.escape_char, self.wildcard_multi, self.wildcard_single,
                                self.str_quote + self.add_escaped.replace(" ", ""), self.filter_chars)
            return self.str_quote + escaped + self.str_quote
        return super().convert_value_str(s, state)

    def convert_condition_val_str(self, cond: ConditionValueExpression,
                                  state: ConversionState) -> str | DeferredQueryExpression:
        """A keyword as `*value*`, spaces escaped rather than a phrase (`*"a b"*` is not valid)."""
        assert isinstance(cond.value, SigmaString)
        value = TextQueryBackend.convert_value_str(self, cond.value, state)
        return self.unbound_value_str_expression.format(value=value)

    def convert_correlation_plan(self, plan: Any, queries: Any) -> str:
        """Refused: a query string selects events, it cannot count, group or order them."""
        raise PlanError("an Elasticsearch query string (Lucene) cannot aggregate or order events: "
                        "convert correlations with --target esql (every type) or eql (temporal_ordered)")
