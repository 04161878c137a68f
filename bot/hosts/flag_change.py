"""Changing the stagger flag on every host of an environment, and proving it took.

On each host, in parallel: read the env file, write the new one atomically (temp file,
fsync, rename; a timestamped backup kept; refused if the file changed meanwhile), reload
the app, and watch the log for the confirmation line written after the reload. A host
counts as verified only when every step succeeded.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shlex
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.core.changes import ChangeOutcome, FlagChange, HostOutcome, Timeouts
from bot.core.envfile import read_env_value, set_env_value
from bot.core.errors import RemoteError
from bot.core.host_address import HostAddress
from bot.core.ports import CommandResult, RemoteSession, Transport
from bot.core.spec_fleet import EnvironmentSpec

logger = logging.getLogger(__name__)

CommandObserver = Callable[[CommandResult], None]

# How long a write waits for another writer (a person, another bot) to let go of the lock.
LOCK_WAIT_S = 10


def apply_everywhere(
    environment: EnvironmentSpec,
    change: FlagChange,
    transport: Transport,
    *,
    timeouts: Timeouts,
    stamp: str,
    observe: CommandObserver,
    still_owner: Callable[[], bool] = lambda: True,
    hosts: Sequence[HostAddress] | None = None,
    before_write: Callable[[str], None] = lambda host: None,
) -> ChangeOutcome:
    """The change on every host of `environment` at once, or on `hosts` of it (a tier).
    `before_write(host)` runs just before a host's env file is written; raising a
    RemoteError there leaves that host unwritten (reported failed with its reason)."""
    hosts = list(environment.host_addresses if hosts is None else hosts)
    if not hosts:
        return ChangeOutcome(())
    with ThreadPoolExecutor(max_workers=len(hosts), thread_name_prefix="flag") as pool:
        futures = [
            pool.submit(
                _apply_on_host,
                host,
                environment,
                change,
                transport,
                _HostSteps(timeouts, stamp, observe, still_owner, before_write),
            )
            for host in hosts
        ]
        return ChangeOutcome(tuple(future.result() for future in futures))


@dataclass(frozen=True)
class _HostSteps:
    """How each host's steps run: their timeouts, the backup's stamp, who sees each
    command, and whether this bot still owns the change (asked before the write)."""

    timeouts: Timeouts
    stamp: str
    observe: CommandObserver
    still_owner: Callable[[], bool]
    before_write: Callable[[str], None] = lambda host: None


def _apply_on_host(
    host: HostAddress,
    environment: EnvironmentSpec,
    change: FlagChange,
    transport: Transport,
    steps: _HostSteps,
) -> HostOutcome:
    try:
        with transport.connect(host) as session:
            return _HostRun(session, environment, change, steps).run(host)
    except RemoteError as error:
        return HostOutcome(str(host), False, error.reason)
    except Exception as error:  # a host's failure must never hide the other hosts' results
        logger.exception("unexpected failure on %s", host)
        return HostOutcome(str(host), False, f"unexpected error: {type(error).__name__}")


class _HostRun:
    def __init__(
        self,
        session: RemoteSession,
        environment: EnvironmentSpec,
        change: FlagChange,
        steps: _HostSteps,
    ) -> None:
        self.session = session
        self.environment = environment
        self.change = change
        self.timeouts = steps.timeouts
        self.stamp = steps.stamp
        self.observe = steps.observe
        self.still_owner = steps.still_owner
        self.before_write = steps.before_write

    def _run(
        self, command: str, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        result = self.session.run(command, stdin=stdin, timeout=timeout or self.timeouts.command_s)
        self.observe(result)
        return result

    def run(self, address: HostAddress) -> HostOutcome:
        host = str(address)
        env_path = self.environment.env_file_on(address)
        read = self._run(f"cat -- {shlex.quote(env_path)}")
        if not read.ok:
            return HostOutcome(host, False, f"cannot read {env_path}: {_why(read)}")
        old = read.stdout
        new = set_env_value(old, self.change.key, self.change.value)
        backup = f"{env_path}.stagger-backup-{self.stamp}"
        if not self.still_owner():
            return HostOutcome(
                host, False, "not written: this bot no longer holds the change's lease"
            )
        # The lock's wait leaves the command time to finish within its own timeout.
        wait = min(LOCK_WAIT_S, self.timeouts.command_s / 2)
        self.before_write(host)
        write = self._run(write_script(env_path, backup, old, new, wait), stdin=new)
        if not write.ok:
            return HostOutcome(host, False, f"could not write {env_path}: {_why(write)}")
        if write.stdout.split()[:1] != [hashlib.sha256(new).hexdigest().encode()]:
            return HostOutcome(host, False, f"{env_path} does not hold what was written", backup)
        if read_env_value(new, self.change.key) != self.change.value:
            return HostOutcome(host, False, f"{self.change.key} did not take in {env_path}", backup)
        log_path = self.environment.log_file_on(address)
        size = self._run(f"stat -c %s -- {shlex.quote(log_path)} 2>/dev/null || echo 0")
        offset = (
            int(size.stdout.strip() or b"0") if size.ok and size.stdout.strip().isdigit() else 0
        )
        reload = self._run(
            f"cd -- {shlex.quote(self.environment.app_dir_on(address))} && "
            f"{self.environment.reload_command}"
        )
        if not reload.ok:
            return HostOutcome(host, False, f"reload failed: {_why(reload)}", backup)
        confirmed = self._run(
            _watch_script(log_path, offset, self.change.confirm_line, self.timeouts.verify_s),
            timeout=self.timeouts.verify_s + self.timeouts.command_s,
        )
        if not confirmed.ok:
            return HostOutcome(
                host,
                False,
                f"no '{self.change.confirm_line}' in {log_path} within "
                f"{self.timeouts.verify_s:g}s after reload",
                backup,
            )
        # The log line tells that the app reloaded, not what it read: a per-job line is any
        # reload's. The env file read back after the reload must still hold the value, or
        # another writer undid it.
        again = self._run(f"cat -- {shlex.quote(env_path)}")
        if not again.ok:
            return HostOutcome(host, False, f"cannot read {env_path} back: {_why(again)}", backup)
        held = read_env_value(again.stdout, self.change.key)
        if held != self.change.value:
            return HostOutcome(
                host,
                False,
                f"{env_path} holds {self.change.key}={held} after the reload, not "
                f"{self.change.value}: another writer changed it",
                backup,
            )
        return HostOutcome(
            host,
            True,
            f"{self.change.key}={self.change.value} written, reloaded, "
            f"'{self.change.confirm_line}' seen in the log, the env file read back",
            backup,
        )


# Terminal escapes and other control characters: pm2 colours its errors even when no
# terminal reads them, and a reply must show its words, not `[31m`.
_TERMINAL_CODES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~])"
    r"|[\x00-\x08\x0b-\x1f\x7f]"
)


def _why(result: CommandResult) -> str:
    if result.timed_out:
        return f"timed out after {result.duration_s:.0f}s"
    text = _TERMINAL_CODES.sub("", result.stderr.decode("utf-8", errors="replace"))
    stderr = text.strip().splitlines()
    return f"exit {result.exit_status}" + (f": {_shorten(stderr[-1])}" if stderr else "")


def _shorten(line: str, limit: int = 200) -> str:
    """Long paths fill the middle of an error; its reason is at the end, so keep both ends."""
    if len(line) <= limit:
        return line
    return line[: limit // 3] + " … " + line[-(limit - limit // 3 - 3) :]


def write_script(
    path: str, backup: str, old: bytes, new: bytes, lock_wait_s: float = LOCK_WAIT_S
) -> str:
    """Atomic replace of `path` with `new`, read from stdin: refused if the file changed
    since it was read; a backup kept. The new content must arrive whole (its hash is
    checked): a bot killed mid-send closes stdin early, and that must not become the file.
    The check and the rename happen under an exclusive `flock` on `<file>.stagger-lock`
    beside it (the file itself is replaced, so its own lock would not hold), so two
    writers can't both pass the check before either renames.
    """
    quoted = shlex.quote(path)
    new_hash = hashlib.sha256(new).hexdigest()
    expected = hashlib.sha256(old).hexdigest()
    return (
        "set -eu; "
        f"f={quoted}; b={shlex.quote(backup)}; "
        'exec 9>> "$f.stagger-lock"; '
        f"flock -w {max(1, int(lock_wait_s))} 9 "
        '|| { echo "another writer holds the lock on the env file" >&2; exit 5; }; '
        f'[ "$(sha256sum < "$f" | cut -d" " -f1)" = {expected} ] '
        '|| { echo "the file changed while it was being edited" >&2; exit 3; }; '
        # A name of its own per write: two writers never share a temporary file.
        't=$(mktemp -- "$f.stagger-tmp-XXXXXX"); '
        "trap 'rm -f -- \"$t\"' EXIT; "
        'cp -p -- "$f" "$b"; cp -p -- "$f" "$t"; cat > "$t"; '
        f'[ "$(sha256sum < "$t" | cut -d" " -f1)" = {new_hash} ] '
        '|| { echo "the new content arrived incomplete; the file is unchanged" >&2; exit 4; }; '
        'sync -- "$t" 2>/dev/null || sync; '
        'mv -f -- "$t" "$f"; trap - EXIT; '
        'sha256sum < "$f" | cut -d" " -f1'
    )


def _watch_script(path: str, offset: int, line: str, timeout_s: float) -> str:
    """Poll, on the host, for `line` among the bytes written after `offset`."""
    return (
        f"f={shlex.quote(path)}; off={int(offset)}; "
        f"end=$(( $(date +%s) + {max(1, int(timeout_s + 0.999))} )); "
        "while :; do "
        'size=$(stat -c %s -- "$f" 2>/dev/null || echo 0); '
        '[ "$size" -lt "$off" ] && off=0; '
        f'if tail -c +$((off + 1)) -- "$f" 2>/dev/null | grep -q -F -e {shlex.quote(line)}; '
        "then exit 0; fi; "
        '[ "$(date +%s)" -ge "$end" ] && exit 1; '
        "sleep 0.2; "
        "done"
    )
