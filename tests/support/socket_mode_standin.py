"""Slack's Socket Mode end on loopback: a WebSocket server that greets the bot with
`hello`, sends it envelopes as Slack would, and hands back the bot's acks.

With the Web API stand-in answering `apps.connections.open` with this server's ws://
URL, `stagger-bot socket` connects here instead of to Slack (slack_sdk's client speaks
plain ws:// to a port other than 443, for testing).

Several replicas may each hold a connection: as Slack does, each envelope goes to ONE of
them (in turn, in the order they connected), and `redeliver` sends the same envelope
again to another, as Slack retries one it saw no ack for in time.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.parse
from typing import Any

from websockets.sync.server import Server, ServerConnection, serve


class SocketModeStandIn:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._links: list[queue.Queue[dict[str, Any]]] = []  # each connection's outgoing
        self._turn = 0
        self._sent: dict[str, dict[str, Any]] = {}
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self._acked: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.connected = threading.Event()
        self._server: Server = serve(self._session, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._links)

    def wait_for_connections(self, count: int, timeout: float = 30.0) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: len(self._links) >= count, timeout=timeout)

    def _session(self, connection: ServerConnection) -> None:
        outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            self._links.append(outgoing)
            number = len(self._links) - 1
            self._lock.notify_all()
        connection.send(json.dumps({"type": "hello", "num_connections": number + 1}))
        self.connected.set()
        sender = threading.Thread(target=self._send_queued, args=(connection, outgoing),
                                  daemon=True)  # fmt: skip
        sender.start()
        for message in connection:
            ack = json.loads(message)
            with self._lock:
                self._acked.setdefault(str(ack.get("envelope_id")), []).append((number, ack))
                self._lock.notify_all()
            self.acks.put(ack)

    def _send_queued(self, connection: ServerConnection, outgoing: queue.Queue[Any]) -> None:
        while True:
            envelope = outgoing.get()
            connection.send(json.dumps(envelope))

    def _deliver(self, envelope: dict[str, Any], to: int | None) -> int:
        with self._lock:
            if to is None:
                to = self._turn % len(self._links)
                self._turn += 1
            self._sent[str(envelope["envelope_id"])] = envelope
            self._links[to].put(envelope)
            return to

    def slash_command(self, envelope_id: str, form_body: str, to: int | None = None) -> int:
        """Sends a `/stagger` command as Slack does in Socket Mode; to which connection."""
        payload = {key: values[-1] for key, values in urllib.parse.parse_qs(form_body).items()}
        envelope = {
            "envelope_id": envelope_id,
            "type": "slash_commands",
            "payload": payload,
            "accepts_response_payload": True,
        }
        return self._deliver(envelope, to)

    def block_actions(self, envelope_id: str, form_body: str, to: int | None = None) -> int:
        """Sends a button click (a `block_action_body`) as Slack does; to which connection."""
        payload = json.loads(urllib.parse.parse_qs(form_body)["payload"][-1])
        envelope = {
            "envelope_id": envelope_id,
            "type": "interactive",
            "payload": payload,
            "accepts_response_payload": False,
        }
        return self._deliver(envelope, to)

    def redeliver(self, envelope_id: str, to: int) -> None:
        """Slack's retry: the same envelope again, to connection `to`."""
        with self._lock:
            envelope = {**self._sent[envelope_id], "retry_attempt": 1, "retry_reason": "timeout"}
        self._deliver(envelope, to)

    def ack_for(self, envelope_id: str, timeout: float = 20.0) -> dict[str, Any]:
        while True:
            ack = self.acks.get(timeout=timeout)
            if ack.get("envelope_id") == envelope_id:
                return ack

    def acks_of(
        self, envelope_id: str, count: int = 1, timeout: float = 30.0
    ) -> list[tuple[int, dict[str, Any]]]:
        """Once `count` acks of the envelope came back: each with its connection's number."""
        with self._lock:
            if not self._lock.wait_for(
                lambda: len(self._acked.get(envelope_id, [])) >= count, timeout=timeout
            ):
                raise AssertionError(f"{count} ack(s) of {envelope_id} never came back")
            return list(self._acked[envelope_id])

    def close(self) -> None:
        self._server.shutdown()
