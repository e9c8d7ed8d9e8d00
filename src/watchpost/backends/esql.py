"""Elasticsearch ES|QL queries for pySigma 2: `FROM <index> | WHERE <condition>`, correlations with STATS.

The detection condition is written in ES|QL's own expression language (not a query string), so that
the same condition can tag events inside a correlation (`EVAL sigma_rule = CASE(<condition>, ...)`):

- strings match case-insensitively, as Sigma says: `TO_LOWER(TO_STRING(f)) == "value"`, wildcards
  with `LIKE` and a triple-quoted pattern (no string escapes there; a backslash escapes LIKE's
  `*`, `?` and backslash); `|cased` without `TO_LOWER`; numbers and booleans compared as text;
  `|gt`... on `TO_DOUBLE(f)`;
- `|re` with `RLIKE`, which matches the whole value in Lucene's regular-expression dialect: the
  regex is translated by `watchpost.backends.lucene_regex` (or refused there), a leading `(?i)`
  becomes `TO_LOWER` of the field and a lower-cased regex;
- `|cidr` with `CIDR_MATCH(TO_IP(f), "...")`, `|exists`/`null` with `IS [NOT] NULL`, a comparison
  under a NOT is made false, not null, for a missing field (`COALESCE(..., false)`);
- field names with other characters than letters, digits, `_`, `.`, `@` are quoted with backticks.
  Backend options: `index` (default `logs-*`), `timestamp` (default `@timestamp`).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionValueExpression
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import SigmaCompareExpression, SigmaRegularExpression, SigmaString, SpecialChars

from watchpost.backends.correlation_plan import CorrelationPlan
from watchpost.backends.lucene_regex import lucene_regex, regex_flags
from watchpost.backends.sparksql import SparkSqlBackend, null_safe
from watchpost.backends.splunk_correlation import PartQueries

PLAIN_NAME = re.compile(r"^[A-Za-z_@][\w.@]*$")


def esql_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r") + '"'


def quote_field(name: str) -> str:
    return name if PLAIN_NAME.match(name) else "`" + name.replace("`", "``") + "`"


def like_pattern(value: SigmaString) -> str:
    parts: list[str] = []
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            parts.append("*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            parts.append("?")
        elif isinstance(part, str):
            parts.append(re.sub(r"([\\*?])", r"\\\1", part))
        else:
            raise SigmaFeatureNotSupportedByBackendError("ES|QL: a placeholder left in a value")
    return "".join(parts)


class EsqlBackend(SparkSqlBackend):
    """Elasticsearch ES|QL (watchpost built-in)."""

    name: ClassVar[str] = "Elasticsearch ES|QL (watchpost built-in)"
    identifier: ClassVar[str] = "esql"
    formats: ClassVar[dict[str, str]] = {"default": "ES|QL queries"}

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **options: Any) -> None:
        super().__init__(processing_pipeline, collect_errors, **options)
        self.index = str(options.get("index", "logs-*"))
        self.timestamp = str(options.get("timestamp", "@timestamp"))

    def escape_and_quote_field(self, field_name: str) -> str:
        return quote_field(field_name)

    def string_match(self, cond: ConditionFieldEqualsValueExpression, lowered: bool) -> str:
        value = cond.value
        assert isinstance(value, SigmaString)
        column = f"TO_STRING({quote_field(cond.field)})"
        if lowered:
            column, value = f"TO_LOWER({column})", value.lower()
        if not value.contains_special():
            return f"{column} == {esql_string(value.to_plain())}"
        pattern = like_pattern(value)
        literal = f'"""{pattern}"""' if '"' not in pattern else esql_string(pattern)
        return f"{column} LIKE {literal}"

    def convert_condition_field_eq_val_num(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> str | DeferredQueryExpression:
        return null_safe(cond, f"TO_STRING({quote_field(cond.field)}) == {esql_string(str(cond.value))}")

    def convert_condition_field_eq_val_bool(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> str | DeferredQueryExpression:
        text = "true" if getattr(cond.value, "boolean", False) else "false"
        return null_safe(cond, f'TO_LOWER(TO_STRING({quote_field(cond.field)})) == "{text}"')

    def convert_condition_field_eq_val_re(self, cond: ConditionFieldEqualsValueExpression,
                                          state: ConversionState) -> str | DeferredQueryExpression:
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        regex, inline_case = regex_flags(str(value.regexp))
        column = f"TO_STRING({quote_field(cond.field)})"
        flags = {str(getattr(flag, "name", flag)).lower() for flag in (value.flags or ())}
        if flags - {"ignorecase"}:
            raise SigmaFeatureNotSupportedByBackendError(
                f"ES|QL: regular expression flags {sorted(flags)} cannot be expressed", source=cond.source)
        translated = lucene_regex(regex)
        if flags or inline_case:
            column, translated = f"TO_LOWER({column})", translated.lower()
        return null_safe(cond, f"{column} RLIKE {esql_string(translated)}")

    def convert_condition_field_compare_op_val(self, cond: ConditionFieldEqualsValueExpression,
                                               state: ConversionState) -> str | DeferredQueryExpression:
        value = cond.value
        assert isinstance(value, SigmaCompareExpression)
        operator = self.compare_operators[value.op]
        return null_safe(cond, f"TO_DOUBLE({quote_field(cond.field)}) {operator} {value.number.number}")

    def convert_condition_field_eq_field(self, cond: ConditionFieldEqualsValueExpression,
                                         state: ConversionState) -> str | DeferredQueryExpression:
        other = getattr(cond.value, "field", None)
        if not isinstance(other, str):  # pragma: no cover - pySigma gives a field reference here
            raise SigmaFeatureNotSupportedByBackendError("ES|QL: a field reference without a field")
        return null_safe(cond, f"TO_LOWER(TO_STRING({quote_field(cond.field)})) == "
                               f"TO_LOWER(TO_STRING({quote_field(other)}))")

    def convert_condition_field_eq_val_cidr(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> str | DeferredQueryExpression:
        network = getattr(cond.value, "network", cond.value)
        return null_safe(cond, f"CIDR_MATCH(TO_IP({quote_field(cond.field)}), {esql_string(str(network))})")

    def convert_condition_val(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        raise SigmaFeatureNotSupportedByBackendError(
            "ES|QL: a value with no field (keyword) cannot be expressed", source=cond.source)

    def finalize_query_default(self, rule: Any, query: Any, index: int, state: ConversionState) -> Any:
        return f"FROM {self.index}\n| WHERE {query}"

    def convert_correlation_plan(self, plan: CorrelationPlan, queries: PartQueries) -> str:
        """A correlation rule as one ES|QL query with STATS over BUCKETs (`esql_correlation`)."""
        from watchpost.backends.esql_correlation import esql_correlation

        return esql_correlation(plan, queries, self.index, quote_field(self.timestamp))
