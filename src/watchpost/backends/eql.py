"""Elasticsearch EQL for pySigma 2: detections as `any where <condition>`, temporal_ordered as a sequence.

EQL is the Elasticsearch language that checks event order: a temporal_ordered correlation over
detection rules becomes

    sequence with maxspan=2m
      [any where <rule 1>] by Computer, NewProcessId
      [any where <rule 2>] by Computer, ProcessId

with each rule's own join fields (the correlation's aliases). EQL has no aggregation, so the other
correlation types are refused (`--target esql` writes them), as is a correlation of correlations
and an ordered condition weaker than "all rules in order".

Conditions: `field : "value"` (case-insensitive, `*`/`?` wildcards), `|cased` as `==`/`like`,
`regex`/`regex~` (Lucene's dialect, translated as for ES|QL),
`cidrMatch`, `field != null` for exists; a comparison under a NOT is made false for a missing field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionNOT
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import SigmaCompareExpression, SigmaRegularExpression, SigmaString, SpecialChars

from watchpost.backends.correlation_plan import (
    CorrelationPlan,
    PlanError,
    describe_condition,
    describe_rule_title,
    describe_timespan,
    minimal_count,
)
from watchpost.backends.esql import EsqlBackend, esql_string, quote_field
from watchpost.backends.lucene_regex import lucene_regex, regex_flags
from watchpost.backends.splunk_correlation import PartQueries
from watchpost.correlation.spec import TEMPORAL_ORDERED


def wildcard_pattern(value: SigmaString) -> str:
    parts: list[str] = []
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            parts.append("*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            parts.append("?")
        elif isinstance(part, str):
            if "*" in part or "?" in part:
                raise SigmaFeatureNotSupportedByBackendError(
                    "EQL cannot match a literal * or ? in a wildcard pattern")
            parts.append(part)
        else:
            raise SigmaFeatureNotSupportedByBackendError("EQL: a placeholder left in a value")
    return "".join(parts)


def eql_null_safe(cond: ConditionFieldEqualsValueExpression, expression: str) -> str:
    if cond.parent_condition_chain_contains(ConditionNOT):
        return f"({quote_field(cond.field)} != null and {expression})"
    return expression


class EqlBackend(EsqlBackend):
    """Elasticsearch EQL (watchpost built-in)."""

    name: ClassVar[str] = "Elasticsearch EQL (watchpost built-in)"
    identifier: ClassVar[str] = "eql"
    formats: ClassVar[dict[str, str]] = {"default": "EQL queries"}
    or_token: ClassVar[str] = "or"
    and_token: ClassVar[str] = "and"
    not_token: ClassVar[str] = "not"
    field_null_expression: ClassVar[str] = "{field} == null"
    field_exists_expression: ClassVar[str] = "{field} != null"
    field_not_exists_expression: ClassVar[str] = "{field} == null"

    def string_match(self, cond: ConditionFieldEqualsValueExpression, lowered: bool) -> str:
        value = cond.value
        assert isinstance(value, SigmaString)
        field = quote_field(cond.field)
        if lowered:
            return f"{field} : {esql_string(wildcard_pattern(value))}"
        if not value.contains_special():
            return f"{field} == {esql_string(value.to_plain())}"
        return f"{field} like {esql_string(wildcard_pattern(value))}"

    def convert_condition_field_eq_val_str(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> str | DeferredQueryExpression:
        return eql_null_safe(cond, self.string_match(cond, lowered=True))

    def convert_condition_field_eq_val_str_case_sensitive(
            self, cond: ConditionFieldEqualsValueExpression, state: ConversionState,
    ) -> str | DeferredQueryExpression:
        return eql_null_safe(cond, self.string_match(cond, lowered=False))

    def convert_condition_field_eq_val_num(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> str | DeferredQueryExpression:
        return eql_null_safe(cond, f"{quote_field(cond.field)} : {esql_string(str(cond.value))}")

    def convert_condition_field_eq_val_bool(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> str | DeferredQueryExpression:
        text = "true" if getattr(cond.value, "boolean", False) else "false"
        return eql_null_safe(cond, f"{quote_field(cond.field)} == {text}")

    def convert_condition_field_eq_val_re(self, cond: ConditionFieldEqualsValueExpression,
                                          state: ConversionState) -> str | DeferredQueryExpression:
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        flags = {str(getattr(flag, "name", flag)).lower() for flag in (value.flags or ())}
        if flags - {"ignorecase"}:
            raise SigmaFeatureNotSupportedByBackendError(
                f"EQL: regular expression flags {sorted(flags)} cannot be expressed", source=cond.source)
        text, inline_case = regex_flags(str(value.regexp))
        operator = "regex~" if flags or inline_case else "regex"
        regex = esql_string(lucene_regex(text))
        return eql_null_safe(cond, f"{quote_field(cond.field)} {operator} {regex}")

    def convert_condition_field_compare_op_val(self, cond: ConditionFieldEqualsValueExpression,
                                               state: ConversionState) -> str | DeferredQueryExpression:
        value = cond.value
        assert isinstance(value, SigmaCompareExpression)
        operator = self.compare_operators[value.op]
        return eql_null_safe(cond, f"{quote_field(cond.field)} {operator} {value.number.number}")

    def convert_condition_field_eq_field(self, cond: ConditionFieldEqualsValueExpression,
                                         state: ConversionState) -> str | DeferredQueryExpression:
        other = getattr(cond.value, "field", None)
        if not isinstance(other, str):  # pragma: no cover - pySigma gives a field reference here
            raise SigmaFeatureNotSupportedByBackendError("EQL: a field reference without a field")
        return eql_null_safe(cond, f"{quote_field(cond.field)} == {quote_field(other)}")

    def convert_condition_field_eq_val_cidr(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> str | DeferredQueryExpression:
        network = getattr(cond.value, "network", cond.value)
        return eql_null_safe(cond, f"cidrMatch({quote_field(cond.field)}, {esql_string(str(network))})")

    def finalize_query_default(self, rule: Any, query: Any, index: int, state: ConversionState) -> Any:
        return f"any where {query}"

    def convert_correlation_plan(self, plan: CorrelationPlan, queries: PartQueries) -> str:
        """A temporal_ordered correlation as an EQL sequence; other types are refused."""
        if plan.type != TEMPORAL_ORDERED:
            raise PlanError(f"EQL has no aggregation: a {plan.type} correlation cannot be expressed "
                            "(--target esql writes it)")
        if any(part.inner is not None for part in plan.parts):
            raise PlanError("EQL: a sequence cannot hold another correlation's results")
        if not plan.on_arrival or minimal_count(plan) != len(plan.parts):
            raise PlanError("EQL: a sequence needs every rule in order (condition gte <number of rules>)")
        lines = [f"/* watchpost correlation {describe_rule_title(plan, '*/')}: {plan.type}, timespan "
                 f"{describe_timespan(plan.timespan_seconds)}, condition {describe_condition(plan)} */"]
        if plan.group_by:
            lines.append("/* approximate: EQL: join keys are compared as stored: watchpost lower-cases text "
                         "and reads process ids in hexadecimal (0x2bc) and decimal (700) as one number */")
        lines.append("/* approximate: EQL: where several events could start the sequence, EQL picks its own; "
                     "watchpost reports the latest chain (a reused process id joins the newest process) */")
        lines.append(f"sequence with maxspan={describe_timespan(plan.timespan_seconds)}")
        for part in plan.parts:
            condition = " or ".join(f"({query})" for query in queries(part))
            keys = ", ".join(quote_field(part.field(source)) for source in part.group_sources)
            lines.append(f"  [any where {condition}]" + (f" by {keys}" if keys else ""))
        return "\n".join(lines)
