"""What an alert says about where it comes from, set once alerts are made (a stage of the hunt):

- ``rule.path`` relative to the rule folder (or file) the analyst gave, so that a shared report
  never holds a path of the analyst's machine (the bundled pack: ``t1049/windows/x.yml``);
- the host of alerts whose events name none (eslogger and other logs that do not say where they
  were written), when the analyst says it (``hunt --host NAME``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from watchpost.alerts import Alert
from watchpost.rules.model import RuleMeta


class AlertContext:
    """Rewrites rule paths against ``rule_roots`` and fills ``assumed_host``; one per hunt."""

    def __init__(self, rule_roots: Sequence[Path], assumed_host: str | None = None) -> None:
        self._roots = [root.resolve() for root in rule_roots]
        self._assumed_host = assumed_host or None
        self._shown: dict[str, str] = {}
        self._metas: dict[int, tuple[RuleMeta, RuleMeta]] = {}  # id(rule) -> (rule, as shown)

    def shown_path(self, path: str) -> str:
        """``path`` relative to the root that holds it; a path outside every root keeps its name."""
        shown = self._shown.get(path)
        if shown is None:
            shown = self._shown[path] = relative_rule_path(Path(path), self._roots)
        return shown

    def shown_rule(self, rule: RuleMeta) -> RuleMeta:
        """``rule`` with its path as shown, made once per rule."""
        known = self._metas.get(id(rule))
        if known is None or known[0] is not rule:
            shown = self.shown_path(rule.path)
            known = self._metas[id(rule)] = (
                rule, rule if shown == rule.path else dataclasses.replace(rule, path=shown))
        return known[1]

    def apply(self, alert: Alert) -> Alert:
        rule = self.shown_rule(alert.rule)
        changes: dict[str, object] = {}
        if rule is not alert.rule:
            changes["rule"] = rule
        if self._assumed_host and alert.assumed_host is None:
            changes["assumed_host"] = self._assumed_host
        return dataclasses.replace(alert, **changes) if changes else alert  # type: ignore[arg-type]

    def alerts(self, alerts: Iterable[Alert]) -> Iterator[Alert]:
        for alert in alerts:
            yield self.apply(alert)


def relative_rule_path(path: Path, roots: Sequence[Path]) -> str:
    """The path of a rule file as a report shows it: relative to the folder given, or the file's
    own name when the file itself was given (or lies outside every folder given)."""
    try:
        resolved = path.resolve()
    except OSError:
        return path.name
    for root in roots:
        if resolved == root:
            return root.name
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return path.name
