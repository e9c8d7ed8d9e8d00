"""One self-contained HTML report: summary counts, a timeline, and every alert with its events.

Log content is hostile, so the report is built to be inert:

- rendered by jinja2 with autoescaping on: every value from a log or a rule is text, never markup;
- no script at all, no link to anything outside the file (the timeline is inline SVG drawn here,
  tooltips are SVG ``<title>`` elements, alert details are ``<details>`` elements);
- a Content-Security-Policy meta tag (`CSP`) that forbids scripts, frames, fonts, connections and
  any image that is not a ``data:`` URL, so even a mistake in escaping could not run or fetch;
- control characters and bidirectional overrides are shown as ``\\xNN`` / ``\\uNNNN``, and long
  values are cut (`VALUE_LIMIT`), so a 100 kB field does not swell the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import IO, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from watchpost.alerts import Alert
from watchpost.event_context import event_channel, event_code
from watchpost.events import Event
from watchpost.rules.model import LEVELS, level_rank
from watchpost.sinks.display_time import format_display_time, format_offset
from watchpost.sinks.report_context import HuntDescription
from watchpost.sinks.run_info import RunInfo
from watchpost.sinks.terminal_text import visible_text
from watchpost.sinks.timeline import LEVEL_COLOURS, build_timeline

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")
VALUE_LIMIT = 2000
MAX_ALERTS_DETAILED = 2000
MAX_EVENTS_PER_ALERT = 20
MAX_COUNTS_SHOWN = 25
MAX_HOST_FILTERS = 40
MAX_RULES_LISTED = 2000
RULE_FIELDS = ("id", "kind", "status", "path", "author", "description")


@dataclass(frozen=True)
class Count:
    label: str
    count: int
    colour: str = ""


def text(value: object, limit: int = VALUE_LIMIT) -> str:
    """A log or rule value as safe, visible, bounded text (markup escaping is the template's)."""
    return visible_text("" if value is None else str(value), limit)


class HtmlSink:
    """Collects alerts and renders the report at close."""

    def __init__(self, stream: IO[str], tz: tzinfo = UTC,
                 run_info: Callable[[], RunInfo] | None = None,
                 description: HuntDescription | None = None) -> None:
        self._stream = stream
        self._tz = tz
        self._run_info = run_info or RunInfo
        self._description = description or HuntDescription()
        self._alerts: list[Alert] = []

    def write(self, alert: Alert) -> None:
        self._alerts.append(alert)

    def close(self) -> None:
        self._stream.write(render_report(self._alerts, self._tz, self._run_info(), self._description))
        self._stream.flush()


def render_report(alerts: list[Alert], tz: tzinfo, info: RunInfo,
                  description: HuntDescription | None = None) -> str:
    """The whole report as one HTML string."""
    environment = Environment(loader=PackageLoader("watchpost", "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = environment.get_template("report.html.j2")
    ordered = sorted(alerts, key=lambda a: a.timestamp)
    described = description or HuntDescription()
    host_numbers = filter_hosts(alerts)
    return template.render(
        csp=CSP,
        info=info,
        generated=format_display_time(info.generated, tz),
        offset=format_offset(info.generated.astimezone(tz)),
        total=len(alerts),
        levels=level_counts(alerts),
        hosts=top_counts(Counter(a.host or "(unknown host)" for a in alerts)),
        techniques=top_counts(Counter(t for a in alerts for t in a.techniques)),
        rules=top_counts(Counter(a.rule.title for a in alerts)),
        timeline=build_timeline(ordered, tz),
        alerts=[alert_view(a, n, tz, host_numbers) for n, a in enumerate(ordered[:MAX_ALERTS_DETAILED], 1)],
        not_detailed=max(0, len(alerts) - MAX_ALERTS_DETAILED),
        inputs=[text(item, 300) for item in info.inputs[:MAX_COUNTS_SHOWN]],
        colours=LEVEL_COLOURS,
        all_levels=LEVELS,
        host_filters=[Count(text(host, 200), count) for host, count in host_numbers.values()],
        command_line=text(described.command_line, VALUE_LIMIT),
        options=[(text(flag, 100), text(value, 500)) for flag, value in described.options],
        rules_run=[{"id": text(r.id, 100), "title": text(r.title, 300), "level": text(r.level, 40),
                    "kind": text(r.kind, 40), "path": text(r.path, 500)}
                   for r in described.rules[:MAX_RULES_LISTED]],
        rules_not_listed=max(0, len(described.rules) - MAX_RULES_LISTED),
    )


def filter_hosts(alerts: list[Alert]) -> dict[str, tuple[str, int]]:
    """The hosts the report can be filtered by, most alerts first: host -> (host, count); each
    host's filter is named by its position (``host-3``), never by the host name (log content)."""
    counts = Counter(a.host or "(unknown host)" for a in alerts)
    return {host: (host, count) for host, count in counts.most_common(MAX_HOST_FILTERS)}


def level_counts(alerts: list[Alert]) -> list[Count]:
    counts = Counter(alert.rule.level for alert in alerts)
    ordered = sorted(counts, key=lambda level: -level_rank(level))
    return [Count(text(level, 40), counts[level], LEVEL_COLOURS.get(level, "#607d8b")) for level in ordered]


def top_counts(counts: Counter[str]) -> list[Count]:
    shown = [Count(text(label, 200), count) for label, count in counts.most_common(MAX_COUNTS_SHOWN)]
    rest = len(counts) - len(shown)
    if rest > 0:
        others = sum(counts.values()) - sum(c.count for c in shown)
        shown.append(Count(f"({rest} more)", others))
    return shown


def alert_view(alert: Alert, number: int, tz: tzinfo,
               host_numbers: dict[str, tuple[str, int]] | None = None) -> dict[str, Any]:
    """What the template shows of one alert; every string already made visible and bounded."""
    data = alert.to_dict()
    rule = data["rule"]
    events = data["events"]
    level = alert.rule.level
    host = alert.host or "(unknown host)"
    positions = {name: n for n, name in enumerate(host_numbers or {}, 1)}
    return {
        "host_class": f"host-{positions[host]}" if host in positions else "host-other",
        "number": number,
        "time": format_display_time(alert.timestamp, tz),
        "level": text(level, 40),
        "level_class": level if level in LEVELS else "unknown",
        "colour": LEVEL_COLOURS.get(level, "#607d8b"),
        "title": text(alert.rule.title, 300),
        "host": text(alert.host or "(unknown host)", 300),
        "summary": [(key, list_text(value)) for key, value in data["summary"].items()],
        "rule": [(key, text(rule[key])) for key in RULE_FIELDS if rule.get(key)],
        "lists": [(key, [text(item, 500) for item in rule[key]])
                  for key in ("tags", "falsepositives", "references") if rule.get(key)],
        "techniques": [text(t, 40) for t in data["techniques"]],
        "group": [(text(k, 200), text(v)) for k, v in data["group"].items()],
        "correlation": [(key, list_text(value)) for key, value in (data["correlation"] or {}).items()
                        if value not in ([], "")],
        "events": [event_view(event, shown, tz) for event, shown in
                   zip(alert.events[:MAX_EVENTS_PER_ALERT], events[:MAX_EVENTS_PER_ALERT], strict=True)],
        "events_total": len(events),
        "id": text(data["id"], 80),
    }


def list_text(value: object) -> str:
    """A value as text; a list (``commands``, correlation ``values``) one item per line."""
    if isinstance(value, list | tuple):
        return text("\n".join(str(item) for item in value))
    return text(value)


def event_view(event: Event, shown: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """One event behind an alert: its time, where it was read, the rule it matched, its fields."""
    return {
        "time": format_display_time(event.timestamp, tz),
        "origin": text(event.origin.describe(), 500),
        "log": text(f"{event_channel(event)} {event_code(event)}".strip(), 300),
        "rule": text(shown["rule"], 200),
        "fields": [(text(key, 200), text(value)) for key, value in shown["fields"].items()],
    }
