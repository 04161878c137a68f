"""A flag change and what became of it on each host: the data the executor returns and
the messages show."""

from __future__ import annotations

from dataclasses import dataclass


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
