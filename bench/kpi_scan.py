"""KPI log scan through SSH on loopback against `grep -c -F` on the same file.

    python3 -m bench.kpi_scan [SIZE_MB [RUNS]]     (defaults 1024, 3)

Generates a combined.log of SIZE_MB with about 1% relevant lines, then measures:
the full scan against `grep -c -F` with the same patterns (goal: at most 2x), the next
scan after 10 MB are appended against the full scan (goal: at most 5%), and the
process's peak memory (goal: under 150 MB). Events are consumed batch by batch, as the
bot stores them, and counted. For context it also times one SSH command that does
nothing (`true`): every scan pays that round trip at least once.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from bot.core.log_cursor import LogCursor
from bot.core.ports import RemoteSession
from bot.core.spec_fleet import LogSpec
from bot.hosts.log_source import scan_batches
from bot.hosts.ssh import SshTransport
from tests.support.ssh_fixtures import SshdServer

T = TypeVar("T")
NOISE = b"2026-02-01 12:00:00.000 info: GET /api/matches/1234/live?include=stats 200 18ms ua=x\n"
RELEVANT = (
    b"2026-02-01 12:00:45.120 info: \xf0\x9f\x94\x84 Job started: Live Stats Sync\n",
    b"2026-02-01 12:00:46.020 info: \xe2\x9c\x85 Job completed: Live Stats Sync (900 ms)\n",
    b"2026-02-01 12:00:47.000 info: [PoolMonitor] active=4 utilization 37.5% waiting=0\n",
)


def write_log(path: Path, megabytes: int) -> None:
    block = NOISE * 99 + RELEVANT[0]
    blocks = [block, NOISE * 99 + RELEVANT[1], NOISE * 99 + RELEVANT[2]]
    target = megabytes * 1024 * 1024
    with path.open("ab") as out:
        written = 0
        while written < target:
            for piece in blocks:
                out.write(piece)
                written += len(piece)


def scan(
    session: RemoteSession, log: Path, spec: LogSpec, cursor: LogCursor | None
) -> tuple[int, LogCursor | None]:
    """Events counted batch by batch (none kept), and the cursor after them."""
    events = 0
    for batch in scan_batches(session, "bench", str(log), spec, cursor, timeout=600):
        events += len(batch.events)
        cursor = batch.cursor
    return events, cursor


def timed(run: Callable[[], T]) -> tuple[float, T]:
    started = time.monotonic()
    value = run()
    return time.monotonic() - started, value


def median_of(runs: int, run: Callable[[], T]) -> tuple[float, T]:
    """The median time of `runs` runs (the machine is shared: one run can be 50% off)."""
    results = [timed(run) for _ in range(runs)]
    return statistics.median(seconds for seconds, _ in results), results[-1][1]


def main(megabytes: int = 1024, runs: int = 3) -> None:
    spec = LogSpec()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        log = tmp / "combined.log"
        write_log(log, megabytes)
        sshd = SshdServer(tmp / "sshd")
        transport = SshTransport(
            sshd.client_key, sshd.known_hosts, max_output_bytes=32 << 20
        )  # as runtime
        grep = ["grep", "-c", "-F", *[a for p in spec.patterns().values() for a in ("-e", p)]]
        try:
            grep_s, counted = median_of(
                runs,
                lambda: int(
                    subprocess.run([*grep, str(log)], capture_output=True, check=True).stdout
                ),
            )
            with transport.connect(sshd.host_address) as session:
                session.run("true")  # the first command on a connection pays extra set-up
                true_s, _ = median_of(runs, lambda: session.run("true"))
                full_s, (full_events, cursor) = median_of(
                    runs, lambda: scan(session, log, spec, None)
                )
                incremental: list[tuple[float, int]] = []
                for _ in range(runs):
                    write_log(log, 10)
                    seconds, (events, cursor) = timed(partial(scan, session, log, spec, cursor))
                    incremental.append((seconds, events))
                incremental_s = statistics.median(seconds for seconds, _ in incremental)
                incremental_events = incremental[-1][1]
        finally:
            sshd.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert full_events == counted, (full_events, counted)
    print(
        f"log {megabytes} MB, {counted} matching lines; +10 MB incremental "
        f"({incremental_events} events); medians of {runs} runs"
    )
    print(f"{'measure':<36}{'seconds':>10}{'ratio':>10}{'goal':>10}")
    print(f"{'grep -c -F (same patterns)':<36}{grep_s:>10.3f}{'1.00':>10}{'':>10}")
    print(f"{'full scan over SSH':<36}{full_s:>10.3f}{full_s / grep_s:>10.2f}{'<= 2':>10}")
    print(
        f"{'incremental scan (+10 MB) / full':<36}{incremental_s:>10.3f}"
        f"{incremental_s / full_s:>10.3f}{'<= 0.05':>10}"
    )
    print(f"{'one SSH command (`true`), context':<36}{true_s:>10.3f}{true_s / full_s:>10.3f}")
    print(f"{'peak memory (MB) / 150 MB':<36}{peak_mb:>10.1f}{peak_mb / 150:>10.2f}{'< 1':>10}")


if __name__ == "__main__":
    main(*(int(argument) for argument in sys.argv[1:3]))
