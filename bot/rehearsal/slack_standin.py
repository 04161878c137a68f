"""A Slack Web API stand-in on loopback: records every call, can fail on demand.

The bot's WebClient is pointed at it through SLACK_API_URL. The tests wait on its
condition variable for the calls they expect (no sleeping); the rehearsal passes
`on_call` to print each post in the terminal.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    # files.completeUploadExternal: each file's (title, filename, bytes) as uploaded.
    files: tuple[tuple[str, str, bytes], ...] = ()

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.params.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    def all_text(self) -> str:
        return self.text + "\n" + json.dumps(self.blocks, ensure_ascii=False)


@dataclass
class Fault:
    status: int  # HANG: no answer at all
    retry_after: int | None = None
    error: str | None = None  # Slack's error code (a 200 with it is a refusal: ok false)


HANG = 0


class SlackStandIn:
    def __init__(self, on_call: Callable[[ApiCall], None] | None = None) -> None:
        self._on_call = on_call
        self.calls: list[ApiCall] = []
        self.uploads: dict[str, bytes] = {}
        self._filenames: dict[str, str] = {}  # file id: the name asked for with its URL
        self._faults: dict[str, list[Fault]] = {}
        self._condition = threading.Condition()
        self._released = threading.Event()
        self._down = threading.Event()
        self.socket_mode_url: str | None = None  # what apps.connections.open answers
        self._ts = 1700000000.000100
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if standin._down.is_set():
                    standin._drop(self)
                elif self.path.startswith("/upload/"):
                    standin._receive_upload(self)
                else:
                    standin._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the stand-in's calls are recorded, not logged to stderr."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def fail_next(
        self, method: str, status: int, retry_after: int | None = None, error: str | None = None
    ) -> None:
        with self._condition:
            self._faults.setdefault(method, []).append(Fault(status, retry_after, error))

    def refuse_next(self, method: str, error: str) -> None:
        """The next call of `method` is refused as Slack refuses a bad call, for good
        (`{"ok": false, "error": ...}`, such as `invalid_blocks` or `msg_too_long`)."""
        self.fail_next(method, 200, error=error)

    def hang_next(self, method: str) -> None:
        """The next call of `method` gets no answer (until `close`): the client times out,
        and the call is not recorded, as Slack never acted on it."""
        self.fail_next(method, HANG)

    def go_down(self) -> None:
        """Slack unreachable until `come_back`: every call's connection is closed with no
        answer (the client sees a connection error), and nothing is recorded."""
        self._down.set()

    def come_back(self) -> None:
        self._down.clear()

    def _drop(self, request: BaseHTTPRequestHandler) -> None:
        # The body is read first: closing on unread bytes would reset the connection
        # before the client has finished sending, a different error from "no answer".
        request.rfile.read(int(request.headers.get("Content-Length") or 0))
        request.close_connection = True

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        method = request.path.removeprefix("/api/")
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode()
        if "json" in (request.headers.get("Content-Type") or ""):
            params = json.loads(raw or "{}")
        else:
            params = {key: values[-1] for key, values in urllib.parse.parse_qs(raw).items()}
        with self._condition:
            faults = self._faults.get(method)
            fault = faults.pop(0) if faults else _refusal(method, params)
            if fault is None:
                self._ts += 0.0001
                ts = f"{self._ts:.6f}"
                call = ApiCall(method, {**params, "_ts": ts}, files=self._completed(params))
                self.calls.append(call)
                self._condition.notify_all()
        if fault is None and self._on_call is not None:
            self._on_call(call)
        if fault is not None and fault.status == HANG:
            self._released.wait(timeout=60)
            return
        if fault is not None:
            request.send_response(fault.status)
            if fault.retry_after is not None:
                request.send_header("Retry-After", str(fault.retry_after))
            error = fault.error or ("ratelimited" if fault.status == 429 else "internal_error")
            body = json.dumps({"ok": False, "error": error}).encode()
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
            return
        response: dict[str, Any] = {"ok": True}
        if method in ("chat.postMessage", "chat.update"):
            response.update(channel=params.get("channel"), ts=params.get("ts") or ts)
        elif method == "apps.connections.open" and self.socket_mode_url:
            response.update(url=self.socket_mode_url)
        elif method == "auth.test":
            response.update(user_id="UBOT", team_id="T0TEAM", bot_id="B0BOT")
        elif method == "files.getUploadURLExternal":
            file_id = f"F{len(self.calls):07d}"
            with self._condition:
                self._filenames[file_id] = str(params.get("filename", file_id))
            port = self._server.server_address[1]
            response.update(file_id=file_id, upload_url=f"http://127.0.0.1:{port}/upload/{file_id}")
        elif method == "files.completeUploadExternal":
            response.update(files=[{"id": item["id"]} for item in json.loads(params["files"])])
        body = json.dumps(response).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _completed(self, params: dict[str, Any]) -> tuple[tuple[str, str, bytes], ...]:
        """Under the condition: the files a files.completeUploadExternal completes."""
        if "files" not in params:
            return ()
        files = json.loads(params["files"]) if isinstance(params["files"], str) else []
        return tuple(
            (
                str(item.get("title", "file")),
                self._filenames.get(str(item["id"]), str(item["id"])),
                self.uploads.get(item["id"], b""),
            )
            for item in files
            if isinstance(item, dict) and "id" in item
        )

    def _receive_upload(self, request: BaseHTTPRequestHandler) -> None:
        """The upload URL files.getUploadURLExternal handed out: keep the bytes."""
        length = int(request.headers.get("Content-Length") or 0)
        data = request.rfile.read(length)
        with self._condition:
            self.uploads[request.path.removeprefix("/upload/")] = data
            self._condition.notify_all()
        request.send_response(200)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"OK")

    # -- looking at what was called ------------------------------------------------------

    def of(self, method: str) -> list[ApiCall]:
        with self._condition:
            return [call for call in self.calls if call.method == method]

    def wait_for(
        self, predicate: Callable[[ApiCall], bool], timeout: float = 15.0, method: str | None = None
    ) -> ApiCall:
        """The first call (past or future) that matches; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for call in self.calls:
                    if (method is None or call.method == method) and predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "\n".join(f"  {c.method}: {c.text[:160]!r}" for c in self.calls)
                    raise AssertionError(f"no matching Slack call within {timeout}s; saw:\n{seen}")
                self._condition.wait(remaining)


def _refusal(method: str, params: dict[str, Any]) -> Fault | None:
    """What Slack itself refuses of a message: a block_id repeated in it (`invalid_blocks`),
    or a text over 40,000 characters (`msg_too_long`)."""
    if method not in ("chat.postMessage", "chat.update"):
        return None
    raw = params.get("blocks") or []
    blocks = json.loads(raw) if isinstance(raw, str) else list(raw)
    ids = [block["block_id"] for block in blocks if isinstance(block, dict) and "block_id" in block]
    if len(ids) != len(set(ids)):
        return Fault(200, error="invalid_blocks")
    if len(str(params.get("text", ""))) > 40_000:
        return Fault(200, error="msg_too_long")
    return None
