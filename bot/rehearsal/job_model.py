"""The runbook's job runner, simulated on one host: pure, driven by simulated time.

The spec's jobs start on their intervals — at second :00 with the stagger off, at their
offsets with it on — and share one database connection pool of fixed size. Jobs that
start together hold more of the pool, wait for connections, run longer and skip on each
other's locks; that contention is what the stagger removes. Everything random comes
from one seeded generator consumed in simulated-time order, so the same seed gives the
same log however `advance` is chunked. Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

import bisect
import random
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.rehearsal.fleet_scenario import ErrorSpike
from bot.rehearsal.job_model_flags import RunnerFlags, SimJob

_JITTER_MS = 120  # a scheduler tick is never exactly on the second


@dataclass(frozen=True)
class PoolModel:
    """The shared connection pool and how contention for it shows."""

    size: int = 20
    connections_per_run: tuple[int, ...] = (3, 3, 4, 5)
    background_connections: tuple[int, ...] = (0, 0, 1, 2)  # the app's own queries
    stretch_per_peer: float = 0.15  # each job running alongside slows a run by this much
    lock_skip_per_peer: float = 0.01
    wait_failure_rate: float = 0.02  # runs that had to queue for a connection may time out
    slow_query_ms: int = 2500
    sample_every_s: int = 60


@dataclass(frozen=True)
class Failures:
    base_rate: float = 0.0
    spike: ErrorSpike | None = None
    base_message: str = "upstream request failed (HTTP 502)"


@dataclass(frozen=True)
class JobExecution:
    """One run, as the app records it in its job-execution table."""

    job: str
    started_ms: int
    completed_ms: int
    error: str | None
    connections: int
    staggered: bool


@dataclass(frozen=True)
class Produced:
    """What the runner wrote up to a moment: log text (whole lines) and finished runs."""

    log_text: str
    executions: tuple[JobExecution, ...]


# (at ms, sequence, text, execution): plain tuples sort fast, and the sequence is unique,
# so the sort never compares the text.
_Entry = tuple[int, int, str, JobExecution | None]


class Stamper:
    """`2026-02-01 12:00:15.123`, formatting each second once."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, at_ms: int) -> str:
        second, milli = divmod(at_ms, 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{milli:03d}"


def stamp(at_ms: int) -> str:
    return Stamper()(at_ms)


def base_duration_ms(job: SimJob) -> int:
    """A job's uncontended run time: stable per job key, 400–1600 ms."""
    return 400 + zlib.crc32(job.key.encode()) % 1200


class HostRunner:
    """One host's job runner. `advance` returns what it logged from where it left off."""

    def __init__(
        self,
        jobs: Sequence[SimJob],
        *,
        seed: str,
        start_ms: int,
        flags: RunnerFlags,
        pool: PoolModel = PoolModel(),
        failures: Failures = Failures(),
        staggered_duration_factor: float = 1.0,
    ) -> None:
        self.flags = flags
        self.failures = failures
        self.staggered_duration_factor = staggered_duration_factor
        self._jobs = tuple(jobs)
        self._pool = pool
        self._random = random.Random(seed)
        self._base_ms = {job.key: base_duration_ms(job) for job in self._jobs}
        self._cursor_ms = start_ms
        self._started_ms = start_ms  # when this process started (reloads restart it)
        self._pending: list[_Entry] = []
        self._running: list[tuple[int, int]] = []  # (ends at ms, connections held)
        self._peak_in_use = 0
        self._peak_waiting = 0
        self._sequence = 0
        self._stamp = Stamper()

    @property
    def cursor_ms(self) -> int:
        return self._cursor_ms

    def restart(self, flags: RunnerFlags) -> None:
        """A reload: a new process with `flags` and a fresh pool (the old one's runs end
        in the old process; its pool peak is not the new monitor's)."""
        self.flags = flags
        self._started_ms = self._cursor_ms
        self._running = []
        self._peak_in_use = 0
        self._peak_waiting = 0

    def advance(self, until_ms: int) -> Produced:
        if until_ms < self._cursor_ms:
            raise ValueError("the simulated time cannot go back")
        entries = self._pending
        self._pending = []
        due = self._starts_between(self._cursor_ms, until_ms)
        every = self._pool.sample_every_s
        first_sample = -(-self._cursor_ms // (every * 1000)) * every
        samples = range(first_sample, -(-until_ms // 1000), every)
        for second in sorted(set(due) | set(samples)):
            if second in samples:
                entries.append(self._pool_sample(second * 1000))
            if second in due:
                entries.extend(self._run_cohort(second * 1000, due[second]))
        self._cursor_ms = until_ms
        entries.sort()
        cut = bisect.bisect_left(entries, (until_ms,))
        self._pending = entries[cut:]
        written = entries[:cut]
        stamper = self._stamp
        text = "".join([f"{stamper(at)} {line}\n" for at, _, line, _ in written])
        executions = tuple(run for _, _, _, run in written if run is not None)
        return Produced(text, executions)

    def _starts_between(self, start_ms: int, end_ms: int) -> dict[int, list[SimJob]]:
        first, end = -(-start_ms // 1000), -(-end_ms // 1000)
        due: dict[int, list[SimJob]] = {}
        for job in self._jobs:
            offset = self.flags.start_second(job)
            aligned = first + (offset - first) % job.interval_s
            for second in range(aligned, end, job.interval_s):
                due.setdefault(second, []).append(job)
        return due

    def _entry(self, at_ms: int, text: str, execution: JobExecution | None = None) -> _Entry:
        self._sequence += 1
        return (at_ms, self._sequence, text, execution)

    def _pool_sample(self, at_ms: int) -> _Entry:
        pool = self._pool
        in_use = min(
            pool.size, self._peak_in_use + self._random.choice(pool.background_connections)
        )
        percent = round(in_use * 100 / pool.size)
        entry = self._entry(
            at_ms,
            f"info: [PoolMonitor] utilization {percent}% (peak of the last {pool.sample_every_s}s: "
            f"{in_use}/{pool.size} connections, {self._peak_waiting} waiting)",
        )
        self._running = [run for run in self._running if run[0] > at_ms]
        self._peak_in_use = min(pool.size, sum(held for _, held in self._running))
        self._peak_waiting = 0
        return entry

    def _run_cohort(self, at_ms: int, jobs: list[SimJob]) -> list[_Entry]:
        pool, draw = self._pool, self._random
        self._running = [run for run in self._running if run[0] > at_ms]
        entries: list[_Entry] = []
        starting: list[SimJob] = []
        peers = len(self._running) + len(jobs) - 1
        for job in jobs:
            if draw.random() < pool.lock_skip_per_peer * peers:
                entries.append(
                    self._entry(
                        at_ms + draw.randrange(_JITTER_MS),
                        f"info: ⏭️ {job.name} skipped_lock (advisory lock held by another job)",
                    )
                )
            else:
                starting.append(job)
        held = [draw.choice(pool.connections_per_run) for _ in starting]
        demand = sum(connections for _, connections in self._running) + sum(held)
        waiting = max(0, demand - pool.size)
        self._peak_in_use = max(self._peak_in_use, min(demand, pool.size))
        self._peak_waiting = max(self._peak_waiting, waiting)
        stretch = 1 + pool.stretch_per_peer * (len(self._running) + len(starting) - 1)
        stretch += waiting / pool.size
        staggered_together = [job for job in starting if self.flags.staggered_job(job)]
        if len(staggered_together) > 1:
            names = ", ".join(job.name for job in staggered_together)
            entries.append(
                self._entry(
                    at_ms,
                    f"warn: ⚠️ Offset collision at :{at_ms // 1000 % 60:02d}: {names} "
                    "started in the same second",
                )
            )
        for job, connections in zip(starting, held, strict=True):
            entries.extend(self._run(job, at_ms, connections, stretch, waiting > 0))
        return entries

    def _run(
        self, job: SimJob, second_ms: int, connections: int, stretch: float, queued: bool
    ) -> list[_Entry]:
        draw = self._random
        started = second_ms + draw.randrange(_JITTER_MS)
        staggered = self.flags.staggered_job(job)
        factor = self.staggered_duration_factor if staggered else 1.0
        duration = round(self._base_ms[job.key] * draw.uniform(0.85, 1.15) * stretch * factor)
        completed = started + duration
        self._running.append((completed, connections))
        error = self._failure(second_ms, queued)
        execution = JobExecution(job.name, started, completed, error, connections, staggered)
        entries = [self._entry(started, f"info: 🔄 Job started: {job.name}")]
        if duration >= self._pool.slow_query_ms:
            entries.append(
                self._entry(completed - 1, f"warn: [DB] Slow query ({duration} ms) in {job.name}")
            )
        ending = (
            f"error: ❌ Job failed: {job.name} - {error}"
            if error
            else f"info: ✅ Job completed: {job.name} ({duration} ms)"
        )
        entries.append(self._entry(completed, ending, execution))
        return entries

    def _failure(self, at_ms: int, queued: bool) -> str | None:
        draw, failures = self._random.random(), self.failures
        if queued and draw < self._pool.wait_failure_rate:
            return "timeout acquiring a database connection from the pool"
        spike = failures.spike
        if (
            spike is not None
            and (spike.since is None or at_ms >= int(spike.since.timestamp() * 1000))
            and (self.flags.staggered or not spike.only_while_staggered)
            and at_ms >= self._started_ms + spike.after // timedelta(milliseconds=1)
            and self._random.random() < spike.rate
        ):
            return spike.message
        if failures.base_rate and self._random.random() < failures.base_rate:
            return failures.base_message
        return None
