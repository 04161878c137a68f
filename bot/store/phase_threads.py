"""The thread of each phase: the ts of the phase's start message, kept on its timeline row
(`phase_history.thread_ts`), under which the phase's alerts are posted."""

from __future__ import annotations

from bot.store.store import Store


class PhaseThreads:
    def __init__(self, store: Store) -> None:
        self._store = store

    def set(self, phase_id: int, ts: str) -> None:
        """`ts` is the phase's thread; the phase's validation checks post there too."""
        with self._store.transaction() as db:
            db.execute("UPDATE phase_history SET thread_ts = ? WHERE id = ?", [ts, phase_id])
            db.execute(
                "UPDATE scheduled_checks SET thread_ts = ? WHERE phase_id = ?", [ts, phase_id]
            )

    def of_phase(self, phase_id: int) -> str | None:
        rows = list(self._store.select("phase_history", "id = ?", [phase_id]))
        return str(rows[0]["thread_ts"]) if rows and rows[0].get("thread_ts") else None

    def current(self, env: str) -> str | None:
        """The thread of the phase running now, if it runs on `env` and has one."""
        rows = list(
            self._store.select(
                "phase_history", "ended_at IS NULL AND env = ?", [env], order_by="id desc", limit=1
            )
        )
        return str(rows[0]["thread_ts"]) if rows and rows[0].get("thread_ts") else None
