"""Spark SQL (Databricks) queries for pySigma 2: detections as `WHERE` clauses of one table.

The published Databricks backend pins pySigma < 2 and raises NotImplementedError on value_count;
this one is written for pySigma 2 and watchpost's correlations (`sparksql_correlation`).

- A detection is `SELECT * FROM logs WHERE <condition>` (backend options `table`, default `logs`,
  and `timestamp`, default `timestamp`, a TIMESTAMP column, used by correlations).
- Column names are quoted with backticks whole: a dotted Sigma name (`userIdentity.arn`) is one
  column of that name; map it to a nested path with a pipeline when the table nests.
- Strings match case-insensitively, as Sigma says: `lower(`f`) = 'value'`, wildcards as
  `lower(`f`) LIKE '%\\\\net.exe'` (the backslash escapes LIKE's `%`/`_`/`\\`, and the string
  literal doubles every backslash); `|cased` without `lower()`.
- Numbers and booleans are compared as text (`CAST(`f` AS STRING) = '4688'`), so a column that
  holds them as text or as numbers both work; `|gt`... with `try_cast(... AS DOUBLE)`.
- `|re` is `RLIKE` (Java regular expressions, found anywhere in the value as Sigma's `re` is;
  flags as a `(?i)` prefix); `|exists`, `null` as `IS [NOT] NULL`; `|fieldref` as lower-cased
  equality of two columns.
- Refused: `|cidr` (Spark has no network function), keywords (a value with no field: there is
  no full-text column), `|expand` placeholders left unresolved.
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
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import CompareOperators, SigmaCompareExpression, SigmaString, SpecialChars

from watchpost.backends.correlation_plan import CorrelationPlan
from watchpost.backends.refusal import RefusingTextQueryBackend
from watchpost.backends.splunk_correlation import PartQueries


def sql_string(text: str) -> str:
    """A Spark SQL string literal: backslashes and quotes escaped (default parser settings)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_column(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def like_pattern(value: SigmaString) -> str:
    """A LIKE pattern of a Sigma string: `*`/`?` as `%`/`_`, LIKE's own characters escaped."""
    parts: list[str] = []
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            parts.append("%")
        elif part == SpecialChars.WILDCARD_SINGLE:
            parts.append("_")
        elif isinstance(part, str):
            parts.append(re.sub(r"([\\%_])", r"\\\1", part))
        else:
            raise SigmaFeatureNotSupportedByBackendError(
                "Spark SQL: a placeholder left in a value (resolve it with a pipeline)")
    return "".join(parts)


def null_safe(cond: ConditionFieldEqualsValueExpression, expression: str) -> str:
    """Under a NOT, a comparison with a missing (NULL) field must be false, not NULL: Sigma's
    `not filter` holds for an event without the filter's field, SQL's `NOT NULL` does not."""
    if cond.parent_condition_chain_contains(ConditionNOT):
        return f"coalesce({expression}, false)"
    return expression


class SparkSqlBackend(RefusingTextQueryBackend):
    """Spark SQL / Databricks SQL (watchpost built-in)."""

    name: ClassVar[str] = "Spark SQL / Databricks (watchpost built-in)"
    identifier: ClassVar[str] = "sparksql"
    formats: ClassVar[dict[str, str]] = {"default": "Spark SQL SELECT statements"}
    requires_pipeline: ClassVar[bool] = False

    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT, ConditionAND, ConditionOR)
    group_expression: ClassVar[str] = "({expr})"
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "%"
    wildcard_single: ClassVar[str] = "_"
    add_escaped: ClassVar[str] = "\\"
    bool_values: ClassVar[dict[bool, str | None]] = {True: "'true'", False: "'false'"}
    re_expression: ClassVar[str] = "CAST({field} AS STRING) RLIKE {regex}"
    re_escape_char: ClassVar[str] = ""
    re_escape: ClassVar[list[str]] = []
    compare_op_expression: ClassVar[str] = "try_cast({field} AS DOUBLE) {operator} {value}"
    compare_operators: ClassVar[dict[CompareOperators, str]] = {
        CompareOperators.LT: "<", CompareOperators.LTE: "<=",
        CompareOperators.GT: ">", CompareOperators.GTE: ">="}
    field_null_expression: ClassVar[str] = "{field} IS NULL"
    field_exists_expression: ClassVar[str] = "{field} IS NOT NULL"
    field_not_exists_expression: ClassVar[str] = "{field} IS NULL"
    field_equals_field_expression: ClassVar[str] = (
        "lower(CAST({field1} AS STRING)) = lower(CAST({field2} AS STRING))")
    convert_or_as_in: ClassVar[bool] = False
    convert_and_as_in: ClassVar[bool] = False
    unbound_value_str_expression: ClassVar[str | None] = None
    unbound_value_num_expression: ClassVar[str | None] = None
    unbound_value_re_expression: ClassVar[str | None] = None

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **options: Any) -> None:
        super().__init__(processing_pipeline, collect_errors, **options)
        self.table = str(options.get("table", "logs"))
        self.timestamp = str(options.get("timestamp", "timestamp"))

    def escape_and_quote_field(self, field_name: str) -> str:
        return quote_column(field_name)

    def convert_condition_field_eq_val_str(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> str | DeferredQueryExpression:
        return null_safe(cond, self.string_match(cond, lowered=True))

    def convert_condition_field_eq_val_str_case_sensitive(
            self, cond: ConditionFieldEqualsValueExpression, state: ConversionState,
    ) -> str | DeferredQueryExpression:
        return null_safe(cond, self.string_match(cond, lowered=False))

    def string_match(self, cond: ConditionFieldEqualsValueExpression, lowered: bool) -> str:
        value = cond.value
        assert isinstance(value, SigmaString)
        column = f"CAST({quote_column(cond.field)} AS STRING)"
        if lowered:
            column, value = f"lower({column})", value.lower()
        if not value.contains_special():
            return f"{column} = {sql_string(value.to_plain())}"
        return f"{column} LIKE {sql_string(like_pattern(value))}"

    def convert_condition_field_eq_val_num(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> str | DeferredQueryExpression:
        return null_safe(cond, f"CAST({quote_column(cond.field)} AS STRING) = {sql_string(str(cond.value))}")

    def convert_condition_field_eq_val_bool(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> str | DeferredQueryExpression:
        text = "true" if getattr(cond.value, "boolean", False) else "false"
        return null_safe(cond, f"lower(CAST({quote_column(cond.field)} AS STRING)) = '{text}'")

    def convert_value_re(self, r: Any, state: ConversionState) -> str:
        return sql_string(str(super().convert_value_re(r, state)))

    def convert_condition_field_compare_op_val(self, cond: ConditionFieldEqualsValueExpression,
                                               state: ConversionState) -> str | DeferredQueryExpression:
        value = cond.value
        assert isinstance(value, SigmaCompareExpression)
        operator = self.compare_operators[value.op]
        number = value.number.number
        return null_safe(cond, f"try_cast({quote_column(cond.field)} AS DOUBLE) {operator} {number}")

    def convert_condition_field_eq_val_re(self, cond: ConditionFieldEqualsValueExpression,
                                          state: ConversionState) -> str | DeferredQueryExpression:
        return null_safe(cond, str(super().convert_condition_field_eq_val_re(cond, state)))

    def convert_condition_field_eq_field(self, cond: ConditionFieldEqualsValueExpression,
                                         state: ConversionState) -> str | DeferredQueryExpression:
        return null_safe(cond, str(super().convert_condition_field_eq_field(cond, state)))

    def convert_condition_field_eq_val_cidr(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> str | DeferredQueryExpression:
        raise SigmaFeatureNotSupportedByBackendError(
            "Spark SQL has no network (CIDR) function: |cidr cannot be expressed", source=cond.source)

    def convert_condition_val(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        raise SigmaFeatureNotSupportedByBackendError(
            "Spark SQL: a value with no field (keyword) needs a full-text column, which a table has not",
            source=cond.source)

    def finalize_query_default(self, rule: Any, query: Any, index: int, state: ConversionState) -> Any:
        return f"SELECT * FROM {self.table_name} WHERE {query}"

    @property
    def table_name(self) -> str:
        return ".".join(quote_column(part) for part in self.table.split("."))

    def convert_correlation_plan(self, plan: CorrelationPlan, queries: PartQueries) -> str:
        """A correlation rule as one SELECT with window aggregations (`sparksql_correlation`)."""
        from watchpost.backends.sparksql_correlation import sparksql_correlation

        return sparksql_correlation(plan, queries, self.table_name, quote_column(self.timestamp))

