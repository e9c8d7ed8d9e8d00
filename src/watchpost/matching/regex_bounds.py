"""How deeply a rule's regular expression may nest its groups.

RE2 runs any pattern in linear time, but the code that reads a pattern (`regex_literals`, and
RE2's own parser up to its limit of 1,000) walks groups recursively: a value nested 242 groups
deep ended `rules check` with RecursionError. A rule whose expression nests deeper than
`MAX_REGEX_NESTING` is refused at load time, a problem naming it; real rules nest a few levels.
"""

from __future__ import annotations

MAX_REGEX_NESTING = 100
"""Deepest group nesting of a rule's regular expression."""


def group_nesting(pattern: str) -> int:
    """The deepest nesting of groups in ``pattern`` (escapes and character classes skipped).

    A rough reading that never fails: unbalanced parentheses count as written.
    """
    depth = deepest = 0
    position, end = 0, len(pattern)
    while position < end:
        char = pattern[position]
        if char == "\\":
            position += 2
            continue
        if char == "[":
            position = _class_end(pattern, position)
            continue
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")" and depth:
            depth -= 1
        position += 1
    return deepest


def _class_end(pattern: str, start: int) -> int:
    """The position after the character class opened at ``start`` (the end if unclosed)."""
    position = start + 1
    if pattern.startswith("^", position):
        position += 1
    if pattern.startswith("]", position):
        position += 1
    end = len(pattern)
    while position < end:
        char = pattern[position]
        if char == "\\":
            position += 2
            continue
        if char == "[" and pattern.startswith("[:", position):
            closing = pattern.find(":]", position + 2)
            position = end if closing < 0 else closing + 2
            continue
        if char == "]":
            return position + 1
        position += 1
    return end
