"""SARIF 2.1.0 for CI users: one result per alert, one reporting descriptor per rule that fired.

Levels: ``critical`` and ``high`` are ``error``, ``medium`` is ``warning``, ``low`` and
``informational`` are ``note``. Each result's location is the log file of the alert's first event
(with the line for line-based formats); ``partialFingerprints`` carries the alert id so code
scanning tools deduplicate across runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any
from urllib.parse import quote

import orjson

from watchpost.alerts import Alert
from watchpost.sinks.run_info import RunInfo

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
                "informational": "note"}


class SarifSink:
    """Collects results and rules; writes the log at close."""

    def __init__(self, stream: IO[bytes], run_info: Callable[[], RunInfo] | None = None) -> None:
        self._stream = stream
        self._run_info = run_info or RunInfo
        self._rules: dict[str, dict[str, Any]] = {}
        self._rule_index: dict[str, int] = {}
        self._results: list[dict[str, Any]] = []

    def write(self, alert: Alert) -> None:
        rule = alert.rule
        if rule.id not in self._rules:
            self._rule_index[rule.id] = len(self._rules)
            self._rules[rule.id] = reporting_descriptor(alert)
        self._results.append(result(alert, self._rule_index[rule.id]))

    def close(self) -> None:
        info = self._run_info()
        log = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": "watchpost", "version": info.version or "0",
                                    "rules": list(self._rules.values())}},
                "invocations": [invocation(info)],
                "results": self._results,
            }],
        }
        self._stream.write(orjson.dumps(log, default=str, option=orjson.OPT_INDENT_2) + b"\n")
        self._stream.flush()


def invocation(info: RunInfo) -> dict[str, Any]:
    """The run's invocation: unsuccessful, with a notification saying why, when it stopped early."""
    described: dict[str, Any] = {"executionSuccessful": info.complete,
                                 "properties": {"watchpost": info.to_dict()}}
    partial = info.partial_note()
    if partial:
        described["toolExecutionNotifications"] = [{"level": "error", "message": {"text": partial}}]
    return described


def reporting_descriptor(alert: Alert) -> dict[str, Any]:
    rule = alert.rule
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": rule.title,
        "shortDescription": {"text": rule.title},
        "defaultConfiguration": {"level": SARIF_LEVELS.get(rule.level, "warning")},
        "properties": {"tags": list(rule.tags), "sigma_level": rule.level, "path": rule.path},
    }
    if rule.description:
        descriptor["fullDescription"] = {"text": rule.description}
    return descriptor


def result(alert: Alert, rule_index: int) -> dict[str, Any]:
    data = alert.to_dict()
    summary = data["summary"]
    what = summary.get("command_line") or summary.get("event_name") or summary.get("process") or ""
    message = f"{alert.rule.title} on {alert.host or 'an unknown host'}"
    if what:
        message += f": {str(what)[:500]}"
    return {
        "ruleId": alert.rule.id,
        "ruleIndex": rule_index,
        "level": SARIF_LEVELS.get(alert.rule.level, "warning"),
        "message": {"text": message},
        "locations": [location(alert)] if alert.events else [],
        "partialFingerprints": {"watchpostAlertId/v1": data["id"]},
        "properties": {"timestamp": data["timestamp"], "host": data["host"],
                       "techniques": data["techniques"], "summary": summary,
                       "event_count": len(alert.events)},
    }


def location(alert: Alert) -> dict[str, Any]:
    origin = alert.events[0].origin
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(origin.path.replace("\\", "/"))}}
    if origin.kind == "line" and isinstance(origin.record, int) and origin.record >= 1:
        physical["region"] = {"startLine": origin.record}
    return {"physicalLocation": physical}
