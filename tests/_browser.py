"""Open a local HTML file in headless Chromium and report what happened (shared test helper).

Uses the Chrome DevTools Protocol over a tiny standard-library WebSocket client, so
no extra package is needed.  The report lists uncaught exceptions, console errors,
log errors, every network request (so a test can fail on any external one) and the
value of a JavaScript expression evaluated once the page has loaded.

Typical use in a test::

    from tests._browser import load_page, require_chromium
    require_chromium()                     # pytest.skip with a message if missing
    report = load_page(path, evaluate="document.querySelectorAll('g.node').length")
    assert report.ok, report.problems()
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PageReport", "chromium_executable", "load_page", "require_chromium"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:", "chrome:", "devtools:")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-default-browser-check",
    "--remote-allow-origins=*",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def chromium_executable() -> str | None:
    """Path of a Chromium/Chrome binary, or ``None`` (``$CHROMIUM`` overrides the search)."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) or Path(env).exists() else None
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    """The Chromium path, or skip the calling test with a message saying how to get it."""
    import pytest

    path = chromium_executable()
    if path is None:
        pytest.skip(
            "headless Chromium is not installed (Debian: apt-get install chromium; .ci/run "
            "installs it): browser test skipped"
        )
    return path


@dataclass
class PageReport:
    """What happened while a page loaded.

    Attributes
    ----------
    url
        The page opened.
    exceptions
        Uncaught JavaScript exceptions (``Runtime.exceptionThrown``).
    console_errors
        ``console.error``/``console.assert`` messages.
    log_errors
        Browser log entries of level error (blocked loads, CSP violations, ...).
    requests
        URL of every network request the page made (the page itself included).
    failed_requests
        URLs whose loading failed.
    value
        The value of ``evaluate`` (JSON-serialisable), or ``None``.
    """

    url: str
    exceptions: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    value: Any = None

    @property
    def external_requests(self) -> list[str]:
        """Requests to anything but local files / inline data."""
        return [u for u in self.requests if not u.startswith(_LOCAL_SCHEMES)]

    @property
    def ok(self) -> bool:
        """No exception, no console or log error, no external or failed request."""
        return not (
            self.exceptions
            or self.console_errors
            or self.log_errors
            or self.external_requests
            or self.failed_requests
        )

    def problems(self) -> str:
        """A readable list of everything that went wrong (for assertion messages)."""
        parts = []
        for name in ("exceptions", "console_errors", "log_errors", "failed_requests"):
            if getattr(self, name):
                parts.append(f"{name}: {getattr(self, name)}")
        if self.external_requests:
            parts.append(f"external_requests: {self.external_requests}")
        return "; ".join(parts) or "no problems"


# ------------------------------------------------------------- websocket client


class _WebSocket:
    """Minimal RFC 6455 client: text frames, masking, fragmentation, ping/pong."""

    def __init__(self, url: str, timeout: float) -> None:
        assert url.startswith("ws://"), url
        rest = url[len("ws://") :]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the DevTools endpoint closed during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"WebSocket handshake refused: {head[:200]!r}")

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise ConnectionError("the DevTools connection closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytearray([0x81])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            fin, opcode = b0 & 0x80, b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 0x8:
                raise ConnectionError("the DevTools connection was closed by the browser")
            if opcode == 0x9:  # ping -> pong
                self.sock.sendall(bytes([0x8A, 0x80 | len(data)]) + b"\0\0\0\0" + data)
                continue
            if opcode in (0x1, 0x2, 0x0):
                message += data
                if fin:
                    return message.decode("utf-8", errors="replace")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _Session:
    def __init__(self, ws: _WebSocket) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"DevTools {method} failed: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"DevTools {method} did not answer in {timeout} s")

    def wait_event(self, method: str, timeout: float) -> bool:
        if any(e["method"] == method for e in self.events):
            return True
        deadline = time.monotonic() + timeout
        self.ws.sock.settimeout(max(0.1, timeout))
        while time.monotonic() < deadline:
            try:
                msg = json.loads(self.ws.recv())
            except TimeoutError:
                return False
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return True
        return False

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.ws.sock.settimeout(left)
            try:
                msg = json.loads(self.ws.recv())
            except TimeoutError:
                return
            if "method" in msg:
                self.events.append(msg)


def _devtools_port(profile: Path, proc: subprocess.Popen[bytes], timeout: float) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists():
            lines = marker.read_text().split()
            if lines and lines[0].isdigit():
                return int(lines[0])
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"Chromium exited with {proc.returncode}: {err[-2000:]}")
        time.sleep(0.05)
    raise TimeoutError(f"Chromium did not open its DevTools port in {timeout} s")


def _page_ws_url(port: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.loads(r.read().decode())
            for t in targets:
                if t.get("type") == "page" and t.get("webSocketDebuggerUrl"):
                    return str(t["webSocketDebuggerUrl"])
        time.sleep(0.05)
    raise TimeoutError("Chromium opened no page target")


def _describe_exception(params: dict[str, Any]) -> str:
    details = params.get("exceptionDetails", {})
    exc = details.get("exception", {})
    return str(exc.get("description") or details.get("text") or details)


def load_page(
    path: str | os.PathLike[str],
    *,
    evaluate: str | None = None,
    settle: float = 0.5,
    timeout: float = 60.0,
    screenshot: str | os.PathLike[str] | None = None,
) -> PageReport:
    """Open a local HTML file in headless Chromium and report errors and requests.

    Parameters
    ----------
    path
        The HTML file.
    evaluate
        A JavaScript expression evaluated after the load event (and ``settle`` seconds);
        its value is returned in :attr:`PageReport.value` (a promise is awaited).
    settle
        Seconds to keep listening after the load event (late errors, timers).
    timeout
        Overall limit for starting the browser and loading the page.
    screenshot
        Where to save a PNG of the 1400x900 viewport, taken after ``evaluate``.

    Raises
    ------
    FileNotFoundError
        If Chromium or the file is missing.
    TimeoutError
        If the page does not load in time.
    """
    exe = chromium_executable()
    if exe is None:
        raise FileNotFoundError("Chromium is not installed (Debian: apt-get install chromium)")
    page = Path(path).resolve()
    if not page.exists():
        raise FileNotFoundError(f"no page at {page}")
    url = page.as_uri()
    report = PageReport(url=url)
    # Chromium's helper processes may still write to the profile while the browser exits:
    # the whole process group is stopped, and leftovers never fail the test.
    with tempfile.TemporaryDirectory(prefix="tda-chromium-", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [exe, *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        ws = None
        try:
            port = _devtools_port(Path(profile), proc, timeout)
            ws = _WebSocket(_page_ws_url(port, timeout), timeout)
            session = _Session(ws)
            for domain in ("Page", "Runtime", "Log", "Network"):
                session.call(f"{domain}.enable", timeout=timeout)
            if screenshot is not None:
                session.call(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                    timeout=timeout,
                )
            session.events.clear()
            session.call("Page.navigate", {"url": url}, timeout=timeout)
            if not session.wait_event("Page.loadEventFired", timeout):
                raise TimeoutError(f"{url} did not finish loading in {timeout} s")
            session.drain(settle)
            if evaluate is not None:
                ws.sock.settimeout(timeout)
                res = session.call(
                    "Runtime.evaluate",
                    {"expression": evaluate, "returnByValue": True, "awaitPromise": True},
                    timeout=timeout,
                )
                if "exceptionDetails" in res:
                    report.exceptions.append("evaluate: " + _describe_exception(res))
                report.value = res.get("result", {}).get("value")
            if screenshot is not None:
                import base64

                shot = session.call("Page.captureScreenshot", {"format": "png"}, timeout=timeout)
                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            for ev in session.events:
                method, params = ev["method"], ev.get("params", {})
                if method == "Runtime.exceptionThrown":
                    report.exceptions.append(_describe_exception(params))
                elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                    "error",
                    "assert",
                ):
                    args = params.get("args", [])
                    report.console_errors.append(
                        " ".join(str(a.get("value", a.get("description", ""))) for a in args)
                    )
                elif method == "Log.entryAdded":
                    entry = params.get("entry", {})
                    if entry.get("level") == "error":
                        text = f"{entry.get('text')} {entry.get('url', '')}"
                        report.log_errors.append(text.strip())
                elif method == "Network.requestWillBeSent":
                    report.requests.append(params.get("request", {}).get("url", ""))
                elif method == "Network.loadingFailed":
                    report.failed_requests.append(
                        f"{params.get('errorText', '')} ({params.get('requestId', '')})"
                    )
        finally:
            if ws is not None:
                ws.close()
            _stop_group(proc)
    return report


def _stop_group(proc: subprocess.Popen) -> None:
    """Terminate the browser and every helper process it started."""
    import signal

    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # helpers that outlived the browser
