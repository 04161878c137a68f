"""A phase of the rollout as the timeline keeps it, and what starts one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

NOT_STARTED = "not started"
ROLLED_BACK = "rolled back"
SUCCEEDED = "succeeded"
TERMINAL = (ROLLED_BACK, SUCCEEDED)


@dataclass(frozen=True)
class PhaseRecord:
    id: int
    phase: str
    env: str
    started_at: datetime
    ended_at: datetime | None = None
    ended_how: str = ""
    request_id: str | None = None
    approved_by: tuple[str, ...] = ()
    forced: bool = False
    note: str = ""

    @property
    def is_terminal(self) -> bool:
        return self.phase in TERMINAL

    def elapsed(self, now: datetime) -> timedelta:
        return (self.ended_at or now) - self.started_at


@dataclass(frozen=True)
class Entry:
    """What starts a phase: who asked for it, and how the previous one ends."""

    phase: str
    env: str
    at: datetime
    previous_ends: str
    request_id: str | None = None
    approved_by: tuple[str, ...] = ()
    forced: bool = False
    note: str = ""
