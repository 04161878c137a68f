"""Where each host of an execution stands: its tier and state (verified, failed, not
started, skipped), with the detail the host's run gave. Every host is written as `not
started` when the execution is planned and updated as it finishes, so an execution
that stopped half-way (a failed batch, a crash) leaves the record of which hosts were
done — the retry reads it, not the spec's current host list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.changes import HostOutcome
from bot.core.clock import isoformat
from bot.core.tiers import HostStanding, HostState, Tier
from bot.store.store import Store


class ExecutionHosts:
    def __init__(self, store: Store) -> None:
        self._store = store

    def plan(self, request_id: str, tiers: Sequence[Tier], at: datetime) -> None:
        """Every host of `tiers` as not started (a host already recorded is left as it is:
        a continued execution keeps its canary's outcome)."""
        with self._store.transaction() as db:
            ordinal = 0
            for tier in tiers:
                for host in tier.hosts:
                    db.execute(
                        "INSERT INTO execution_hosts "
                        "(request_id, host, ordinal, tier, state, detail, at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, host) DO NOTHING",
                        [request_id, host, ordinal, tier.name, HostState.NOT_STARTED.value, "",
                         isoformat(at)],
                    )  # fmt: skip
                    ordinal += 1

    def record(self, request_id: str, outcome: HostOutcome, at: datetime) -> None:
        state = HostState.VERIFIED if outcome.verified else HostState.FAILED
        self.set_state(request_id, outcome.host, state, outcome.detail, at)

    def set_state(
        self, request_id: str, host: str, state: HostState, detail: str, at: datetime
    ) -> None:
        with self._store.transaction() as db:
            db.execute(
                "UPDATE execution_hosts SET state = ?, detail = ?, at = ? "
                "WHERE request_id = ? AND host = ?",
                [state.value, detail, isoformat(at), request_id, host],
            )

    def of(self, request_id: str) -> list[HostStanding]:
        rows = self._store.select(
            "execution_hosts", "request_id = ?", [request_id], order_by="ordinal, host"
        )
        return [_record(row) for row in rows]


def _record(row: dict[str, Any]) -> HostStanding:
    return HostStanding(row["host"], row["tier"], HostState(row["state"]), row["detail"] or "")
