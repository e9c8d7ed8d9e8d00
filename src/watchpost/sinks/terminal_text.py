"""Making attacker-controlled text safe for a terminal."""

from __future__ import annotations

import re

# C0 controls (but tab), DEL, C1 controls, and the Unicode bidirectional overrides/isolates that
# can reorder what a terminal shows (CVE-2021-42574 "Trojan Source").
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def sanitise_terminal(text: str, limit: int = 2000) -> str:
    """``text`` with control and bidi-override characters shown as ``\\xNN``/``\\uNNNN``, cut at ``limit``.

    Tabs become a space; newlines are shown escaped so one value stays on one line.
    """
    text = text.replace("\t", " ")
    if len(text) > limit:
        text = text[:limit] + f"… (+{len(text) - limit} chars)"
    return _UNSAFE.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
