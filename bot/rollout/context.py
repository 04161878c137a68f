"""The bot's dependencies, built once at start and passed to every handler and job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pydantic import SecretStr

from bot.core.clock import Clock, SystemClock
from bot.core.ports import Poster, Transport
from bot.core.spec import Spec
from bot.store.audit import AuditEntry, AuditTrail
from bot.store.store import Store


@dataclass
class BotContext:
    spec: Spec
    store: Store
    audit: AuditTrail
    transport: Transport
    poster: Poster
    clock: Clock
    # DSNs by variable name (an environment's `database_url_env`), kept secret.
    database_urls: Mapping[str, SecretStr] = field(default_factory=dict)
    # Leases between processes are timed by the wall clock even where `clock` is the
    # rehearsal's accelerated one: another process's seconds are real seconds.
    wall_clock: Clock = field(default_factory=SystemClock)
    # Where a shell command came from (`os-user@host`), for the audit trail: a CLI
    # `--user` is only what was typed. None in the Slack processes.
    origin: str | None = None

    def record(self, entry: AuditEntry) -> int:
        if self.origin is not None:
            entry = replace(entry, args={**(entry.args or {}), "origin": self.origin})
        return self.audit.record(entry, self.clock.now())

    def reads_databases(self) -> bool:
        """False where the apps' databases are never read (a replay): what the store kept
        of them is all there is."""
        return True

    def database_url(self, env: str) -> SecretStr | str:
        """The env's DSN, or (as a plain str) why there is none."""
        variable = self.spec.environments[env].database_url_env
        if variable is None:
            return f"{env} has no database_url_env in the spec"
        return self.database_urls.get(variable) or f"{variable} is not set"
