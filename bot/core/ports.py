"""The ports the bot's use cases talk through: a host session, the transport that opens
one, and the channel poster. Adapters implement them (`bot.hosts`, `bot.slack`,
the rehearsal's fleet); `BotContext` carries them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.host_address import HostAddress
from bot.core.replies import Block


@dataclass(frozen=True)
class CommandResult:
    host: str
    command: str
    exit_status: int
    stdout: bytes
    stderr: bytes
    duration_s: float
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out


OutputSink = Callable[[bytes], None]


class RemoteSession(Protocol):
    def run(
        self,
        command: str,
        *,
        stdin: bytes | None = None,
        timeout: float = 30.0,
        on_stdout: OutputSink | None = None,
    ) -> CommandResult:
        """Runs `command`. With `on_stdout`, standard output goes to it piece by piece as
        it arrives (not kept, never truncated), so the caller can work while the command
        still runs."""
        ...


class Transport(Protocol):
    def connect(self, host: HostAddress) -> contextlib.AbstractContextManager[RemoteSession]: ...


class Poster(Protocol):
    def post(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        request_id: str | None = None,
    ) -> str | None:
        """Post a message; return its ts, or None if it could not be posted. A post that
        is approval request `request_id` and is delivered later becomes its message."""
        ...

    def update(
        self, channel: str, ts: str, text: str, blocks: list[Block] | None = None
    ) -> bool: ...

    def ephemeral(self, channel: str, user: str, text: str) -> bool: ...

    def upload(
        self,
        channel: str,
        content: bytes,
        filename: str,
        title: str,
        *,
        thread_ts: str | None = None,
        comment: str | None = None,
    ) -> bool: ...

    def publish_home(self, user: str, view: dict[str, Any]) -> bool: ...

    def flush(self) -> int:
        """Deliver what earlier failures left queued; how many went out."""
        ...
