"""KPI log scan through SSH on loopback against `grep -c -F` on the same file.

    python3 -m bench.kpi_scan [SIZE_MB]     (default 1024)

Generates a combined.log of SIZE_MB with about 1% relevant lines, then measures:
the full scan against `grep -c -F` with the same patterns (goal: at most 2x), the next
scan after 10 MB are appended against the full scan (goal: at most 5%), and the
process's peak memory (goal: under 150 MB).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.log_source import scan_log
from bot.remote import SshTransport
from bot.spec import LogSpec
from tests.ssh_fixtures import SshdServer

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


def main(megabytes: int = 1024) -> None:
    spec = LogSpec()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        log = tmp / "combined.log"
        write_log(log, megabytes)
        sshd = SshdServer(tmp / "sshd")
        transport = SshTransport(
            sshd.client_key, sshd.known_hosts, max_output_bytes=32 << 20
        )  # as runtime
        try:
            grep = [
                "grep",
                "-c",
                "-F",
                *[arg for p in spec.patterns().values() for arg in ("-e", p)],
                str(log),
            ]
            started = time.monotonic()
            counted = int(subprocess.run(grep, capture_output=True, text=True, check=True).stdout)
            grep_s = time.monotonic() - started
            with transport.connect(sshd.host_address) as session:
                started = time.monotonic()
                full = scan_log(session, "bench", str(log), spec, None, timeout=600)
                full_s = time.monotonic() - started
                write_log(log, 10)
                started = time.monotonic()
                incremental = scan_log(session, "bench", str(log), spec, full.cursor, timeout=600)
                incremental_s = time.monotonic() - started
        finally:
            sshd.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert len(full.events) == counted, (len(full.events), counted)
    print(
        f"log {megabytes} MB, {counted} matching lines; "
        f"+10 MB incremental ({len(incremental.events)} events)"
    )
    print(f"{'measure':<36}{'seconds':>10}{'ratio':>10}{'goal':>10}")
    print(f"{'grep -c -F (same patterns)':<36}{grep_s:>10.3f}{'1.00':>10}{'':>10}")
    print(f"{'full scan over SSH':<36}{full_s:>10.3f}{full_s / grep_s:>10.2f}{'<= 2':>10}")
    print(
        f"{'incremental scan (+10 MB) / full':<36}{incremental_s:>10.3f}"
        f"{incremental_s / full_s:>10.3f}{'<= 0.05':>10}"
    )
    print(f"{'peak memory (MB) / 150 MB':<36}{peak_mb:>10.1f}{peak_mb / 150:>10.2f}{'< 1':>10}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1024)
