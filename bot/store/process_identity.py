"""Which process on this machine is doing something, and whether it still runs.

Several processes may share one store (`serve` and `scheduler` from the Procfile, a deploy
overlapping the old process). A request left EXECUTING is only interrupted if the process
that claimed it is gone; a live one is still working on it. SQLite needs its processes on
one machine, so a PID with its start time (from /proc, against PID reuse) names one, with
its PID namespace: a process in another namespace (another container sharing the store's
volume) can't be seen from here, so it is taken to be alive. Run the processes that share
a store in one PID namespace (one container, or the host) for their work to be recovered.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _start_time(pid: int) -> str | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None  # field 22, starttime


def _pid_namespace() -> str:
    try:
        return os.readlink(_PROC / "self" / "ns" / "pid").removeprefix("pid:")
    except OSError:
        return "?"


def this_process() -> str:
    """`pid:starttime:pidnamespace` of the calling process."""
    pid = os.getpid()
    return f"{pid}:{_start_time(pid) or '?'}:{_pid_namespace()}"


def is_running(identity: str | None) -> bool:
    """Whether the process named by `this_process()` elsewhere still runs."""
    if not identity:
        return False
    pid_text, _, rest = identity.partition(":")
    started, _, namespace = rest.partition(":")
    if not pid_text.isdigit():
        return False
    if namespace and namespace != _pid_namespace():
        return True  # not visible from here: never report another namespace's work dead
    now_started = _start_time(int(pid_text))
    return now_started is not None and (started == "?" or now_started == started)
