"""RE2 expressions compiled for matching, and their searches reduced to a truth value.

google-re2's Python `search`/`fullmatch` run a generator in Python around the C++ call (offset
bookkeeping, a match object): ~2.8 us per search of a 100-character text, of which RE2 itself is
~1.3 us. Matchers only need to know whether there is a match, so `Re2Test` calls the C++
``Match`` directly on the UTF-8 text (the wrapper encodes it the same way) and looks at the
first span. It pickles as the compiled expression and recompiles the same way.

The rule cache (`watchpost.hunting.rule_cache`) pickles compiled expressions as `LazyRegex`: the pattern
and options, compiled the first time the expression is used. A cached start then compiles none
of the ~600 expressions of the SigmaHQ Windows rules (0.1-0.15 s), and a run compiles only those
of the rules its events reach. The pattern compiled when the rule set was built, with the same
RE2 (the cache key covers its files).
"""

from __future__ import annotations

from typing import Any

import re2

from watchpost.matching.model import CompileError

_ANCHOR = re2._re2.RE2.Anchor  # noqa: SLF001 - the C++ binding behind google-re2's wrapper
_NO_SPAN = (-1, -1)


def compile_re2(pattern: str, what: str) -> Any:
    """Compile ``pattern`` with RE2 (linear time) or raise CompileError naming ``what``."""
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise CompileError(f"{what} cannot run on RE2: {reason}") from None


class LazyRegex:
    """A compiled RE2 expression as it comes out of the rule cache: compiled on first use.

    ``pattern`` is at hand at once; any other attribute (``search``, ``_regexp``...) is that of
    the compiled expression (google-re2's own, ``re2._Regexp``, compiled as its unpickling does).
    """

    __slots__ = ("pattern", "values", "_compiled")

    def __init__(self, pattern: str, values: tuple[Any, ...]) -> None:
        self.pattern = pattern
        self.values = values  # re2.Options values, in the order of re2.Options.NAMES
        self._compiled: Any = None

    def compiled(self) -> Any:
        if self._compiled is None:
            self._compiled = re2._Regexp._make(self.pattern, self.values)  # noqa: SLF001
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # protocol probes (copy, pickle, hasattr) compile nothing
            raise AttributeError(name)
        return getattr(self.compiled(), name)

    def __reduce__(self) -> tuple[Any, ...]:
        return LazyRegex, (self.pattern, self.values)


def lazy_regex_parts(regex: Any) -> tuple[str, tuple[Any, ...]]:
    """The arguments of the `LazyRegex` that stands for the compiled expression ``regex``."""
    options = regex.options
    return regex.pattern, tuple(getattr(options, name) for name in re2.Options.NAMES)


class Re2Test:
    """``bool(regex.search(text))`` (or ``fullmatch`` with ``full``), without the Python wrapper."""

    __slots__ = ("regex", "full", "_match", "_anchor")

    def __init__(self, regex: Any, full: bool = False) -> None:
        self.regex = regex
        self.full = full
        if isinstance(regex, LazyRegex) and regex._compiled is None:  # noqa: SLF001
            self._match: Any = self._first_match
        else:
            self._match = regex._regexp.Match  # noqa: SLF001 - see the module text
        self._anchor = _ANCHOR.ANCHOR_BOTH if full else _ANCHOR.UNANCHORED

    def __call__(self, text: str) -> bool:
        data = text.encode()
        return self._match(self._anchor, data, 0, len(data))[0] != _NO_SPAN  # type: ignore[no-any-return]

    def _first_match(self, anchor: Any, data: bytes, start: int, end: int) -> Any:
        """The first call of a `LazyRegex`'s test: compile, then call RE2 directly from now on."""
        self._match = match = self.regex._regexp.Match  # noqa: SLF001
        return match(anchor, data, start, end)

    def __reduce__(self) -> tuple[Any, ...]:
        return Re2Test, (self.regex, self.full)

    def __repr__(self) -> str:
        return f"Re2Test({self.regex.pattern!r}, full={self.full})"
