"""The simulated fleet's `pm2 reload`: restart one host's runner.

Run in the host's app dir (the bot runs `cd <app_dir> && <reload_command>`): it re-reads
the env file, logs `Job stagger enabled` or `disabled` (and any offset collision) stamped
with the fleet's simulated time, and leaves the flags for the fleet's next `advance`.
Usage: `python3 -m bot.rehearsal.fleet_reload WORK_DIR`. Standard library only, to start fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.rehearsal.fleet_files import read_clock, read_config, write_runner_flags
from bot.rehearsal.job_model import stamp
from bot.rehearsal.job_model_flags import RunnerFlags, read_flags, startup_messages


def reload_runner(work: Path, app_dir: Path) -> RunnerFlags:
    config = read_config(work)
    now_ms = read_clock(work)
    flags = read_flags((app_dir / config.env_file).read_bytes(), config.jobs, config.flag)
    at = stamp(now_ms)
    lines = "".join(
        f"{at} {message}\n" for message in startup_messages(config.jobs, flags, config.flag)
    )
    with (app_dir / config.log_file).open("a", encoding="utf-8") as log:
        log.write(lines)
    write_runner_flags(app_dir, flags)
    return flags


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python3 -m bot.rehearsal.fleet_reload WORK_DIR", file=sys.stderr)
        return 2
    try:
        reload_runner(Path(argv[0]), Path.cwd())
    except (OSError, ValueError, KeyError) as error:
        print(f"reload failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
