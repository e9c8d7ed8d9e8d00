"""Reading a rule file's YAML within bounds: file size, number length, readable scalar values.

A rule file is attacker-controlled input (a shared rule repository, a downloaded pack). What
PyYAML would do with some values is unbounded or fatal, so `read_rule_yaml` bounds it first:

- a file larger than `MAX_RULE_FILE_BYTES` is refused before it is read (building the Python
  objects of a 50 MB YAML file took more than 150 s and 1.6 GB);
- an integer written with more than `MAX_NUMBER_DIGITS` digits refuses the document that holds
  it (4,301 digits made PyYAML raise ``ValueError`` out of the loader; far shorter ones are
  already beyond any field value a log holds: 2**128 has 39 digits);
- a scalar PyYAML's resolver takes for a date or number but that cannot be one (``0000-01-01``)
  refuses its document too, instead of raising out of the loader.

Each refusal names the document's number and line; the file's other documents still load.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml
from sigma.rule.base import SigmaYAMLLoader

MAX_RULE_FILE_BYTES = 8 * 1024 * 1024
"""Largest rule file read (SigmaHQ's largest rule file is ~40 kB; a whole repository's rules
merged into one file are a few MB)."""

MAX_NUMBER_DIGITS = 40
"""Longest integer a rule may write unquoted (text such as a long ID can be quoted)."""


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One YAML document of a rule file: its content, or why it is refused (``refusal``)."""

    number: int
    content: Any
    refusal: str | None = None


class BoundedRuleLoader(SigmaYAMLLoader):
    """pySigma's YAML loader (duplicate keys refused) with bounded numbers and checked values.

    A refused value is constructed as None and its reason kept in ``refusals`` (the caller
    takes them after each document), so that the document is refused, not the whole file.
    """

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self.refusals: list[str] = []

    def construct_bounded_int(self, node: yaml.ScalarNode) -> Any:
        text = str(node.value).replace("_", "").lstrip("+-")
        if len(text) > MAX_NUMBER_DIGITS:
            self.refusals.append(
                f"line {node.start_mark.line + 1}: a number of {len(text):,} digits (at most "
                f"{MAX_NUMBER_DIGITS}; quote it if it is text)"
            )
            return None
        return self._checked(super().construct_yaml_int, node, "number")

    def construct_checked_timestamp(self, node: yaml.ScalarNode) -> Any:
        return self._checked(super().construct_yaml_timestamp, node, "date")

    def construct_checked_float(self, node: yaml.ScalarNode) -> Any:
        return self._checked(super().construct_yaml_float, node, "number")

    def _checked(self, construct: Any, node: yaml.ScalarNode, kind: str) -> Any:
        try:
            return construct(node)
        except (ValueError, OverflowError) as error:
            self.refusals.append(f"line {node.start_mark.line + 1}: not a valid {kind}: {error}")
            return None


for _tag, _construct in (("int", BoundedRuleLoader.construct_bounded_int),
                        ("timestamp", BoundedRuleLoader.construct_checked_timestamp),
                        ("float", BoundedRuleLoader.construct_checked_float)):
    BoundedRuleLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _construct)


class RuleFileTooLarge(Exception):
    """The file is larger than `MAX_RULE_FILE_BYTES`."""


def check_rule_file_size(path: Path) -> None:
    """Raise `RuleFileTooLarge` (or OSError) when ``path`` is over the size bound."""
    size = path.stat().st_size
    if size > MAX_RULE_FILE_BYTES:
        raise RuleFileTooLarge(
            f"file of {size / 1_048_576:,.1f} MiB is larger than the {MAX_RULE_FILE_BYTES // 1_048_576} MiB "
            "a rule file may hold: not read (split it into several files)"
        )


def read_rule_yaml(stream: IO[str]) -> Iterator[YamlDocument]:
    """The documents of ``stream`` in order (1-based numbers), each with its refusal if any.

    YAML syntax errors raise ``yaml.YAMLError`` as PyYAML does (the documents before stay read).
    """
    loader = BoundedRuleLoader(stream)
    try:
        number = 0
        while loader.check_data():  # type: ignore[no-untyped-call]
            number += 1
            content = loader.get_data()
            refusal = "; ".join(loader.refusals) if loader.refusals else None
            loader.refusals.clear()
            yield YamlDocument(number, content, refusal)
    finally:
        loader.dispose()
