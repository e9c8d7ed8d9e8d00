"""matching package: Sigma conditions compiled into immutable matchers (see `compiler`).

`compile_rule_condition` (pySigma) is imported on first use: unpickling compiled rules from the
rule cache loads this package, and a cached start must not import pySigma.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watchpost.matching.model import CompileError, RuleMatcher

if TYPE_CHECKING:
    from watchpost.matching.compiler import compile_rule_condition

__all__ = ["CompileError", "RuleMatcher", "compile_rule_condition"]


def __getattr__(name: str) -> Any:
    if name == "compile_rule_condition":
        from watchpost.matching.compiler import compile_rule_condition

        return compile_rule_condition
    raise AttributeError(name)
