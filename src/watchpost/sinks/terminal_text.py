"""Making attacker-controlled text safe to show: on a terminal, in a report, in a spreadsheet."""

from __future__ import annotations

import re

# C0 controls (but tab), DEL, C1 controls, and the Unicode bidirectional overrides/isolates that
# can reorder what a terminal shows (CVE-2021-42574 "Trojan Source").
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# The same, but line breaks and tabs may stay (multi-line values in a report or a CSV cell).
_UNSAFE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def sanitise_terminal(text: str, limit: int = 2000) -> str:
    """``text`` with control and bidi-override characters shown as ``\\xNN``/``\\uNNNN``, cut at ``limit``.

    Tabs become a space; newlines are shown escaped so one value stays on one line.
    """
    text = text.replace("\t", " ")
    return _UNSAFE.sub(_escape, shorten(text, limit))


def visible_text(text: str, limit: int = 2000) -> str:
    """Like `sanitise_terminal` but line breaks and tabs are kept (for reports and CSV cells)."""
    return _UNSAFE_KEEP_LINES.sub(_escape, shorten(text, limit))


def shorten(text: str, limit: int) -> str:
    """``text`` cut at ``limit`` characters, saying how many were left out."""
    if len(text) > limit:
        return text[:limit] + f"… (+{len(text) - limit} chars)"
    return text


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
