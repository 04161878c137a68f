"""The rehearsal's transport: the same commands SSH would run, in a local shell.

It runs what `bot.hosts.ssh.SshTransport` would send to a host, with the same results,
timeouts (the command's whole process group is killed) and streamed output, so the
rehearsal's simulated hosts exercise the bot's real command paths.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from subprocess import PIPE

from bot.core.host_address import HostAddress
from bot.core.ports import CommandResult, OutputSink, RemoteSession
from bot.hosts.ssh import CHUNK_BYTES, BoundedOutput, command_result


class _LocalSession:
    def __init__(self, host: HostAddress, max_output: int) -> None:
        self._host, self._max_output = host, max_output

    def run(
        self,
        command: str,
        *,
        stdin: bytes | None = None,
        timeout: float = 30.0,
        on_stdout: OutputSink | None = None,
    ) -> CommandResult:
        started = time.monotonic()
        # Its own process group, so a timeout kills the command and everything it started.
        process = subprocess.Popen(
            ["bash", "-c", command], stdin=PIPE, stdout=PIPE, stderr=PIPE, start_new_session=True
        )
        if on_stdout is not None:
            return self._streamed(process, command, stdin or b"", started, timeout, on_stdout)
        status: int | None
        try:
            out, err = process.communicate(stdin or b"", timeout=timeout)
            status = process.returncode
        except subprocess.TimeoutExpired:
            _kill(process)
            out, err = process.communicate()
            status = None
        streams = (BoundedOutput(self._max_output, out), BoundedOutput(self._max_output, err))
        return command_result(self._host, command, status, streams, started)

    def _streamed(
        self,
        process: subprocess.Popen[bytes],
        command: str,
        stdin: bytes,
        started: float,
        timeout: float,
        on_stdout: OutputSink,
    ) -> CommandResult:
        """stdout to `on_stdout` as it comes; stdin fed and stderr read beside it, each in
        its own thread (a command that ignores its stdin and fills stderr can't block).
        If `on_stdout` raises, the command's process group is ended and the error goes on."""
        deadline = started + timeout
        assert process.stdin and process.stdout and process.stderr
        err = BoundedOutput(self._max_output)
        process_stdin, process_stderr = process.stdin, process.stderr

        def feed() -> None:
            with contextlib.suppress(BrokenPipeError):
                process_stdin.write(stdin)
            with contextlib.suppress(BrokenPipeError):
                process_stdin.close()

        def collect() -> None:
            while chunk := os.read(process_stderr.fileno(), CHUNK_BYTES):
                err.add(chunk)

        helpers = [threading.Thread(target=work, daemon=True) for work in (feed, collect)]
        for helper in helpers:
            helper.start()
        status: int | None = None
        stdout = process.stdout.fileno()
        try:
            while True:
                wait = deadline - time.monotonic()
                if wait <= 0 or not select.select([stdout], [], [], wait)[0]:
                    _kill(process)
                    break
                chunk = os.read(stdout, CHUNK_BYTES)
                if not chunk:
                    try:
                        status = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
                    except subprocess.TimeoutExpired:  # output closed, the command runs on
                        _kill(process)
                    break
                on_stdout(chunk)
        except BaseException:
            _kill(process)
            raise
        finally:
            for helper in helpers:
                helper.join(timeout=5)
            process.stdout.close()
            if not helpers[1].is_alive():  # else its read would see a reused descriptor
                process_stderr.close()
        return command_result(self._host, command, status, (BoundedOutput(0), err), started)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """The command and everything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@dataclass(frozen=True, kw_only=True)
class LocalTransport:
    """Runs the same commands in a local shell: the rehearsal's simulated hosts."""

    max_output_bytes: int = 1_000_000

    @contextlib.contextmanager
    def connect(self, host: HostAddress) -> Iterator[RemoteSession]:
        yield _LocalSession(host, self.max_output_bytes)
