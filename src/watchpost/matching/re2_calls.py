"""RE2 expressions compiled for matching, and their searches reduced to a truth value.

google-re2's Python `search`/`fullmatch` run a generator in Python around the C++ call (offset
bookkeeping, a match object): ~2.8 us per search of a 100-character text, of which RE2 itself is
~1.3 us. Matchers only need to know whether there is a match, so `Re2Test` calls the C++
``Match`` directly on the UTF-8 text (the wrapper encodes it the same way) and looks at the
first span. It pickles as the compiled expression and recompiles the same way.
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


class Re2Test:
    """``bool(regex.search(text))`` (or ``fullmatch`` with ``full``), without the Python wrapper."""

    __slots__ = ("regex", "full", "_match", "_anchor")

    def __init__(self, regex: Any, full: bool = False) -> None:
        self.regex = regex
        self.full = full
        self._match = regex._regexp.Match  # noqa: SLF001 - see the module text
        self._anchor = _ANCHOR.ANCHOR_BOTH if full else _ANCHOR.UNANCHORED

    def __call__(self, text: str) -> bool:
        data = text.encode()
        return self._match(self._anchor, data, 0, len(data))[0] != _NO_SPAN  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return Re2Test, (self.regex, self.full)

    def __repr__(self) -> str:
        return f"Re2Test({self.regex.pattern!r}, full={self.full})"
