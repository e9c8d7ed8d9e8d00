"""The HTML report in a real browser (headless Chromium): hostile log content runs no script and
fetches nothing; and the screenshot of the report on the bundled examples, showing the timeline.

To refresh the committed docs/report-screenshot.png:

    WATCHPOST_UPDATE_SCREENSHOT=1 python3 -m pytest tests/sinks/test_html_browser.py -k screenshot
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT
from tests.sinks.browser import RecordingServer, audit_dom, find_chromium, run_chromium
from tests.sinks.hostile import MARKUP, fetching_payloads, write_hostile_case
from tests.sinks.png_pixels import count_colour, png_size
from watchpost.cli import main
from watchpost.sinks.timeline import LEVEL_COLOURS

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)"
)
SCREENSHOT = PROJECT / "docs" / "report-screenshot.png"


def render_html(*args: str) -> str:
    result = CliRunner().invoke(main, ["hunt", *args, "--format", "html", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def example_inputs() -> list[str]:
    """The bundled examples, or the seed test case while examples/ does not exist yet."""
    examples = PROJECT / "examples"
    if examples.is_dir() and any(examples.iterdir()):
        return [str(examples)]
    return [str(path) for path in sorted((PROJECT / "tests" / "fixtures" / "seed").glob("*.xml"))]


def test_the_harness_sees_scripts_and_fetches_of_an_unsafe_page(tmp_path: Path) -> None:
    """Control: the same payloads on a page without escaping or CSP do run and fetch."""
    assert CHROMIUM is not None
    with RecordingServer() as server:
        probe = server.base + "/probe"
        # Without the meta refresh, which would navigate away before the DOM is dumped, and
        # without alert(), whose dialog would hold a headless browser until the timeout.
        live = [p for p in fetching_payloads(probe) if "http-equiv" not in p]
        unsafe = "<html><body>" + "".join(live) + "</body></html>"
        server.pages["/unsafe.html"] = unsafe.encode()
        result = run_chromium(CHROMIUM, server.base + "/unsafe.html", tmp_path / "profile")
    fetched = {path for path in server.requests if path.startswith("/probe")}
    assert {"/probe/script-inline", "/probe/img-src", "/probe/img-onerror", "/probe/iframe"} <= fetched
    audit = audit_dom(result.stdout)
    assert audit.scripts > 0 and audit.handlers and audit.outside


def test_hostile_log_content_runs_no_script_and_fetches_nothing(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    with RecordingServer() as server:
        log, rule = write_hostile_case(tmp_path, probe_base=server.base + "/probe")
        html = render_html(str(log), "--rules", str(rule))
        server.pages["/report.html"] = html.encode()
        result = run_chromium(CHROMIUM, server.base + "/report.html", tmp_path / "profile")
    assert server.requests == ["/report.html"], f"the report made the browser fetch: {server.requests}"
    audit = audit_dom(result.stdout)
    assert "details" in audit.tags and "svg" in audit.tags, "the browser did not render the report"
    assert audit.scripts == 0
    assert audit.handlers == []
    assert audit.outside == []
    shown = "".join(audit.text)
    for payload in (*MARKUP, *fetching_payloads(server.base + "/probe")):
        assert payload in shown, f"payload not shown as text: {payload!r}"
    assert "\\u202e" in shown and "\u202e" not in shown
    assert "\\x1b[31mRED" in shown and "\x1b" not in shown


def test_screenshot_of_the_report_on_the_examples_shows_the_timeline(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    report = tmp_path / "report.html"
    report.write_text(render_html(*example_inputs(), "--tz", "+01:00"), encoding="utf-8")
    dom = audit_dom(run_chromium(CHROMIUM, report.as_uri(), tmp_path / "profile-dom").stdout)
    assert {"svg", "rect", "circle"} <= dom.tags
    shot = tmp_path / "report-screenshot.png"
    result = run_chromium(CHROMIUM, report.as_uri(), tmp_path / "profile", screenshot=shot)
    assert shot.exists(), result.stderr[-2000:]
    assert png_size(shot) == (1280, 1600)
    # The timeline's bars and marks are drawn in the level colours: they must be on the picture.
    drawn = sum(count_colour(shot, hex_rgb(colour)) for colour in LEVEL_COLOURS.values())
    assert drawn > 500, "no timeline bars on the screenshot"
    if os.environ.get("WATCHPOST_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, SCREENSHOT)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
