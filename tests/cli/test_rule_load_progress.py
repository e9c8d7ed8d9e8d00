"""The count shown while a rule set loads (issue 14, item 4): on a terminal only, never quiet."""

from __future__ import annotations

import io
from pathlib import Path

from watchpost.hunting.ruleset import build_ruleset
from watchpost.progress import RULE_PROGRESS_DELAY, RuleLoadProgress, rule_load_progress
from watchpost.rules.model import COMPILING, READING


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_count_shows_after_the_delay_and_is_erased_at_the_end() -> None:
    err, clock = Terminal(), Clock()
    progress = RuleLoadProgress(err, clock=clock)
    progress(READING, 1, 2)
    assert err.getvalue() == ""  # a small pack loads before the delay: nothing drawn
    clock.now += RULE_PROGRESS_DELAY + 0.01
    progress(READING, 2, 2)
    clock.now += 1
    progress(COMPILING, 1500, 3000)
    assert err.getvalue().endswith("\r\x1b[2Kcompiling rules 1,500/3,000")
    assert "reading rule files 2/2" in err.getvalue()
    progress(COMPILING, 1501, 3000)  # too soon after the last redraw
    assert "1,501" not in err.getvalue()
    progress(COMPILING, 3000, 3000)
    assert err.getvalue().endswith("\r\x1b[2K")  # erased before the hunt writes anything


def test_no_progress_when_not_a_terminal_or_quiet() -> None:
    assert rule_load_progress(io.StringIO(), quiet=False) is None
    assert rule_load_progress(Terminal(), quiet=True) is None
    assert isinstance(rule_load_progress(Terminal(), quiet=False), RuleLoadProgress)


def test_loading_a_rule_set_draws_the_counts(tmp_path: Path) -> None:
    for number in range(4):
        (tmp_path / f"r{number}.yml").write_text(
            f"title: Rule {number}\nlogsource:\n  product: windows\ndetection:\n  sel:\n"
            f"    Image|endswith: '\\\\x{number}.exe'\n  condition: sel\n")
    err, clock = Terminal(), Clock()
    progress = RuleLoadProgress(err, clock=clock)

    def slow(stage: str, done: int, total: int) -> None:
        clock.now += 1  # each step "takes" a second: every count is drawn
        progress(stage, done, total)

    ruleset = build_ruleset([tmp_path], progress=slow)
    assert len(ruleset.detections) == 4
    text = err.getvalue()
    assert "reading rule files 4/4" in text and "compiling rules 3/4" in text
    assert text.endswith("\r\x1b[2K")
