"""The bot's dependencies, built once at start and passed to every handler and job."""

from __future__ import annotations

from dataclasses import dataclass

from bot.audit import AuditEntry, AuditTrail
from bot.clock import Clock
from bot.poster import Poster
from bot.remote import Transport
from bot.spec import Spec
from bot.store import Store


@dataclass
class BotContext:
    spec: Spec
    store: Store
    audit: AuditTrail
    transport: Transport
    poster: Poster
    clock: Clock

    def record(self, entry: AuditEntry) -> int:
        return self.audit.record(entry, self.clock.now())
