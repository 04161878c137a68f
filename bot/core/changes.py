"""A flag change and what became of it on each host: the data the executor returns and
the messages show."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.spec_fleet import FlagSpec


@dataclass(frozen=True)
class FlagChange:
    key: str
    value: str
    confirm_line: str


@dataclass(frozen=True)
class HostOutcome:
    host: str
    verified: bool
    detail: str
    backup: str | None = None


@dataclass(frozen=True)
class ChangeOutcome:
    hosts: tuple[HostOutcome, ...]

    @property
    def verified(self) -> bool:
        return bool(self.hosts) and all(host.verified for host in self.hosts)

    @property
    def failed_hosts(self) -> tuple[HostOutcome, ...]:
        return tuple(host for host in self.hosts if not host.verified)


@dataclass(frozen=True)
class Timeouts:
    command_s: float
    verify_s: float


def rollback_change(flag: FlagSpec, job_key: str | None = None) -> FlagChange:
    """What a rollback writes: the stagger off (or one job's offset back to 0), proved by
    the app's log line after the reload. The bot and the emergency path share it."""
    if job_key:
        return FlagChange(flag.job_prefix + job_key, "0", flag.reloaded_line)
    return FlagChange(flag.name, "false", flag.disabled_line)
