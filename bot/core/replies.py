"""What a command answers: text and blocks for the caller, and work to do after the ack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Block = dict[str, Any]
Source = Literal["slack", "cli", "scheduler", "bot"]


@dataclass(frozen=True)
class Invocation:
    """One `/stagger ...` as typed by a person, from Slack or the CLI."""

    user: str
    text: str
    source: Source = "slack"
    channel: str | None = None
    # For the CLI: the OS user and host it runs as (`root@ops-1`), audited with every entry.
    origin: str | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: tuple[Block, ...] = ()
    # Shown to the caller only (Slack ephemeral) unless public.
    public: bool = False
    # Slow work (posting, SSH) that runs after Slack has been acknowledged.
    followups: tuple[Callable[[], None], ...] = ()
    ok: bool = True
