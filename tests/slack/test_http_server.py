"""The HTTP server: its life cycle (it stops cleanly while clients still hold
connections), and what an unauthenticated peer can hold of it (connections, time, body)."""

from __future__ import annotations

import http.client
import resource
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bot.slack.http_server import create_http_server, stop_http_server
from tests.support.bot_process import wait_until
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR

# Slack shows "the app did not respond" to a command unanswered this long.
SLACK_DEADLINE_S = 3.0
HALF_A_REQUEST = b"POST /slack/events HTTP/1.1\r\nHost: stagger-bot\r\nContent-Length: 200\r\n"


def _hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def test_server_stops_with_keep_alive_clients_connected_and_no_error_in_its_thread() -> None:
    # Closing sockets from outside the loop's thread raced its select() (EBADF in CI);
    # pytest turns an exception in any thread into a failure, so each round must be clean.
    for _ in range(25):
        server = create_http_server(_hello, "127.0.0.1", 0, threads=2)
        serving = threading.Thread(target=server.run, daemon=True)
        serving.start()
        connections = [
            http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=5)
            for _ in range(3)
        ]
        for connection in connections:
            connection.request("GET", "/")
            assert connection.getresponse().read() == b"hello"

        stop_http_server(server, serving)

        assert not serving.is_alive()
        for connection in connections:
            connection.close()


def test_a_stopped_server_refuses_new_connections() -> None:
    server = create_http_server(_hello, "127.0.0.1", 0, threads=1)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    port = server.effective_port

    stop_http_server(server, serving)

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/")
        raised = None
    except ConnectionRefusedError as error:
        raised = error
    finally:
        connection.close()
    assert isinstance(raised, ConnectionRefusedError)


def test_a_request_in_flight_is_answered_before_the_server_stops() -> None:
    started, release = threading.Event(), threading.Event()

    def slow(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started.set()
        release.wait(timeout=10)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"done"]

    server = create_http_server(slow, "127.0.0.1", 0, threads=2)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    answers: list[bytes | Exception] = []

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)
        try:
            connection.request("GET", "/")
            answers.append(connection.getresponse().read())
        except Exception as error:  # the answer the user would not get
            answers.append(error)
        finally:
            connection.close()

    client = threading.Thread(target=ask)
    client.start()
    assert started.wait(timeout=10)
    port = server.effective_port
    stopper = threading.Thread(target=stop_http_server, args=(server, serving))
    stopper.start()
    # The stop has begun (no new connections) while the request is still being served.
    wait_until(lambda: _refused(port), what="the server to stop taking connections")
    release.set()
    client.join(timeout=20)
    stopper.join(timeout=20)

    assert answers == [b"done"]
    assert not serving.is_alive()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


# -- what an unauthenticated peer can hold ---------------------------------------------


def test_hundreds_of_idle_half_requests_leave_a_signed_command_answered_in_time(bot: Bot) -> None:
    with _half_requests(bot.sender.port, _connections_this_process_can_hold(400)):
        started = time.monotonic()
        reply = bot.command(OPERATOR, "status")
        took = time.monotonic() - started

    assert reply.status == 200
    assert "Rollout: *not started*" in reply.json()["text"]
    assert took < SLACK_DEADLINE_S


def test_a_body_declared_too_large_is_refused_413_before_it_is_sent(bot: Bot) -> None:
    with socket.create_connection(("127.0.0.1", bot.sender.port), timeout=10) as peer:
        peer.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: stagger-bot\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 52428800\r\n\r\n"  # 50 MB, none of it sent
        )
        answer = _read_until_closed(peer)

    assert answer.startswith(b"HTTP/1.1 413 Request Entity Too Large"), answer[:200]
    assert b"exceeds max_body" in answer


def test_a_request_that_never_arrives_whole_is_dropped(bot: Bot) -> None:
    # The timeout guards the test only; the server drops the peer after a few seconds.
    with socket.create_connection(("127.0.0.1", bot.sender.port), timeout=30) as peer:
        peer.sendall(HALF_A_REQUEST)

        assert peer.recv(1024) == b"", "closed, unanswered"


def _connections_this_process_can_hold(wanted: int) -> int:
    """Each idle connection is two descriptors here (ours and the server's), beside what
    the bot and pytest hold; more than waitress's default limit (100), or the test shows
    nothing."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    count = min(wanted, (soft - 256) // 2)
    assert count > 150, f"ulimit -n is {soft}: too low to hold {wanted} idle connections"
    return count


@contextmanager
def _half_requests(port: int, count: int) -> Iterator[None]:
    with ExitStack() as stack:
        for _ in range(count):
            peer = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
            peer.sendall(HALF_A_REQUEST)
        yield


def _read_until_closed(peer: socket.socket) -> bytes:
    answer = b""
    while chunk := peer.recv(65536):
        answer += chunk
    return answer
