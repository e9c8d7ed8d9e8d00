"""The HTML report in a real browser (headless Chromium): hostile log content runs no script and
fetches nothing; the level and host filters work without script (CSS only); the page has no
horizontal scroll at 1400 px; and the screenshot of the report on the bundled examples.

To refresh the committed docs/report-screenshot.png:

    WATCHPOST_UPDATE_SCREENSHOT=1 python3 -m pytest tests/sinks/test_html_browser.py -k screenshot
"""

from __future__ import annotations

import html as html_text
import json
import os
import re
import shutil
from collections import Counter
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


def test_screenshot_of_the_report_on_the_examples_shows_the_timeline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert CHROMIUM is not None
    report = tmp_path / "report.html"
    monkeypatch.chdir(PROJECT)  # inputs as a user types them: the report records the command line
    inputs = [str(Path(path).relative_to(PROJECT)) for path in example_inputs()]
    report.write_text(render_html(*inputs, "--tz", "+01:00"), encoding="utf-8")
    dom = audit_dom(run_chromium(CHROMIUM, report.as_uri(), tmp_path / "profile-dom").stdout)
    assert {"svg", "rect", "circle"} <= dom.tags
    shot = tmp_path / "report-screenshot.png"
    result = run_chromium(CHROMIUM, report.as_uri(), tmp_path / "profile", screenshot=shot,
                          window=(1400, 1600))
    assert shot.exists(), result.stderr[-2000:]
    assert png_size(shot) == (1400, 1600)
    # The timeline's bars and marks are drawn in the level colours: they must be on the picture.
    drawn = sum(count_colour(shot, hex_rgb(colour)) for colour in LEVEL_COLOURS.values())
    assert drawn > 500, "no timeline bars on the screenshot"
    if os.environ.get("WATCHPOST_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, SCREENSHOT)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


# A page of the test (not of the report) that loads the report in a 1400 px frame, clicks the
# filter labels as a user would, and writes down which alerts the browser then shows and how wide
# the report is. The report itself holds no script (checked by the audit below).
HARNESS = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="report" src="/report.html" style="width:1400px;height:900px;border:0"></iframe>
<pre id="result">pending</pre>
<script>
document.getElementById("report").addEventListener("load", () => {
  const doc = document.getElementById("report").contentDocument;
  const shown = () => [...doc.querySelectorAll("details.alert")]
      .filter(e => getComputedStyle(e).display !== "none").map(e => e.id);
  const click = id => doc.querySelector(`label[for="${id}"]`).click();
  const out = {all: shown(), width: [doc.documentElement.scrollWidth, doc.documentElement.clientWidth]};
  if (doc.querySelector('label[for="show-level-medium"]')) {
    click("show-level-medium"); out.medium = shown();
    click("show-host-1"); out.medium_host1 = shown();
    click("show-level-all"); out.host1 = shown();
    click("show-host-all"); out.again = shown();
    out.host1_label = doc.querySelector('label[for="show-host-1"]').textContent;
  }
  document.getElementById("result").textContent = JSON.stringify(out);
});
</script></body></html>"""


def filtered_in_browser(report: str, tmp_path: Path) -> dict[str, object]:
    assert CHROMIUM is not None
    with RecordingServer({"/report.html": report.encode(), "/harness.html": HARNESS.encode()}) as server:
        result = run_chromium(CHROMIUM, server.base + "/harness.html", tmp_path / "profile",
                              window=(1500, 1000))
    found = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    assert found and found.group(1) != "pending", result.stderr[-2000:]
    return json.loads(html_text.unescape(found.group(1)))  # type: ignore[no-any-return]


def test_level_and_host_filters_work_without_script_and_the_page_fits_1400_px(tmp_path: Path) -> None:
    inputs = example_inputs()
    report = render_html(*inputs)
    audit = audit_dom(report)
    assert audit.scripts == 0 and audit.handlers == []
    result = CliRunner().invoke(main, ["hunt", *inputs, "--format", "jsonl", "-q"], catch_exceptions=False)
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    numbered = {id(a): f"alert-{n}" for n, a in enumerate(sorted(alerts, key=lambda a: a["timestamp"]), 1)}
    hosts = Counter(a["host"] or "(unknown host)" for a in alerts)
    top_host = hosts.most_common(1)[0][0]
    medium = {numbered[id(a)] for a in alerts if a["rule"]["level"] == "medium"}
    on_top_host = {numbered[id(a)] for a in alerts if (a["host"] or "(unknown host)") == top_host}
    assert medium and on_top_host and medium != set(numbered.values())

    shown = filtered_in_browser(report, tmp_path)
    assert set(shown["all"]) == set(numbered.values()) == set(shown["again"])  # type: ignore[arg-type]
    assert set(shown["medium"]) == medium  # type: ignore[arg-type]
    assert set(shown["host1"]) == on_top_host  # type: ignore[arg-type]
    assert set(shown["medium_host1"]) == medium & on_top_host  # type: ignore[arg-type]
    assert top_host in str(shown["host1_label"])
    scroll_width, client_width = shown["width"]  # type: ignore[misc]
    assert client_width == 1400 and scroll_width <= client_width, "horizontal scroll at 1400 px"


def test_a_report_of_hostile_long_values_has_no_horizontal_scroll_at_1400_px(tmp_path: Path) -> None:
    log, rule = write_hostile_case(tmp_path, probe_base="http://127.0.0.1:9/probe")
    shown = filtered_in_browser(render_html(str(log), "--rules", str(rule)), tmp_path)
    scroll_width, client_width = shown["width"]  # type: ignore[misc]
    assert client_width == 1400 and scroll_width <= client_width
