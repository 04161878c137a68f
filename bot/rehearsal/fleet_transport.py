"""The rehearsal's transport: the same commands SSH would run, in a local shell, except
on a simulated host that is down, which answers as an unreachable host does."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.core.errors import HostUnreachable
from bot.core.host_address import HostAddress
from bot.core.ports import RemoteSession
from bot.hosts.local_transport import LocalTransport
from bot.rehearsal.fleet import Fleet


@dataclass(frozen=True)
class FleetTransport:
    fleet: Fleet
    local: LocalTransport = field(default_factory=LocalTransport)

    @contextlib.contextmanager
    def connect(self, host: HostAddress) -> Iterator[RemoteSession]:
        if self.fleet.is_down(host.host):
            raise HostUnreachable(str(host), "connection timed out (the simulated host is down)")
        with self.local.connect(host) as session:
            yield session
