"""The rehearsal's simulated fleet: per env a few hosts, each an app dir with its env
file and combined.log, written by a simulated job runner as simulated time advances.

    <work>/fleet.json, <work>/clock
    <work>/<env>/<hostname>/.env                    JOB_STAGGER_ENABLED=false at first
    <work>/<env>/<hostname>/logs/combined.log

The fleet never reads the wall clock: `advance(until)` writes every host's lines up to
`until` and records `until` in the clock file, which the reload command (run by the bot
in the host's app dir, in a separate process) stamps its `Job stagger ...` line with.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType

import bot
from bot.core.spec import Spec
from bot.core.spec_fleet import DatabaseSpec
from bot.rehearsal.fleet_db import JobRowWriter, create_job_table
from bot.rehearsal.fleet_files import (
    CONFIG_FILE,
    ClockFile,
    FleetConfig,
    from_ms,
    read_runner_flags,
    runner_flags_signature,
    to_ms,
    write_atomically,
    write_runner_flags,
)
from bot.rehearsal.fleet_reload import reload_runner
from bot.rehearsal.fleet_scenario import FleetKnobs
from bot.rehearsal.job_model import Failures, HostRunner, JobExecution, PoolModel, stamp
from bot.rehearsal.job_model_flags import FlagNames, RunnerFlags, SimJob, startup_messages

DEFAULT_HOSTS_PER_ENV = {"staging": 1, "prod": 2}
DOMAIN = "rehearsal.example.com"
SSH_USER = "sim"
ENV_FILE = ".env"
LOG_FILE = "logs/combined.log"
NO_KNOBS = FleetKnobs()
DEFAULT_POOL = PoolModel()


@dataclass(frozen=True)
class SimHost:
    env: str
    hostname: str
    app_dir: Path

    @property
    def address(self) -> str:
        """As the spec lists hosts: `sim@staging-1.rehearsal.example.com`."""
        return f"{SSH_USER}@{self.hostname}"

    @property
    def env_path(self) -> Path:
        return self.app_dir / ENV_FILE

    @property
    def log_path(self) -> Path:
        return self.app_dir / LOG_FILE


@dataclass(frozen=True)
class FleetDatabase:
    """Where the simulated app records its runs (the table is created if missing)."""

    dsn: str
    table: DatabaseSpec = field(default_factory=DatabaseSpec)


class Fleet:
    """Create with `Fleet.create`; use as a context manager to close the database."""

    def __init__(
        self,
        work: Path,
        hosts: tuple[SimHost, ...],
        runners: dict[str, HostRunner],
        knobs: FleetKnobs,
        rows: dict[str, JobRowWriter],
        start_ms: int,
    ) -> None:
        self.work = work
        self.hosts = hosts
        self.knobs = knobs
        self._runners = runners
        self._rows = rows
        self._now_ms = start_ms
        self._flag_signatures = {h.hostname: runner_flags_signature(h.app_dir) for h in hosts}
        self._clock = ClockFile(work)
        self._clock.write(start_ms)
        # Kept open in append mode: the reload command appends to the same files, and
        # O_APPEND puts each write at the end whoever writes.
        self._logs = {h.hostname: h.log_path.open("a", encoding="utf-8") for h in hosts}
        self._closed = False

    @classmethod
    def create(
        cls,
        work: Path,
        spec: Spec,
        start: datetime,
        *,
        hosts_per_env: Mapping[str, int] | None = None,
        seed: int = 0,
        knobs: FleetKnobs = NO_KNOBS,
        databases: Mapping[str, FleetDatabase] | None = None,
        pool: PoolModel = DEFAULT_POOL,
    ) -> Fleet:
        """Lay out every env's hosts under `work` with the stagger off, runners at `start`.

        `databases` maps an env to the database its app records runs in (each env its
        own, as in life: the bot reads one DSN per env); envs without one write no rows.
        """
        work = work.resolve()
        counts = {**DEFAULT_HOSTS_PER_ENV, **(hosts_per_env or {})}
        jobs = tuple(SimJob(j.key, j.name, j.interval_s, j.offset_s) for j in spec.jobs)
        flag = FlagNames(
            spec.flag.name, spec.flag.job_prefix, spec.flag.enabled_line, spec.flag.disabled_line
        )
        work.mkdir(parents=True, exist_ok=True)
        write_atomically(work / CONFIG_FILE, FleetConfig(jobs, flag, ENV_FILE, LOG_FILE).to_json())
        start_ms = to_ms(start)
        hosts = tuple(
            SimHost(env, f"{env}-{number}.{DOMAIN}", work / env / f"{env}-{number}.{DOMAIN}")
            for env in spec.environments
            for number in range(1, counts.get(env, 1) + 1)
        )
        runners = {}
        for host in hosts:
            _lay_out(host, flag, jobs, start_ms)
            runners[host.hostname] = HostRunner(
                jobs,
                seed=f"{seed}:{host.hostname}",
                start_ms=start_ms,
                flags=RunnerFlags(),
                pool=pool,
                failures=_failures(knobs, host.env),
                staggered_duration_factor=knobs.staggered_duration_factor,
            )
        rows = {}
        for env, database in (databases or {}).items():
            create_job_table(database.dsn, database.table)
            rows[env] = JobRowWriter(database.dsn, database.table)
        return cls(work, hosts, runners, knobs, rows, start_ms)

    @property
    def now(self) -> datetime:
        return from_ms(self._now_ms)

    def hosts_of(self, env: str) -> tuple[SimHost, ...]:
        return tuple(host for host in self.hosts if host.env == env)

    def reload_command(self) -> str:
        """The env's `reload_command`: restarts the runner of the app dir it is run in."""
        source_root = Path(bot.__file__).resolve().parent.parent
        return (
            f"PYTHONPATH={shlex.quote(str(source_root))} {shlex.quote(sys.executable)} "
            f"-m bot.rehearsal.fleet_reload {shlex.quote(str(self.work))}"
        )

    def spec_environment(self, env: str) -> dict[str, object]:
        """The keys of `[environments.<env>]` that point the bot at this fleet."""
        return {
            "hosts": [host.address for host in self.hosts_of(env)],
            "app_dir": f"{self.work}/{env}/{{host}}",
            "env_file": ENV_FILE,
            "log_file": LOG_FILE,
            "reload_command": self.reload_command(),
        }

    def is_down(self, hostname: str) -> bool:
        down = self.knobs.host_down
        return (
            down is not None
            and down.host == hostname
            and (down.since is None or self._now_ms >= to_ms(down.since))
        )

    def runner_flags(self, hostname: str) -> RunnerFlags:
        """What the host's runner uses now: the flags it read at its last (re)start."""
        return self._runners[hostname].flags

    def change_knobs(self, knobs: FleetKnobs) -> None:
        """Turn the scenario's knobs from the current simulated time on."""
        self.knobs = knobs
        for host in self.hosts:
            runner = self._runners[host.hostname]
            runner.failures = _failures(knobs, host.env)
            runner.staggered_duration_factor = knobs.staggered_duration_factor

    def reload(self, host: SimHost) -> RunnerFlags:
        """What the reload command does, in this process."""
        return reload_runner(self.work, host.app_dir)

    def advance(self, until: datetime) -> None:
        """Write every host's log (and job rows) up to `until`; `until` becomes the clock."""
        until_ms = to_ms(until)
        if until_ms < self._now_ms:
            raise ValueError(f"the fleet is at {self.now}, it cannot go back to {until}")
        runs: dict[str, dict[str, tuple[JobExecution, ...]]] = {env: {} for env in self._rows}
        for host in self.hosts:
            runner = self._runners[host.hostname]
            self._pick_up_reload(host, runner)
            host_until = self._host_until(host, until_ms)
            if host_until <= runner.cursor_ms:
                continue
            produced = runner.advance(host_until)
            if produced.log_text:
                log = self._logs[host.hostname]
                log.write(produced.log_text)
                log.flush()
            if host.env in runs:
                runs[host.env][host.hostname] = self._reaching_database(produced.executions)
        for env, runs_by_host in runs.items():
            self._rows[env].write(runs_by_host)
        self._clock.write(until_ms)
        self._now_ms = until_ms

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for log in self._logs.values():
            log.close()
        self._clock.close()
        for writer in self._rows.values():
            writer.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _pick_up_reload(self, host: SimHost, runner: HostRunner) -> None:
        signature = runner_flags_signature(host.app_dir)
        if signature != self._flag_signatures[host.hostname]:
            self._flag_signatures[host.hostname] = signature
            runner.restart(read_runner_flags(host.app_dir))

    def _host_until(self, host: SimHost, until_ms: int) -> int:
        down = self.knobs.host_down
        if down is None or down.host != host.hostname:
            return until_ms
        return min(until_ms, _since_ms(down.since))

    def _reaching_database(self, runs: tuple[JobExecution, ...]) -> tuple[JobExecution, ...]:
        down_since = self.knobs.database_down_since
        if down_since is None:
            return runs
        cutoff = to_ms(down_since)
        return tuple(run for run in runs if run.completed_ms < cutoff)


def _since_ms(since: datetime | None) -> int:
    return 0 if since is None else to_ms(since)


def _failures(knobs: FleetKnobs, env: str) -> Failures:
    spike = knobs.error_spike if knobs.error_spike and knobs.error_spike.env == env else None
    return Failures(base_rate=knobs.failure_rate, spike=spike)


def _lay_out(host: SimHost, flag: FlagNames, jobs: tuple[SimJob, ...], start_ms: int) -> None:
    (host.app_dir / "logs").mkdir(parents=True, exist_ok=True)
    node_env = "production" if host.env == "prod" else host.env
    host.env_path.write_text(
        f"# {host.hostname}: simulated by stagger-bot's rehearsal\n"
        f"NODE_ENV={node_env}\n{flag.name}=false\nLOG_LEVEL=info\n",
        encoding="utf-8",
    )
    at = stamp(start_ms)
    host.log_path.write_text(
        "".join(f"{at} {line}\n" for line in startup_messages(jobs, RunnerFlags(), flag)),
        encoding="utf-8",
    )
    write_runner_flags(host.app_dir, RunnerFlags())
