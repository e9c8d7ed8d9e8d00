"""An ATT&CK Navigator layer (layer format 4.5) scoring each detected technique by its alerts.

Open the file in the ATT&CK Navigator ("Open Existing Layer" -> "Upload from local"). A technique's
score is its number of alerts; its comment names the rules that fired and how often; its metadata
lists the hosts. A detected sub-technique also marks its parent ``showSubtechniques`` so it is
visible in the matrix.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import IO, Any

import orjson

from watchpost.alerts import Alert
from watchpost.sinks.run_info import RunInfo

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "5.2.0"
ATTACK_VERSION = "18"
DOMAIN = "enterprise-attack"
GRADIENT = ["#fff3e0", "#ff9800", "#c62828"]
MAX_NAMED = 10


class NavigatorSink:
    """Counts alerts per technique and writes the layer at close."""

    def __init__(self, stream: IO[bytes], run_info: Callable[[], RunInfo] | None = None) -> None:
        self._stream = stream
        self._run_info = run_info or RunInfo
        self._rules: dict[str, Counter[str]] = defaultdict(Counter)
        self._hosts: dict[str, Counter[str]] = defaultdict(Counter)
        self._alerts = 0

    def write(self, alert: Alert) -> None:
        self._alerts += 1
        for technique in alert.techniques:
            self._rules[technique][alert.rule.title] += 1
            self._hosts[technique][alert.host or "(unknown host)"] += 1

    def close(self) -> None:
        layer = build_layer(self._rules, self._hosts, self._alerts, self._run_info())
        self._stream.write(orjson.dumps(layer, option=orjson.OPT_INDENT_2) + b"\n")
        self._stream.flush()


def build_layer(rules: dict[str, Counter[str]], hosts: dict[str, Counter[str]], alerts: int,
                info: RunInfo) -> dict[str, Any]:
    """The layer as a JSON-ready dict."""
    techniques: list[dict[str, Any]] = []
    scores = {technique: sum(counter.values()) for technique, counter in rules.items()}
    for technique in sorted(scores):
        techniques.append({
            "techniqueID": technique,
            "score": scores[technique],
            "comment": describe_counts(rules[technique], "alert"),
            "enabled": True,
            "metadata": [{"name": "hosts", "value": describe_counts(hosts[technique], "alert")}],
            "showSubtechniques": any(other.startswith(technique + ".") for other in scores),
        })
    for parent in sorted({t.split(".")[0] for t in scores if "." in t} - set(scores)):
        techniques.append({"techniqueID": parent, "enabled": True, "showSubtechniques": True})
    peak = max(scores.values(), default=0)
    inputs = ", ".join(info.inputs[:MAX_NAMED]) + (" ..." if len(info.inputs) > MAX_NAMED else "")
    return {
        "name": "watchpost hunt",
        "versions": {"attack": ATTACK_VERSION, "navigator": NAVIGATOR_VERSION, "layer": LAYER_VERSION},
        "domain": DOMAIN,
        "description": (f"{alerts} alerts from watchpost {info.version} over {inputs or 'no input'}"
                        + (f". {info.partial_note()}" if info.partial_note() else "")),
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "showName": True},
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": GRADIENT, "minValue": 0, "maxValue": max(peak, 1)},
        "legendItems": [
            {"label": "1 alert", "color": GRADIENT[0]},
            {"label": f"{max(peak, 1)} alerts (most)", "color": GRADIENT[-1]},
        ],
        "showTacticRowBackground": False,
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "metadata": [{"name": "generated", "value": info.generated.isoformat()},
                     {"name": "events read", "value": str(info.events)}],
    }


def describe_counts(counts: Counter[str], noun: str) -> str:
    """``rule A (3 alerts); rule B (1 alert)``, the most frequent first, at most `MAX_NAMED`."""
    parts = [f"{name} ({n} {noun}{'' if n == 1 else 's'})" for name, n in counts.most_common(MAX_NAMED)]
    if len(counts) > MAX_NAMED:
        parts.append(f"and {len(counts) - MAX_NAMED} more")
    return "; ".join(parts)
