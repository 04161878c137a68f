"""Every benchmark of issue 7, one after another, each printing its table of ratios.

    python3 -m bench                      # the full run (about 6 minutes on 2 cores)
    python3 -m bench --quick              # short versions of each (about 3 minutes)
    python3 -m bench --only ack,audit     # some of them
    python3 -m bench --duration 10        # the ack load test for 10 s per server

Each benchmark runs in a fresh interpreter (its module's `main`, imported and called):
the KPI scan and the audit verify report peak memory, which a previous benchmark in the
same process would inflate, and every benchmark starts and stops its own sshd servers.
bench/kpi_scan.py is called through its `main(megabytes, runs)` as it is.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    module: str
    full: str  # the arguments of its `main`, as Python source
    quick: str


def benchmarks(duration: float | None) -> list[Benchmark]:
    ack_full = f"duration={duration if duration is not None else 30.0}"
    ack_quick = f"duration={duration if duration is not None else 5.0}"
    return [
        Benchmark("ack", "Slash-command ack under load", "bench.ack_load", ack_full, ack_quick),
        Benchmark("kpi", "KPI log scan against grep -c -F", "bench.kpi_scan", "1024, 3", "128, 3"),
        Benchmark("fanout", "SSH fan-out, 20 hosts vs 1", "bench.ssh_fanout", "20, 5", "20, 2"),
        Benchmark(
            "audit",
            "Audit trail query and verify",
            "bench.audit_trail",
            "1_000_000, 100_000, 200",
            "100_000, 10_000, 50",
        ),
        Benchmark("rollback", "Rollback click → verified", "bench.rollback_latency", "20", "5"),
        Benchmark("fleet", "Simulated fleet, one host's day", "bench.fleet_simulation", "10", "3"),
        Benchmark("judge", "Judge's selection vs a sort", "bench.judge_selection", "5", "3"),
        Benchmark(
            "store",
            "The store on PostgreSQL vs SQLite",
            "bench.store_engines",
            "20.0, 10",
            "5.0, 3",
        ),
    ]


def run(benchmark: Benchmark, quick: bool) -> tuple[int, float]:
    arguments = benchmark.quick if quick else benchmark.full
    code = f"from {benchmark.module} import main; main({arguments})"
    print(f"\n=== {benchmark.title}: {benchmark.module}.main({arguments})", flush=True)
    started = time.monotonic()
    status = subprocess.run([sys.executable, "-c", code], check=False).returncode
    return status, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--quick", action="store_true", help="short versions of each")
    parser.add_argument(
        "--duration", type=float, help="seconds per server in the ack load test (default 30)"
    )
    parser.add_argument(
        "--only",
        help="comma-separated names: ack, kpi, fanout, audit, rollback, fleet, judge, store "
        "(default: all)",
    )
    arguments = parser.parse_args(argv)
    chosen = benchmarks(arguments.duration)
    if arguments.only:
        names = {name.strip() for name in arguments.only.split(",")}
        unknown = names - {benchmark.name for benchmark in chosen}
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        chosen = [benchmark for benchmark in chosen if benchmark.name in names]
    print(
        "machine: 2 cores, shared with other work; each benchmark measures its baseline "
        "in the same run, so ratios are fairer than absolute times",
        flush=True,
    )
    failed: list[str] = []
    for benchmark in chosen:
        status, seconds = run(benchmark, arguments.quick)
        print(
            f"--- {benchmark.name}: {'ok' if status == 0 else f'FAILED ({status})'} "
            f"in {seconds:.0f} s",
            flush=True,
        )
        if status != 0:
            failed.append(benchmark.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
