"""The offset distribution: which job starts when, where starts collide, and how many
jobs the durations say will run at once. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import reduce

from bot.core.spec import find_collisions
from bot.core.spec_fleet import JobSpec


def cycle_seconds(jobs: list[JobSpec]) -> int:
    return reduce(math.lcm, (job.interval_s for job in jobs), 1)


def predicted_overlap(jobs: list[JobSpec], durations_ms: Mapping[str, float]) -> int:
    """Most jobs running at once over one full cycle, each run lasting its job's duration
    (jobs without a duration are left out). Runs that spill past the cycle's end wrap."""
    cycle = cycle_seconds(jobs)
    changes: list[tuple[float, int]] = []
    for job in jobs:
        duration = durations_ms.get(job.name)
        if duration is None or duration <= 0:
            continue
        for start in range(job.offset_s, cycle, job.interval_s):
            end = start + duration / 1000
            changes += [(start, 1), (min(end, cycle), -1)]
            if end > cycle:  # the part that runs into the next cycle's beginning
                changes += [(0, 1), (end - cycle, -1)]
    running = highest = 0
    for _, change in sorted(changes):
        running += change
        highest = max(highest, running)
    return highest


def distribution_text(jobs: list[JobSpec]) -> str:
    lines = []
    for interval in sorted({job.interval_s for job in jobs}):
        label = "Every-Minute Jobs" if interval == 60 else f"Every-{interval // 60 or interval}-"
        if interval != 60:
            label += "Minute Jobs" if interval % 60 == 0 else "Second Jobs"
        lines.append(f"*{label}:*")
        for job in sorted((j for j in jobs if j.interval_s == interval), key=lambda j: j.offset_s):
            lines.append(f"• `:{job.offset_s:02d}s` — {job.name} (`{job.key}`)")
    collisions = find_collisions(jobs)
    if collisions:
        lines.append(
            f"*Collision check:* :x: {len(collisions)} second(s) of the "
            f"{cycle_seconds(jobs)} s cycle start two or more jobs:"
        )
        lines += [f"• second {second}: {', '.join(keys)}" for second, keys in collisions[:10]]
    else:
        lines.append(
            f"*Collision check:* :white_check_mark: PASSED — no two jobs start in the "
            f"same second over the {cycle_seconds(jobs)} s cycle"
        )
    return "\n".join(lines)
