"""Baselines: a KPI snapshot kept per environment, against which relative targets
(job duration -30%, lock skips -80%, error rate no change) are judged. A count is kept
as counted; its window, kept with it, makes it a rate per hour."""

from __future__ import annotations

import json

from bot.core.baseline import Baseline
from bot.core.clock import isoformat, parse_iso
from bot.core.thresholds import Measurement
from bot.store.store import Store


class Baselines:
    def __init__(self, store: Store) -> None:
        self._store = store

    def save(self, baseline: Baseline) -> None:
        with self._store.transaction() as db:
            db.table("baselines").insert(
                {
                    "env": baseline.env,
                    "captured_at": isoformat(baseline.captured_at),
                    "window_start": isoformat(baseline.window_start),
                    "window_end": isoformat(baseline.window_end),
                    "captured_by": baseline.captured_by,
                    "kpi_values": json.dumps(baseline.values, sort_keys=True),
                }
            )

    def latest(self, env: str) -> Baseline | None:
        rows = list(self._store.select("baselines", "env = ?", [env], order_by="id desc", limit=1))
        if not rows:
            return None
        row = rows[0]
        return Baseline(
            env,
            parse_iso(row["captured_at"]),
            parse_iso(row["window_start"]),
            parse_iso(row["window_end"]),
            row["captured_by"],
            json.loads(row["kpi_values"]),
        )


def snapshot(measurements: dict[str, Measurement]) -> dict[str, float]:
    """Only real values are kept: an unavailable KPI has no baseline."""
    return {name: m.value for name, m in measurements.items() if m.value is not None}
