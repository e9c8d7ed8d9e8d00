"""correlation package: Sigma correlation rules compiled to specs and run over a match stream.

- `compile_correlations` (`spec`): pySigma correlation rules -> `CorrelationSpec` (pySigma-free).
- `CorrelationEngine` (`engine`): ``feed(match)``, ``advance(watermark)``, ``flush()`` -> alerts.
- `suppressed_rule_ids`: the rules not output on their own (``generate``).
- `split_range_condition` (`conditions`): loader translator for range conditions.

Semantics are documented in docs/correlation.md.
"""

from watchpost.correlation.conditions import Condition, ConditionError, split_range_condition
from watchpost.correlation.engine import DEFAULT_LATENESS, DEFAULT_MAX_GROUPS, CorrelationEngine
from watchpost.correlation.spec import (
    CorrelationSpec,
    RawCorrelation,
    SpecError,
    base_rule_ids,
    compile_correlations,
    compile_raw,
    suppressed_rule_ids,
)

__all__ = [
    "DEFAULT_LATENESS",
    "DEFAULT_MAX_GROUPS",
    "Condition",
    "ConditionError",
    "CorrelationEngine",
    "CorrelationSpec",
    "RawCorrelation",
    "SpecError",
    "base_rule_ids",
    "compile_correlations",
    "compile_raw",
    "split_range_condition",
    "suppressed_rule_ids",
]
