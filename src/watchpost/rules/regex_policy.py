"""pySigma's regular expression check, made quiet: RE2 logs nothing to standard error.

pySigma checks each ``|re`` value by compiling it with RE2 (its default `SigmaPolicy` uses
``RE2RegexEngine``), with RE2's default options: RE2 then writes every pattern it cannot parse,
raw, to the process's standard error through abseil's log. A rule file's regex may hold escape
sequences (colours, window titles, cursor moves), which would reach the operator's terminal
unescaped. The error itself still reaches pySigma, and the loader reports it as a rule problem
(whose text the CLI sanitises).

`quiet_regex_checks` replaces the engine of pySigma's default policy with `QuietRE2Engine`:
the same RE2 and the same inline flags, compiled with ``log_errors`` off. It is idempotent.
"""

from __future__ import annotations

import re
from typing import Any

import re2
from sigma.policy import default_policy
from sigma.policy.regex_engine import RE2RegexEngine, RegexPattern

_INLINE_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))


class QuietRE2Engine(RE2RegexEngine):
    """``RE2RegexEngine`` whose compilations never write to standard error."""

    def compile(self, pattern: str, flags: int = 0) -> RegexPattern:
        letters = "".join(letter for flag, letter in _INLINE_FLAGS if int(flags) & int(flag))
        if letters:
            pattern = f"(?{letters}){pattern}"
        options = re2.Options()
        options.log_errors = False
        compiled: Any = re2.compile(pattern, options)
        return compiled  # type: ignore[no-any-return]


def quiet_regex_checks() -> None:
    """Make pySigma's default policy check regular expressions with `QuietRE2Engine`."""
    if not isinstance(default_policy.regex_engine, QuietRE2Engine):
        default_policy.regex_engine = QuietRE2Engine()
