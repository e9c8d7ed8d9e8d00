"""Build pySigma rules from YAML snippets and events from field dicts for matcher tests."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.policy import SigmaPolicy
from sigma.rule import SigmaRule

from watchpost.events import Event, Origin
from watchpost.matching import RuleMatcher, compile_rule_condition
from watchpost.rules.modifiers import register_modifier_aliases

register_modifier_aliases()

_RULE_HEAD = "title: test rule\nlogsource:\n    product: windows\ndetection:\n"


def sigma_rule(detection: str, policy: SigmaPolicy | None = None) -> SigmaRule:
    """A rule whose ``detection`` section is the given YAML (written without indentation).

    pySigma's default policy checks regular expressions with RE2; ``TrustedPolicy`` (Python ``re``)
    lets through expressions that only the compiler then rejects.
    """
    body = textwrap.indent(textwrap.dedent(detection).strip("\n"), "    ")
    collection = SigmaCollection.from_yaml(_RULE_HEAD + body + "\n", policy=policy)
    rule = collection.rules[0]
    assert isinstance(rule, SigmaRule)
    return rule


def compile_detection(detection: str) -> RuleMatcher:
    return compile_rule_condition(sigma_rule(detection))


def event(**fields: Any) -> Event:
    return Event(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), dict(fields), Origin("test.jsonl", 1, "line"))


def field_rule(key: str, value: Any) -> RuleMatcher:
    """A one-item selection ``key: value`` (key may carry modifiers); values are taken literally,
    i.e. a Python string here is exactly the string the rule file would contain."""
    item = yaml.safe_dump({"selection": {key: value}}, allow_unicode=True)
    return compile_detection(item + "condition: selection\n")
