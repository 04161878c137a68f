"""Shared parts of the benchmarks: result tables, loopback SSH "hosts", app logs, a bot.

Every benchmark uses real parts, as the tests do: OpenSSH servers on loopback
(tests/support/ssh_fixtures.py), the bot built by `start_bot` (tests/support/served_bot.py),
served by waitress, and the Slack Web API stand-in (bot/rehearsal/slack_standin.py).

Several sshd "hosts" on one machine: all of them listen on 127.0.0.1 (SshdServer binds
nothing else) and differ only by port, so `{host}` in `app_dir` would be `127.0.0.1` for
every one of them. Instead each sshd runs in its own mount namespace with its own folder
bound over one shared app_dir path (SshdServer's `bind=`, as tests/hosts/test_flag_change.py
does): every host sees `/…/app/.env` and `/…/app/logs/combined.log`, but its own copy,
as on a real fleet where each server keeps the app at the same path.
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot.core.clock import SystemClock
from bot.core.spec import Spec, parse_spec
from bot.rehearsal.slack_standin import SlackStandIn
from bot.slack.http_server import stop_http_server
from tests.support.served_bot import ServedBot, start_bot
from tests.support.spec_data import make_app_dir, spec_data
from tests.support.ssh_fixtures import SshdServer

T = TypeVar("T")

MACHINE_NOTE = (
    "machine: 2 cores, shared with other work (other sessions may be running tests); "
    "numbers move by tens of percent from run to run"
)


# -- tables ------------------------------------------------------------------------------


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(cell) for cell in header]] + [[_cell(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for number, row in enumerate(cells):
        line = "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        print(line.rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.1f}"
    return str(value)


def verdict(ratio: float) -> str:
    """A ratio to a goal (measured / goal): at most 1 meets it."""
    return "met" if ratio <= 1.0 else "NOT MET"


def timed(run: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


@dataclass(frozen=True)
class Cost:
    """One measured run: wall seconds, this process's CPU seconds, and the whole
    machine's busy CPU seconds (/proc/stat: sshd and its shells on loopback count too,
    and so does any other work on the machine)."""

    wall: float
    process_cpu: float
    machine_cpu: float


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _machine_cpu() -> float:
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def costed(run: Callable[[], T]) -> tuple[Cost, T]:
    process, machine, started = _process_cpu(), _machine_cpu(), time.perf_counter()
    value = run()
    wall = time.perf_counter() - started
    return Cost(wall, _process_cpu() - process, _machine_cpu() - machine), value


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(fraction * len(ordered) + 0.999999)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# -- app logs ----------------------------------------------------------------------------


NOISE = "info: GET /api/matches/1234/live?include=stats 200 18ms ua=x"


def app_log(spec: Spec, start: datetime, minutes: int, noise_per_minute: int = 20) -> bytes:
    """The runbook's app log for `minutes` from `start`: each job every minute at its
    offset (started, completed in 900 ms), a PoolMonitor line a minute, and noise."""
    lines: list[str] = []
    for minute in range(minutes):
        at = start + timedelta(minutes=minute)
        for job in spec.jobs:
            begun = at + timedelta(seconds=job.offset_s)
            lines.append(f"{_stamp(begun)} info: 🔄 Job started: {job.name}")
            done = begun + timedelta(milliseconds=900)
            lines.append(f"{_stamp(done)} info: ✅ Job completed: {job.name} (900 ms)")
        pool = at + timedelta(seconds=50)
        lines.append(f"{_stamp(pool)} info: [PoolMonitor] active=4 utilization 37.5% waiting=0")
        lines.extend(f"{_stamp(at)} {NOISE}" for _ in range(noise_per_minute))
    return ("\n".join(lines) + "\n").encode()


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}"


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- loopback hosts ----------------------------------------------------------------------


@dataclass
class Fleet:
    """`count` sshd "hosts" on loopback, one client key, one known_hosts file."""

    app_dir: Path  # the path every host sees
    roots: list[Path]  # each host's own folder, bound over app_dir inside its sshd
    servers: list[SshdServer]
    known_hosts: Path
    client_key: Path

    @property
    def hosts(self) -> list[str]:
        return [str(server.host_address) for server in self.servers]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@contextlib.contextmanager
def loopback_fleet(tmp: Path, count: int) -> Iterator[Fleet]:
    """Starts `count` sshd in parallel (each in its own mount namespace) and stops them."""
    app_dir = tmp / "app"
    app_dir.mkdir(parents=True)
    roots = [make_app_dir(tmp / f"host-{n:02d}") for n in range(count)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        servers = list(
            pool.map(
                lambda n: SshdServer(tmp / f"sshd-{n:02d}", bind=(roots[n], app_dir)),
                range(count),
            )
        )
    fleet = Fleet(app_dir, roots, servers, tmp / "known_hosts", servers[0].client_key)
    try:
        # One client key for every host, and one known_hosts listing each [127.0.0.1]:port.
        fleet.known_hosts.write_text("".join(s.known_hosts.read_text() for s in servers))
        public = (servers[0].tmp / "authorized_keys").read_bytes()
        for server in servers[1:]:
            (server.tmp / "authorized_keys").write_bytes(public)
        yield fleet
    finally:
        fleet.stop()


# -- the bot -----------------------------------------------------------------------------


@dataclass
class RunningBot:
    bot: ServedBot[SystemClock]
    slack: SlackStandIn
    spec: Spec
    _server: Any
    _executor: Any
    _thread: threading.Thread

    def close(self) -> None:
        stop_http_server(self._server, self._thread)
        self._executor.shutdown(wait=True)
        self.slack.close()


@contextlib.contextmanager
def running_bot(
    tmp: Path, fleet: Fleet, count: int | None = None, **spec_options: Any
) -> Iterator[RunningBot]:
    """The bot (waitress, real SSH transport, Web API stand-in) for the first `count`
    hosts of `fleet` (all by default), with its own store in `tmp`."""
    slack = SlackStandIn()
    spec = parse_spec(
        spec_data(
            fleet.hosts[:count],
            fleet.app_dir,
            known_hosts=fleet.known_hosts,
            key_file=fleet.client_key,
            **spec_options,
        )
    )
    store_dir = tmp / "bot"
    store_dir.mkdir(parents=True, exist_ok=True)
    bot, (server, executor), thread = start_bot(
        store_dir,
        slack,
        SystemClock(),
        spec,
        fleet.roots[0],
    )
    running = RunningBot(bot, slack, spec, server, executor, thread)
    try:
        yield running
    finally:
        running.close()
