"""What the rule cache stores besides the matchers answers as it did when built: the variants'
literal sets, the prefilter rebuilt from them, and RE2 expressions compiled only when first used."""

from __future__ import annotations

import io
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
import re2

from tests.conftest import SHARED
from watchpost.events import WINDOWS, Event, Origin
from watchpost.hunting import rule_cache
from watchpost.hunting.ruleset import RuleSet, build_ruleset, literal_requirement, load_ruleset
from watchpost.matching.re2_calls import LazyRegex, Re2Test, compile_re2
from watchpost.matching.string_patterns import TextPattern
from watchpost.problems import ProblemLog
from watchpost.readers.registry import read_events

EVTX = SHARED / "samples" / "windows" / "evtx"
HEAD = "title: {title}\nid: 5d0c2a61-0000-4000-8000-00000000000{n}\nlogsource: {{{logsource}}}\nlevel: low\n"
PROCESS = "category: process_creation, product: windows"
DETECTIONS = {
    "regex": "detection:\n  sel: {Image|re: '(?i)\\\\(net1?|netstat|whoami)\\.exe$'}\n  condition: sel\n",
    "wildcard": "detection:\n  sel: {CommandLine: '*net?stat*'}\n  condition: sel\n",
    "contains list": (
        "detection:\n  sel: {CommandLine|contains: [netstat, whoami, ' -ano', ipconfig, 'net use', "
        "'net view', arp, route, nbtstat, quser]}\n  condition: sel\n"
    ),
    "and of sets": (
        "detection:\n  img: {Image|endswith: ['\\\\cmd.exe', '\\\\powershell.exe', '\\\\netstat.exe']}\n"
        "  cmd: {CommandLine|contains: ['/c', '-ano', 'Get-NetTCPConnection']}\n"
        "  par: {ParentImage|re: '(?i)(sql|cmd|explorer)'}\n  condition: img and cmd and par\n"
    ),
    "keywords": "detection:\n  kw: [mimikatz, 'sekurlsa', 'Invoke-']\n  condition: kw\n",
}


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("WATCHPOST_RULE_CACHE", "1")
    monkeypatch.setattr(rule_cache, "MIN_LOAD_SECONDS", 0.0)
    folder = tmp_path / "rules"
    folder.mkdir()
    for n, (title, detection) in enumerate(DETECTIONS.items()):
        logsource = "product: windows" if title == "keywords" else PROCESS
        text = HEAD.format(title=title, n=n, logsource=logsource) + detection
        (folder / f"r{n}.yml").write_text(text)
    return folder


def cached_and_built(rules: Path) -> tuple[RuleSet, RuleSet]:
    load_ruleset([rules])  # builds and stores
    cached = load_ruleset([rules])
    assert len(list((rules.parent / "cache" / "watchpost").glob("rules-*.pickle"))) == 1
    return cached, build_ruleset([rules])


def sample_events() -> list[Event]:
    events = list(read_events([EVTX], ProblemLog()))
    origin = Origin("<test>", 1, "made")
    when = datetime(2024, 1, 1, tzinfo=UTC)
    sysmon = {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1}
    made = [
        {"Image": "C:\\Windows\\System32\\NETSTAT.EXE", "CommandLine": "netstat -ano",
         "ParentImage": "C:\\Windows\\System32\\cmd.exe"},
        {"Image": "C:\\W\\cmd.exe", "CommandLine": "cmd /c dir", "ParentImage": "x\\SQLServr.exe"},
        {"Image": "C:\\W\\cmd.exe", "CommandLine": "cmd /c dir", "ParentImage": "x\\svchost.exe"},
        {"Image": "C:\\t\\a.exe", "CommandLine": "a net-stat b", "Comment": "run Mimikatz now"},
        {"Image": "C:\\t\\a.exe", "CommandLine": "nothing at all"},
    ]
    return events + [Event(when, {**sysmon, **fields}, origin, WINDOWS) for fields in made]


def test_a_cached_index_keeps_every_variants_literal_sets(rules: Path) -> None:
    cached, built = cached_and_built(rules)
    assert len(cached.index.variants) == len(built.index.variants) > len(DETECTIONS)  # Sysmon, 4688
    for restored, fresh in zip(cached.index.variants, built.index.variants, strict=True):
        assert restored.literals == fresh.literals == literal_requirement(fresh.variant)
        assert restored.literals == literal_requirement(restored.variant)  # from the restored tree
    assert {v.rule.meta.title for v in cached.index.variants if len(v.literals) > 1} == {"and of sets"}


def test_a_cached_prefilter_answers_as_a_freshly_built_one(rules: Path) -> None:
    cached, built = cached_and_built(rules)
    restored, fresh = cached.index._prefilter, built.index._prefilter
    assert restored is not None and fresh is not None
    assert restored.filtered == fresh.filtered and restored.other_sets == fresh.other_sets
    everyone = fresh.filtered
    matched = set()
    for event in sample_events():
        expected = fresh.passing(event, fresh.fields_for(everyone), everyone)
        assert restored.passing(event, restored.fields_for(everyone), everyone) == expected
        ids = [rule.meta.id for rule in built.index.match(event)]
        assert [rule.meta.id for rule in cached.index.match(event)] == ids
        matched.update(ids)
    assert len(matched) == len(DETECTIONS)  # every kind of rule was exercised by a match


def test_cached_expressions_compile_when_first_used(rules: Path) -> None:
    cached, _ = cached_and_built(rules)
    lazy = [test for test in _re2_tests(cached) if isinstance(test.regex, LazyRegex)]
    assert lazy and all(test.regex._compiled is None for test in lazy)
    for event in sample_events():
        list(cached.index.match(event))
    assert any(test.regex._compiled is not None for test in lazy)


def _re2_tests(ruleset: RuleSet) -> list[Re2Test]:
    """Every `Re2Test` reachable from the rule set's matchers (bound ``__call__`` methods)."""
    return [item for item in _reachable(ruleset) if isinstance(item, Re2Test)]


def _reachable(ruleset: RuleSet) -> list[object]:
    """Every object reachable from the rule set's detections through slots, tuples and bound
    methods (compiled expressions are not looked into: that would compile them)."""
    found: list[object] = []
    seen: set[int] = set()
    stack: list[object] = [rule for rule in ruleset.detections]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, LazyRegex):
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, tuple | list | frozenset):
            stack.extend(item)
        elif hasattr(item, "__slots__"):
            stack.extend(getattr(item, name, None) for name in _slots(type(item)))
        owner = getattr(item, "__self__", None)
        if owner is not None:
            stack.append(owner)
    return found


def _slots(cls: type) -> list[str]:
    return [name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())]


def test_equal_patterns_are_one_object_in_a_cached_rule_set(rules: Path) -> None:
    again = HEAD.format(title="same values", n=9, logsource=PROCESS) + DETECTIONS["and of sets"]
    (rules / "r9.yml").write_text(again)
    cached, built = cached_and_built(rules)
    for ruleset, shared in ((cached, True), (built, False)):
        objects = [item for item in _reachable(ruleset) if isinstance(item, TextPattern)]  # once each
        assert (len(objects) == len(set(objects))) is shared  # built: equal values, several objects
    for event in sample_events():
        assert [r.meta.id for r in cached.index.match(event)] == [r.meta.id for r in built.index.match(event)]


def test_a_lazy_expression_matches_as_the_compiled_one() -> None:
    regex = compile_re2("(?i)n[e\u00e9]t\\s+use|\\.exe$", "test")
    buffer = io.BytesIO()  # the cache's pickler writes compiled expressions as LazyRegex
    tests = (Re2Test(regex), Re2Test(regex, full=True), regex)
    rule_cache._RulePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(tests)
    search, full, alone = pickle.loads(buffer.getvalue())
    assert isinstance(alone, LazyRegex) and alone is search.regex and alone._compiled is None
    assert alone.pattern == regex.pattern and not search.regex._compiled
    for text in ("x NÉT  USE y", "net", "a.EXE", "a.exe", "net use", ""):
        assert search(text) is (regex.search(text) is not None), text
        assert full(text) is (regex.fullmatch(text) is not None), text
    assert isinstance(alone._compiled, re2._Regexp)  # compiled once, shared by both tests
    again = pickle.loads(pickle.dumps(alone))
    assert isinstance(again, LazyRegex) and again._compiled is None and again.search("NET USE")
