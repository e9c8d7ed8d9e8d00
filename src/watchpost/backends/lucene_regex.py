"""Sigma regular expressions in Lucene's dialect, which ES|QL's `RLIKE` and EQL's `regex` use.

Sigma's `re` finds the expression anywhere in the value (RE2, as the engine runs it); Lucene's
matches the whole value and lacks most shorthands. The translation:

- top-level alternatives are translated one by one; each is wrapped in `.*( ).*`; an anchor
  `^`/`$` at an end drops that end's `.*`, and so does a first group with a `^` alternative
  (`(?:^|;)x` -> `(|.*;)x`) or a last group with a `$` alternative (`x(?:\\s|$)` ->
  `x([ \\t\\n\\r].*|)`);
- `\\s`, `\\d`, `\\w` become character classes (`\\S`, `\\D`, `\\W` too, outside a class), `(?:` a
  plain group, a leading `(?i)` is returned as a flag (the caller lower-cases);
- Lucene's operator characters `@ & < > ~ # "` are escaped;
- refused: other `(?...)` groups and flags, `\\b` and other letter escapes, anchors elsewhere.
"""

from __future__ import annotations

from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

CLASS_ESCAPES = {"s": " \t\n\r", "d": "0-9", "w": "A-Za-z0-9_"}
NEGATED_ESCAPES = {"S": "s", "D": "d", "W": "w"}


def regex_flags(regex: str) -> tuple[str, bool]:
    """A leading inline `(?i)` taken off: (regex, case-insensitive)."""
    if regex.startswith("(?i)"):
        return regex[4:], True
    return regex, False


def lucene_regex(regex: str) -> str:
    """A Sigma (search) regular expression as a whole-value Lucene one, or a refusal."""
    head, tail, lead, trail = ".*", ".*", "", ""
    if len(choices := alternatives(regex)) > 1:  # each alternative has its own anchors
        return "|".join(f"({lucene_regex(choice)})" for choice in choices)
    if regex.startswith("^"):
        regex, head = regex[1:], ""
    elif (group := leading_group(regex)) is not None and "^" in group[0]:
        others = [".*" + translate_regex_body(alt) for alt in group[0] if alt != "^"]
        regex, head, lead = group[1], "", "(" + "|".join(["", *others]) + ")"
    if regex.endswith("$") and not regex.endswith("\\$"):
        regex, tail = regex[:-1], ""
    elif (group := trailing_group(regex)) is not None and "$" in group[0]:
        others = [translate_regex_body(alt) + ".*" for alt in group[0] if alt != "$"]
        regex, tail, trail = group[1], "", "(" + "|".join([*others, ""]) + ")"
    return f"{head}({lead}{translate_regex_body(regex)}{trail}){tail}"


def group_end(regex: str, start: int) -> int | None:
    """The index of the `)` closing the group that opens at ``start``."""
    depth, index, in_class = 0, start, False
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


def alternatives(body: str) -> list[str]:
    """``body`` split at its top-level `|`."""
    parts, depth, start, index, in_class = [], 0, 0, 0, False
    while index < len(body):
        char = body[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            parts.append(body[start:index])
            start = index + 1
        index += 1
    return [*parts, body[start:]]


def leading_group(regex: str) -> tuple[list[str], str] | None:
    """(alternatives, rest) when ``regex`` starts with a `(?:...)` group."""
    if not regex.startswith("(?:"):
        return None
    end = group_end(regex, 0)
    return None if end is None else (alternatives(regex[3:end]), regex[end + 1:])


def trailing_group(regex: str) -> tuple[list[str], str] | None:
    """(alternatives, rest) when ``regex`` ends with a `(?:...)` group."""
    for start in range(len(regex) - 1, -1, -1):
        if regex.startswith("(?:", start) and group_end(regex, start) == len(regex) - 1:
            if start > 0 and regex[start - 1] == "\\":
                return None
            return alternatives(regex[start + 3:-1]), regex[:start]
    return None


def translate_regex_body(regex: str) -> str:
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(regex):
        char = regex[index]
        if char == "\\" and index + 1 < len(regex):
            out.append(translate_escape(regex, regex[index + 1], in_class))
            index += 2
            continue
        if char == "(" and regex.startswith("(?", index) and not in_class:
            if not regex.startswith("(?:", index):
                raise refusal(regex, "a (?...) group other than (?:")
            out.append("(")
            index += 3
            continue
        if char in "^$" and not in_class:
            raise refusal(regex, "an anchor inside the expression")
        if char == "[" and not in_class:
            in_class = True
            negated = regex.startswith("[^", index)
            out.append("[^" if negated else "[")
            index += 2 if negated else 1
            continue
        if char == "]" and in_class:
            in_class = False
        out.append("\\" + char if char in '@&<>~#"' else char)
        index += 1
    return "".join(out)


def translate_escape(regex: str, letter: str, in_class: bool) -> str:
    if letter in CLASS_ESCAPES:
        chars = CLASS_ESCAPES[letter]
        return chars if in_class else f"[{chars}]"
    if letter in NEGATED_ESCAPES and not in_class:
        return f"[^{CLASS_ESCAPES[NEGATED_ESCAPES[letter]]}]"
    if letter.isalnum():
        raise refusal(regex, f"\\{letter}")
    return "\\" + letter


def refusal(regex: str, construct: str) -> SigmaFeatureNotSupportedByBackendError:
    return SigmaFeatureNotSupportedByBackendError(
        f"Elasticsearch's regular expressions (Lucene's) cannot express {construct} in {regex!r}")
