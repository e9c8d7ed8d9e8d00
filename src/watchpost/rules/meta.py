"""`RuleMeta` from a pySigma rule: what alerts and sinks report about the rule.

Decisions:

- ``id``: the rule's ``id``; a rule without one gets a stable synthetic UUID (UUIDv5 of the path
  as the loader saw it and the title), so alerts of the same rule file agree from run to run.
- ``level``: the Sigma level, lower case; a rule without a level is ``medium``. Level filters in
  the sinks default around ``low``/``medium``, and ``informational`` would hide a user's own
  rules that merely forgot the attribute; ``medium`` is the taxonomy's middle, not a claim.
- ``tags`` as written (``attack.t1049``), ``status`` lower case, lists as tuples.
- ``logsource``: the rule's own terms (``product``, ``category``, ``service`` that are set), not
  the ones a logsource pipeline rewrote; describe the loaded rule, not a variant.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from watchpost.rules.model import RuleMeta

DEFAULT_LEVEL = "medium"
SYNTHETIC_ID_NAMESPACE = uuid.UUID("6f1c3f0e-6d0b-5b8e-9a57-2f2f6c0a7e31")


def describe_rule(rule: SigmaRule | SigmaCorrelationRule, path: Path) -> RuleMeta:
    """The description of ``rule``, loaded from ``path``."""
    kind = "correlation" if isinstance(rule, SigmaCorrelationRule) else "detection"
    logsource: tuple[tuple[str, str], ...] = ()
    if isinstance(rule, SigmaRule):
        logsource = logsource_terms(rule)
    return RuleMeta(
        id=rule_id(rule, path),
        title=rule.title,
        level=str(rule.level) if rule.level is not None else DEFAULT_LEVEL,
        path=str(path),
        tags=tuple(str(tag) for tag in rule.tags),
        status=str(rule.status) if rule.status is not None else None,
        description=rule.description,
        author=rule.author,
        falsepositives=_strings(rule.falsepositives),
        references=_strings(rule.references),
        name=rule.name,
        logsource=logsource,
        kind=kind,
        fields=_strings(rule.fields),
    )


def rule_id(rule: SigmaRule | SigmaCorrelationRule, path: Path) -> str:
    """The rule's id, or a synthetic one derived from ``path`` and the title."""
    if rule.id is not None:
        return str(rule.id)
    return str(uuid.uuid5(SYNTHETIC_ID_NAMESPACE, f"{path.as_posix()}\n{rule.title}"))


def logsource_terms(rule: SigmaRule) -> tuple[tuple[str, str], ...]:
    source = rule.logsource
    terms = (("product", source.product), ("category", source.category), ("service", source.service))
    return tuple((key, value) for key, value in terms if value)


def _strings(values: list[str] | None) -> tuple[str, ...]:
    return tuple(str(value) for value in values or ())
