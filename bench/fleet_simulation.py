"""The rehearsal's simulated fleet: how fast one host lives through a simulated day.

    python3 -m bench.fleet_simulation [RUNS]

`bot.rehearsal.fleet.Fleet.advance` over one simulated day for one staging host of the
runbook's example spec: every job at its offset, its log lines written to disk (over
1 MB a day). The rehearsal runs days of rollout in seconds only if this stays fast.

Goal: a simulated day for one host in under 1 s of wall time (ratio below 1.0 meets it);
also printed, the speed-up (simulated seconds per wall second).
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import MACHINE_NOTE, median, print_table, timed, verdict
from bot.core.spec import parse_spec
from bot.rehearsal.fleet import Fleet

GOAL_S = 1.0
DAY = timedelta(days=1)
START = datetime(2026, 2, 1, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parent.parent / "stagger.example.toml"


def one_day(work: Path) -> tuple[float, int]:
    """The wall seconds of `advance` over one simulated day, and the log it wrote (bytes);
    laying out the fleet is not timed."""
    spec = parse_spec(tomllib.loads(EXAMPLE.read_text(encoding="utf-8")))
    with Fleet.create(work, spec, START, hosts_per_env={"staging": 1, "prod": 0}) as fleet:
        seconds, _ = timed(lambda: fleet.advance(START + DAY))
    return seconds, len(fleet.hosts_of("staging")[0].log_path.read_bytes())


def main(runs: int = 5) -> None:
    with tempfile.TemporaryDirectory() as folder:
        measured = [one_day(Path(folder) / f"fleet-{run}") for run in range(runs)]
    seconds = [wall for wall, _ in measured]
    sizes = [size for _, size in measured]
    typical, worst = median(seconds), max(seconds)
    rows = [
        ("one day, one host, median", typical, typical / GOAL_S, verdict(typical / GOAL_S)),
        ("one day, one host, maximum", worst, worst / GOAL_S, verdict(worst / GOAL_S)),
    ]
    print_table(
        f"Simulated day for one host ({runs} runs, {min(sizes) / 1e6:.1f} MB of log a day)",
        ("measure", "seconds", "ratio to 1 s goal", "verdict"),
        rows,
    )
    print(f"speed-up: {DAY.total_seconds() / typical:,.0f} simulated s per wall s (median)")
    print(MACHINE_NOTE)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
