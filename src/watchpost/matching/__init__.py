"""matching package: Sigma conditions compiled into immutable matchers (see `compiler`)."""

from watchpost.matching.compiler import RuleMatcher, compile_rule_condition
from watchpost.matching.model import CompileError

__all__ = ["CompileError", "RuleMatcher", "compile_rule_condition"]
