"""The simulated fleet's files, shared by the rehearsal process and the reload command.

`<work>/fleet.json` describes the runners (jobs, flag names, file names), `<work>/clock`
holds the simulated time the fleet has reached, and each app dir's `.runner-flags.json`
holds what its runner read at its last start — the running process's memory, on disk
because the reload runs in a separate process. Standard library only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.rehearsal.job_model_flags import FlagNames, RunnerFlags, SimJob

CONFIG_FILE = "fleet.json"
CLOCK_FILE = "clock"
RUNNER_FLAGS_FILE = ".runner-flags.json"


@dataclass(frozen=True)
class FleetConfig:
    jobs: tuple[SimJob, ...]
    flag: FlagNames
    env_file: str = ".env"
    log_file: str = "logs/combined.log"

    def to_json(self) -> str:
        return json.dumps(
            {
                "jobs": [asdict(job) for job in self.jobs],
                "flag": asdict(self.flag),
                "env_file": self.env_file,
                "log_file": self.log_file,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> FleetConfig:
        data = json.loads(text)
        return cls(
            tuple(SimJob(**job) for job in data["jobs"]),
            FlagNames(**data["flag"]),
            str(data["env_file"]),
            str(data["log_file"]),
        )


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("simulated times must be timezone-aware")
    return round(moment.timestamp() * 1000)


def from_ms(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, UTC)


class ClockFile:
    """The fleet's simulated time on disk, rewritten in place on every advance.

    One fixed-width write at offset 0 (no temp file and rename: those cost more than
    simulating a minute), so a reader sees the old time or the new one.
    """

    def __init__(self, work: Path) -> None:
        self._fd = os.open(work / CLOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o644)

    def write(self, at_ms: int) -> None:
        os.pwrite(self._fd, _clock_text(at_ms).encode(), 0)

    def close(self) -> None:
        os.close(self._fd)


def _clock_text(at_ms: int) -> str:
    return from_ms(at_ms).isoformat(timespec="milliseconds") + "\n"


def read_clock(work: Path) -> int:
    return to_ms(datetime.fromisoformat((work / CLOCK_FILE).read_text(encoding="utf-8").strip()))


def read_config(work: Path) -> FleetConfig:
    return FleetConfig.from_json((work / CONFIG_FILE).read_text(encoding="utf-8"))


def write_runner_flags(app_dir: Path, flags: RunnerFlags) -> None:
    write_atomically(app_dir / RUNNER_FLAGS_FILE, flags.to_json() + "\n")


def read_runner_flags(app_dir: Path) -> RunnerFlags:
    return RunnerFlags.from_json((app_dir / RUNNER_FLAGS_FILE).read_text(encoding="utf-8"))


def runner_flags_signature(app_dir: Path) -> tuple[int, int, int]:
    """Changes whenever a reload rewrites the flags: checked before each advance, cheaply."""
    status = (app_dir / RUNNER_FLAGS_FILE).stat()
    return status.st_ino, status.st_mtime_ns, status.st_size
