"""watchpost's Splunk and Lucene backends write what the official pySigma backends write.

The golden files hold the official backends' output (pySigma 1.5, no pipeline) for ~150 SigmaHQ
Windows rules chosen to cover every modifier they use, plus the hand-written rules of
`tests/fixtures/convert/rules` for the modifiers SigmaHQ does not use; `bench/make_convert_golden.py`
made them. Every rule must convert to exactly the golden queries, or fail where the official backend
failed, except the differences listed in KNOWN_DIFFERENCES, each with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule

from tests.conftest import PROJECT, SHARED
from watchpost.backends import LuceneBackend, SplunkBackend

GOLDEN = PROJECT / "tests" / "fixtures" / "convert"
BACKENDS: dict[str, Any] = {"splunk": SplunkBackend, "lucene": LuceneBackend}
KEYWORD_REGEX = "tests/fixtures/convert/rules/keyword_regex.yml"
ALL_DEFERRED = "tests/fixtures/convert/rules/regex_flags.yml"

# (target, rule path) -> why watchpost's output differs from the official backend's, and what it is.
KNOWN_DIFFERENCES: dict[tuple[str, str], tuple[str, list[str] | None]] = {
    ("splunk", KEYWORD_REGEX): (
        "the official backend writes a field-less regular expression as a plain search term "
        "(`net(1)?\\\\s+view`), which Splunk searches as literal text, not as a regex: watchpost "
        "refuses the rule instead of writing a query that finds something else",
        None),
    ("splunk", ALL_DEFERRED): (
        "a condition made only of regular expressions ANDed together converts to nothing in pySigma "
        "1 (the official backend drops the rule); pySigma 2 keeps it as a search of everything "
        "filtered by each `| regex`",
        ['*\n| regex CommandLine="(?i)net\\\\s+use\\\\s+\\"[a-z]:\\""\n'
         '| regex ParentCommandLine="(?m)^/c .*$"\n| regex Details="(?s)a.b/c"']),
}


def golden_records(target: str) -> list[dict[str, Any]]:
    lines = (GOLDEN / f"golden_{target}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]


def rule_file(record: dict[str, Any]) -> Path:
    root = SHARED / "sigma" if record["base"] == "sigma" else PROJECT
    return root / str(record["path"])


def convert(target: str, record: dict[str, Any]) -> list[str]:
    rule = SigmaRule.from_yaml(rule_file(record).read_text(encoding="utf-8"))
    return list(BACKENDS[target]().convert_rule(rule))


CASES = [(target, record) for target in BACKENDS for record in golden_records(target)]


@pytest.mark.parametrize(("target", "record"), CASES, ids=[f"{t}:{r['path']}" for t, r in CASES])
def test_a_rule_converts_as_the_official_backend_converts_it(target: str, record: dict[str, Any]) -> None:
    known = KNOWN_DIFFERENCES.get((target, record["path"]))
    if known is not None:
        reason, expected = known
        if expected is None:
            with pytest.raises(SigmaFeatureNotSupportedByBackendError):
                convert(target, record)
        else:
            assert convert(target, record) == expected, reason
        return
    if "error" in record:  # the official backend refused it: so must watchpost's, with a Sigma error
        with pytest.raises(SigmaFeatureNotSupportedByBackendError):
            convert(target, record)
    else:
        assert convert(target, record) == record["queries"]


def test_the_golden_sample_covers_every_modifier_and_value_kind() -> None:
    records = golden_records("splunk")
    assert len([r for r in records if r["base"] == "sigma"]) >= 150
    texts = "\n".join(rule_file(r).read_text(encoding="utf-8") for r in records)
    for modifier in ("contains", "startswith", "endswith", "all", "re", "cidr", "base64offset", "base64",
                     "windash", "exists", "gt", "gte", "lt", "lte", "cased", "fieldref", "neq", "wide",
                     "utf16be", "re|i", "re|m", "re|s"):
        assert f"|{modifier}" in texts, modifier
    assert ": null" in texts and "keywords:" in texts


def test_every_known_difference_is_still_a_difference() -> None:
    for (target, path), (_, expected) in KNOWN_DIFFERENCES.items():
        record = next(r for r in golden_records(target) if r["path"] == path)
        assert record.get("queries") != expected, f"{target} {path} agrees now: drop it from the list"


def test_refusals_name_the_construct() -> None:
    record = {"base": "repo", "path": "tests/fixtures/convert/rules/cased.yml"}
    for target in BACKENDS:
        with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="Case-sensitive"):
            convert(target, record)
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="regular expression"):
        convert("lucene", {"base": "repo", "path": KEYWORD_REGEX})


def test_splunk_moves_only_anded_terms_before_the_rex_commands() -> None:
    from watchpost.backends.splunk import move_plain_terms_first

    rex = '\n| rex field=C "(?<CMatch>x)"\n| eval CCondition=if(isnotnull(CMatch), "true", "false")'
    assert (move_plain_terms_first(rex + '\n| search A="a b" B=1 CCondition="true"')
            == 'A="a b" B=1' + rex + '\n| search CCondition="true"')
    # a term ORed with what follows stays where it is: moving it would AND it with the rest
    query = rex + '\n| search A="a" OR CCondition="true"'
    assert move_plain_terms_first(query) == query


def test_splunk_rex_group_names_stay_within_splunks_limit() -> None:
    from sigma.conversion.state import ConversionState

    from watchpost.backends.splunk import GROUP_NAME_LIMIT, SplunkRegexFlag

    field = "winlog.event_data.AVeryLongFieldNameThatGoesOnAndOn"
    first = SplunkRegexFlag(ConversionState(), field, "x", 1)
    second = SplunkRegexFlag(ConversionState(), field, "y", 2)
    assert len(first.group_name) <= GROUP_NAME_LIMIT and first.group_name.endswith("Match")
    assert second.group_name.endswith("Match2") and second.group_name != first.group_name
    assert first.condition_field == "AVeryLongFieldNameThatGoesOnAndOnCondition"
    assert "rex field=winlog.event_data." in first.finalize_expression()
