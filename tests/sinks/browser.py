"""Headless Chromium for the report tests: a recording HTTP server on 127.0.0.1, the browser run
against it, and an audit of the DOM the browser ends up with.

Chromium is Debian's ``chromium`` (CI installs it in .ci/run); tests skip only when it is absent.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--font-render-hinting=none",
)


def find_chromium() -> str | None:
    for candidate in ("chromium", "/usr/bin/chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


class RecordingServer:
    """Serves ``pages`` (path -> bytes) and records the path of every request it receives."""

    def __init__(self, pages: dict[str, bytes] | None = None) -> None:
        self.pages: dict[str, bytes] = dict(pages or {})
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                server.requests.append(self.path)
                body = server.pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body or b"not here")

            do_POST = do_GET  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def run_chromium(chromium: str, url: str, profile: Path, *, screenshot: Path | None = None,
                 window: tuple[int, int] = (1280, 1600)) -> subprocess.CompletedProcess[str]:
    """Load ``url`` and dump the DOM (scripts and loads get virtual time to happen), or screenshot it.

    A headless browser that hangs (seldom, on a loaded machine) is given one more try with a
    fresh profile; a second hang fails the test.
    """
    command = [chromium, *CHROMIUM_FLAGS, f"--window-size={window[0]},{window[1]}"]
    if screenshot is not None:
        command += [f"--screenshot={screenshot}", "--run-all-compositor-stages-before-draw"]
    else:
        command += ["--virtual-time-budget=3000", "--dump-dom"]
    for attempt in (1, 2):
        try:
            return subprocess.run([*command, f"--user-data-dir={profile}-{attempt}", url],
                                  capture_output=True, text=True, timeout=45, check=False)
        except subprocess.TimeoutExpired:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


class DomAudit(HTMLParser):
    """What a dumped DOM holds that could run or fetch: scripts, handlers, outside references."""

    LOADING_TAGS = frozenset({"iframe", "frame", "object", "embed", "base", "applet"})
    URL_ATTRIBUTES = frozenset({"src", "href", "xlink:href", "data", "action", "formaction", "poster",
                                "srcset", "background"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.scripts = 0
        self.handlers: list[str] = []
        self.outside: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag in self.LOADING_TAGS:
            self.outside.append(f"<{tag} {attrs}>")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.outside.append(f"<{tag} {attrs}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}={value!r}>")
            if name in self.URL_ATTRIBUTES and value is not None and not value.startswith(("#", "data:")):
                self.outside.append(f"<{tag} {name}={value!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def audit_dom(html: str) -> DomAudit:
    audit = DomAudit()
    audit.feed(html)
    audit.close()
    return audit
