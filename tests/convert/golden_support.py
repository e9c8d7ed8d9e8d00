"""The records of the correlation golden file: what each built-in target writes for the pack's rules
and the correlation-type fixtures (made by `bench/make_convert_golden.py --correlations`, compared
by `test_correlation_golden.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from watchpost.backends import BUILTIN_BACKENDS
from watchpost.backends.pack_conversion import convert_pack
from watchpost.hunting.ruleset import default_translators
from watchpost.rules.loader import load_rules
from watchpost.rules.meta import describe_rule

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "convert" / "golden_correlations.jsonl"
RULE_FOLDERS = (ROOT / "src" / "watchpost" / "packs" / "t1049",
                ROOT / "tests" / "fixtures" / "convert" / "correlations")
TARGETS = ("splunk", "sparksql", "esql", "eql", "lucene")
# Targets whose detection queries are recorded too (splunk's and lucene's are checked against the
# official backends by test_backends.py).
DETECTIONS_TOO = frozenset({"sparksql", "esql", "eql"})


def rule_files() -> list[Path]:
    return sorted(path for folder in RULE_FOLDERS for path in folder.rglob("*.yml")
                  if not path.name.endswith(".tests.yml"))


def golden_records() -> Iterator[dict[str, Any]]:
    """One record per target and output rule (helpers included), in a stable order."""
    for target in TARGETS:
        for path in rule_files():
            loaded = load_rules([path], translators=default_translators())
            conversion = convert_pack(BUILTIN_BACKENDS[target](), loaded, "default", include_helpers=True)
            relative = path.relative_to(ROOT).as_posix()
            for item in conversion.converted:
                meta = describe_rule(item.rule, item.path)
                if meta.kind == "correlation" or target in DETECTIONS_TOO:
                    yield {"target": target, "path": relative, "kind": meta.kind,
                           "type": correlation_type(item.rule), "title": meta.title,
                           "queries": [str(query) for query in item.queries]}
            for failure in conversion.failed:
                yield {"target": target, "path": relative, "kind": failure.kind, "title": failure.title,
                       "type": correlation_type(next((c.rule for c in loaded.correlations
                                                      if str(c.rule.title) == failure.title), None)),
                       "error": failure.reason}


def correlation_type(rule: Any) -> str | None:
    kind = getattr(rule, "type", None)
    return str(kind.name).lower() if kind is not None else None
