"""Writing the app's combined.log as the runbook's backend does, for a span of time whose
answers are known: jobs at :00 or at their offsets, pool samples, failures, collisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.core.spec import Spec


@dataclass(frozen=True)
class Traffic:
    staggered: bool
    pool_util: float = 30.0
    run_s: float = 2.0
    fail_every: int = 0  # every Nth start fails (0: none)
    collisions_per_hour: int = 0
    lock_skips_per_minute: int = 0


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}"


def log_lines(spec: Spec, start: datetime, minutes: int, traffic: Traffic) -> list[str]:
    lines: list[tuple[datetime, str]] = []
    started = 0
    for minute in range(minutes):
        base = start + timedelta(minutes=minute)
        epoch_s = int(base.timestamp())
        for job in spec.jobs:
            if epoch_s % job.interval_s != 0:
                continue
            at = base + timedelta(seconds=job.offset_s if traffic.staggered else 0)
            started += 1
            lines.append((at, f"info: 🔄 Job started: {job.name}"))
            done = at + timedelta(seconds=traffic.run_s)
            if traffic.fail_every and started % traffic.fail_every == 0:
                lines.append((done, f"error: ❌ Job failed: {job.name} - timeout"))
            else:
                lines.append(
                    (done, f"info: ✅ Job completed: {job.name} ({traffic.run_s * 1000:.0f} ms)")
                )
        lines.append(
            (base + timedelta(seconds=50), f"info: [PoolMonitor] utilization {traffic.pool_util}%")
        )
        for skip in range(traffic.lock_skips_per_minute):
            lines.append((base + timedelta(seconds=51 + skip), "info: live stats skipped_lock"))
        if traffic.collisions_per_hour and minute % 60 < traffic.collisions_per_hour:
            lines.append((base + timedelta(seconds=55), "warn: offset collision detected"))
    return [f"{_stamp(at)} {text}" for at, text in sorted(lines, key=lambda item: item[0])]


def append_log(path: Path, spec: Spec, start: datetime, minutes: int, traffic: Traffic) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write("\n".join(log_lines(spec, start, minutes, traffic)) + "\n")


def lock_skip_lines(start: datetime, hours: int, per_hour: int) -> list[str]:
    """`per_hour` lock skips in each of `hours` hours from `start`, evenly spaced."""
    step = timedelta(hours=1) / per_hour
    return [
        f"{_stamp(start + n * step + timedelta(seconds=30))} info: ⏭️ Live Stats Sync skipped_lock"
        for n in range(hours * per_hour)
    ]


def append_lines(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write("".join(line + "\n" for line in lines))
