"""Serving the Bolt app over HTTP with waitress (a production WSGI server)."""

from __future__ import annotations

import json
import logging
import resource
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server

from bot.slack.events_request import events_request

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def wsgi_app(app: App, health: Callable[[], dict[str, Any]]) -> WsgiApp:
    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/healthz" and method == "GET":
            report = health()
            body = json.dumps(report).encode()
            start_response(
                "200 OK" if report.get("ok", True) else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if path != "/slack/events" or method != "POST":
            return _plain(start_response, "404 Not Found", "not found")
        try:
            raw_body = _body(environ).decode("utf-8")
        except UnicodeDecodeError:
            return _plain(start_response, "400 Bad Request", "the request body is not UTF-8")
        request = events_request(raw_body, _headers(environ), environ.get("QUERY_STRING", ""))
        try:
            answer = app.dispatch(request)
        except (ValueError, KeyError, TypeError, AttributeError):
            # A signed body whose fields have shapes no listener expects: the sender's
            # fault, not a server error.
            logger.warning("refused a request to /slack/events whose body could not be read")
            return _plain(start_response, "400 Bad Request", "the request body could not be read")
        response = WsgiHttpResponse(answer.status, answer.headers, answer.body)
        start_response(response.status, response.get_headers())
        return response.get_body()

    return application


def _body(environ: dict[str, Any]) -> bytes:
    # waitress has read the whole body (at most MAX_BODY_BYTES) before it calls the app.
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key.removeprefix("HTTP_").lower().replace("_", "-"): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.lower().replace("_", "-")] = str(environ[key])
    return headers


def _plain(start_response: StartResponse, status: str, text: str) -> Iterable[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


# /slack/events is public and nothing is authenticated until a request has arrived whole,
# so these bound what a peer that never finishes can hold. Slack's largest payload is
# about 1 MB and arrives in one go.
MAX_BODY_BYTES = 2 * 1024 * 1024  # larger is answered 413 from its Content-Length alone
MAX_HEADER_BYTES = 32 * 1024
INCOMPLETE_TIMEOUT_S = 5  # a connection silent this long without a whole request is closed
CLEANUP_INTERVAL_S = 1  # how often those are looked for
CONNECTION_LIMIT = 1000
RESERVED_DESCRIPTORS = 256  # the store, SSH sessions, Web API calls, logs


def create_http_server(application: WsgiApp, host: str, port: int, threads: int = 8) -> Any:
    """A waitress server, not yet running: call `.run()` (blocks) and `.close()`."""
    return create_server(
        application,
        host=host,
        port=port,
        threads=threads,
        ident="stagger-bot",
        connection_limit=connection_limit(),
        channel_timeout=INCOMPLETE_TIMEOUT_S,
        cleanup_interval=CLEANUP_INTERVAL_S,
        max_request_body_size=MAX_BODY_BYTES,
        max_request_header_size=MAX_HEADER_BYTES,
        # select() cannot watch a descriptor numbered 1024 or more; poll() can.
        asyncore_use_poll=True,
    )


def connection_limit() -> int:
    """CONNECTION_LIMIT, or fewer where `ulimit -n` leaves no room for them beside the
    descriptors the bot needs for its own work."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return CONNECTION_LIMIT
    limit = min(CONNECTION_LIMIT, max(soft - RESERVED_DESCRIPTORS, soft // 2))
    if limit < CONNECTION_LIMIT:
        logger.warning(
            "ulimit -n is %s: serving at most %s connections (raise it for %s)",
            soft,
            limit,
            CONNECTION_LIMIT,
        )
    return limit


def stop_http_server(
    server: Any, serving: threading.Thread | None = None, drain_s: float = 30.0
) -> None:
    """Stop a server whose `.run()` loop runs in another thread (`serving`, or the main
    thread when this is called from a SIGTERM's helper thread): no new connections, the
    requests in flight answered (up to `drain_s`), then every connection closed.

    Closing sockets from outside the loop's thread races its `select()` (EBADF), so each
    close runs inside the loop, woken by waitress's trigger; with its map empty the loop
    returns.
    """
    # Not BaseWSGIServer.close: that also closes the trigger the workers still pull.
    if _in_loop(server, lambda: wasyncore.dispatcher.close(server)):
        deadline = time.monotonic() + drain_s
        pause = threading.Event()
        while _in_flight(server) and time.monotonic() < deadline:
            pause.wait(0.05)
        _in_loop(server, lambda: wasyncore.close_all(server._map))
    if serving is not None:
        serving.join(timeout=10)
    server.task_dispatcher.shutdown(cancel_pending=False, timeout=10)


def _in_loop(server: Any, thunk: Callable[[], object]) -> bool:
    """Runs `thunk` in the server's loop; False if the loop has already closed its trigger
    (it is stopping by itself)."""
    try:
        server.trigger.pull_trigger(thunk)
    except OSError:
        logger.info("the HTTP server's loop had already stopped")
        return False
    return True


def _in_flight(server: Any) -> bool:
    """Requests queued or being served, or answers not yet sent."""
    dispatcher = server.task_dispatcher
    if dispatcher.queue or dispatcher.active_count:
        return True
    return any(
        isinstance(channel, HTTPChannel) and (channel.requests or channel.total_outbufs_len)
        for channel in list(server._map.values())
    )
