"""Make the golden conversions that `tests/convert/test_backends.py` compares watchpost's backends with.

The reference is the official pySigma backends (pysigma-backend-splunk, pysigma-backend-elasticsearch),
which only install with pySigma < 2, so this script runs in a separate virtual environment OUTSIDE the
repository, never in watchpost's own (it is not run by the test suite):

    python3 -m venv /tmp/pysigma1
    /tmp/pysigma1/bin/pip install 'pysigma<2' pysigma-backend-splunk pysigma-backend-elasticsearch
    /tmp/pysigma1/bin/python bench/make_convert_golden.py            # from the repository root

It picks about 150 SigmaHQ Windows rules (every rule using a rarely used modifier or value kind first,
then an even spread over the rest, all in path order so the choice is reproducible), converts each
with the official backends and no processing pipeline (field names stay Sigma's), and writes
`tests/fixtures/convert/golden_splunk.jsonl` and `golden_lucene.jsonl`: one object per rule with its
path (relative to the sigma folder, or for the hand-written rules of `tests/fixtures/convert/rules`
to the repository) and either its queries or the error the backend raised.

With `--correlations` it runs in watchpost's own environment instead and writes
`tests/fixtures/convert/golden_correlations.jsonl`: what watchpost's built-in targets (splunk,
sparksql, esql, eql, lucene) write for every rule of the pack and of
`tests/fixtures/convert/correlations` (one rule file per correlation type), correlations and helper
rules included, or why they refuse it. There is no reference backend for correlations: these
queries were read one by one when the file was made, and `tests/convert/test_semantics_*.py` run
the SQL ones against the engine; the golden file pins them so that a change shows in review.

    python3 bench/make_convert_golden.py --correlations             # from the repository root
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SIGMA = ROOT.parent / "shared" / "sigma"
OUT = ROOT / "tests" / "fixtures" / "convert"
# Hand-written rules for what no SigmaHQ Windows rule uses (exists, gt/lt, cased, regex flags, unbound
# regex, IPv6 networks, reserved characters in values and field names, several conditions, fields).
MODIFIER_RULES = OUT / "rules"
SAMPLE_SIZE = 150
PER_FEATURE = 5


def detection_features(detection: dict[str, Any]) -> set[str]:
    """The modifiers and value kinds one rule's detection uses (e.g. 'contains', 'keywords', 'null')."""
    features: set[str] = set()
    for name, item in detection.items():
        if name in ("condition", "timeframe"):
            continue
        for field_map in item if isinstance(item, list) else [item]:
            if not isinstance(field_map, dict):
                features.add("keywords")
                continue
            for key, value in field_map.items():
                features.update(modifier for modifier in str(key).split("|")[1:])
                for one in value if isinstance(value, list) else [value]:
                    if one is None:
                        features.add("null")
                    elif isinstance(one, bool):
                        features.add("bool")
                    elif isinstance(one, int | float):
                        features.add("number")
                    elif isinstance(one, str) and "?" in one:
                        features.add("single-wildcard")
    condition = detection.get("condition")
    conditions = condition if isinstance(condition, list) else [condition]
    if any(" of " in str(one) for one in conditions):
        features.add("x-of")
    if any("not " in str(one) for one in conditions):
        features.add("not")
    return features


def windows_rules() -> Iterator[tuple[Path, set[str]]]:
    for path in sorted((SIGMA / "rules" / "windows").rglob("*.yml")):
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            continue
        if len(documents) != 1 or not isinstance(documents[0], dict):
            continue
        detection = documents[0].get("detection")
        if isinstance(detection, dict) and "correlation" not in documents[0]:
            yield path, detection_features(detection)


def choose_rules() -> list[Path]:
    rules = list(windows_rules())
    chosen: dict[Path, None] = {}
    common = {"contains", "endswith", "startswith", "not", "x-of"}
    counts: dict[str, int] = {}
    for path, features in rules:
        rare = [feature for feature in sorted(features - common) if counts.get(feature, 0) < PER_FEATURE]
        if rare:
            chosen[path] = None
            for feature in features:
                counts[feature] = counts.get(feature, 0) + 1
    rest = [path for path, _ in rules if path not in chosen]
    missing = max(SAMPLE_SIZE - len(chosen), 0)
    step = max(len(rest) // max(missing, 1), 1)
    for path in rest[::step][:missing]:
        chosen[path] = None
    return sorted(chosen)


def convert_all(backend: Any, paths: list[Path]) -> Iterator[dict[str, Any]]:
    from sigma.rule import SigmaRule

    for path in paths:
        base, root = ("sigma", SIGMA) if path.is_relative_to(SIGMA) else ("repo", ROOT)
        record: dict[str, Any] = {"base": base, "path": path.relative_to(root).as_posix()}
        try:
            rule = SigmaRule.from_yaml(path.read_text(encoding="utf-8"))
            record["queries"] = backend.convert_rule(rule)
        except Exception as error:  # the reference's refusals are part of the golden data
            record["error"] = type(error).__name__
            record["message"] = str(error)
        yield record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--correlations", action="store_true",
                        help="write golden_correlations.jsonl from watchpost's own backends")
    args = parser.parse_args()
    if args.correlations:
        return write_correlation_golden(args.out)
    if version("pysigma").startswith("2."):
        print("run this with pySigma < 2 and the official backends (see the module docstring)",
              file=sys.stderr)
        return 2
    from sigma.backends.elasticsearch import LuceneBackend
    from sigma.backends.splunk import SplunkBackend

    paths = choose_rules() + sorted(MODIFIER_RULES.glob("*.yml"))
    args.out.mkdir(parents=True, exist_ok=True)
    references = {"splunk": (SplunkBackend, "pysigma-backend-splunk"),
                  "lucene": (LuceneBackend, "pysigma-backend-elasticsearch")}
    for name, (backend_class, package) in references.items():
        target = args.out / f"golden_{name}.jsonl"
        with target.open("w", encoding="utf-8") as stream:
            header = {"generator": "bench/make_convert_golden.py", "pysigma": version("pysigma"),
                      "backend": f"{package} {version(package)}", "rules": len(paths)}
            stream.write(json.dumps(header) + "\n")
            for record in convert_all(backend_class(), paths):
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"{target}: {len(paths)} rules", file=sys.stderr)
    return 0


def write_correlation_golden(out: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.convert.golden_support import golden_records

    target = out / "golden_correlations.jsonl"
    records = list(golden_records())
    with target.open("w", encoding="utf-8") as stream:
        header = {"generator": "bench/make_convert_golden.py --correlations", "pysigma": version("pysigma"),
                  "records": len(records)}
        stream.write(json.dumps(header) + "\n")
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{target}: {len(records)} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
