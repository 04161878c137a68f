"""The remote executor: commands on the env's hosts over SSH (`bot.hosts.local_transport` runs
the same commands in a local shell, for the rehearsal).

One connection per `Transport.connect(host)`, used for several `run` calls. Host keys are checked
against the given known_hosts file only, never added. Callers shell-quote; stdin and output are
never logged (they may hold the env file's secrets). On timeout the channel is closed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from paramiko.hostkeys import InvalidHostKey
from paramiko.pkey import UnknownKeyType
from paramiko.ssh_exception import NoValidConnectionsError

from bot.core.errors import AuthenticationFailed, HostKeyError, HostUnreachable, RemoteError
from bot.core.host_address import HostAddress
from bot.core.ports import CommandResult, OutputSink, RemoteSession

logger = logging.getLogger(__name__)

CHUNK_BYTES = 65536
_POLL_S = 0.01  # select() wakes on output, not on the exit status: keep this short
_DRAIN_GRACE_S = 2.0  # after the exit status, for output held open by a background child


def fingerprint(key: paramiko.PKey) -> str:
    """The key's fingerprint as `ssh-keygen -lf` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class BoundedOutput:
    """Keeps the first `limit` bytes of a stream and notes whether any were dropped."""

    def __init__(self, limit: int, data: bytes = b"") -> None:
        self.limit, self.data, self.truncated = limit, bytearray(), False
        self.add(data)

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        self.truncated = self.truncated or len(chunk) > room
        self.data += chunk[: max(room, 0)]


def command_result(
    host: HostAddress,
    command: str,
    status: int | None,
    streams: tuple[BoundedOutput, BoundedOutput],
    started: float,
) -> CommandResult:
    """The result of `command`; status None means it timed out. Never logs the output."""
    out, err = streams
    duration = time.monotonic() - started
    logger.debug("%s: %r exited %s in %.2fs", host, command[:200], status, duration)
    return CommandResult(
        str(host), command, -1 if status is None else status, bytes(out.data), bytes(err.data),
        duration, timed_out=status is None, truncated=out.truncated or err.truncated,
    )  # fmt: skip


class _RefuseUnknownHosts(paramiko.MissingHostKeyPolicy):
    def __init__(self, host: HostAddress, known_hosts: Path) -> None:
        self._host, self._known_hosts = host, known_hosts

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise HostKeyError(
            str(self._host),
            f"host key not in known_hosts: {key.get_name()} {fingerprint(key)} (check it out "
            f"of band and add it to {self._known_hosts}; stagger-bot never adds host keys)",
        )


def _connect_failure(error: Exception, host: HostAddress, timeout: float, key: str) -> RemoteError:
    name, text, limit = str(host), str(error) or type(error).__name__, f"{timeout:g}s"
    if isinstance(error, paramiko.BadHostKeyException):
        expected, got = fingerprint(error.expected_key), fingerprint(error.key)
        reason = f"host key changed: expected {expected}, got {error.key.get_name()} {got}"
        return HostKeyError(name, reason + "; refusing to connect")
    if isinstance(error, paramiko.AuthenticationException) and "timeout" not in text.lower():
        return AuthenticationFailed(name, f"the key {key} was rejected for user {host.user}")
    if isinstance(error, NoValidConnectionsError):
        causes = {str(getattr(e, "strerror", None) or e) for e in error.errors.values()}
        return HostUnreachable(name, f"port {host.port}: {', '.join(sorted(causes)).lower()}")
    if isinstance(error, socket.gaierror):
        return HostUnreachable(name, f"cannot resolve {host.host}: {error.strerror}")
    if "banner" in text.lower() and isinstance(error.__context__, EOFError):
        return HostUnreachable(name, "the server closed the connection before its SSH banner")
    if "banner" in text.lower() or "no existing session" in text.lower():
        # paramiko gives up the handshake at `timeout` and then reports "No existing session".
        return HostUnreachable(name, f"no SSH banner or handshake on port {host.port} in {limit}")
    if isinstance(error, TimeoutError) or "timeout" in text.lower():
        return HostUnreachable(name, f"no answer within {limit}")
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror.lower()
    return HostUnreachable(name, f"the SSH connection failed: {text}")


class _SshSession:
    def __init__(self, client: paramiko.SSHClient, host: HostAddress, max_output: int) -> None:
        self._client, self._host, self._max_output = client, host, max_output

    def run(
        self,
        command: str,
        *,
        stdin: bytes | None = None,
        timeout: float = 30.0,
        on_stdout: OutputSink | None = None,
    ) -> CommandResult:
        started = time.monotonic()
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise HostUnreachable(str(self._host), "the connection was lost")
        try:
            channel = transport.open_session(timeout=max(timeout, 0.1))
            try:
                channel.exec_command(command)
                status, streams = self._exchange(
                    channel, stdin or b"", started + timeout, on_stdout
                )
            finally:
                channel.close()
        except (paramiko.SSHException, OSError, EOFError) as error:
            reason = f"the connection failed: {error or type(error).__name__}"
            raise HostUnreachable(str(self._host), reason) from None
        if status == -1 and not transport.is_active():
            reason = "the connection was lost while the command ran"
            raise HostUnreachable(str(self._host), reason)
        return command_result(self._host, command, status, streams, started)

    def _exchange(
        self,
        channel: paramiko.Channel,
        stdin: bytes,
        deadline: float,
        on_stdout: OutputSink | None,
    ) -> tuple[int | None, tuple[BoundedOutput, BoundedOutput]]:
        """Feeds stdin and reads both outputs at once until EOF, exit status and deadline."""
        out, err = BoundedOutput(self._max_output), BoundedOutput(self._max_output)
        to_stdout = on_stdout or out.add
        pending, exited_at = memoryview(stdin), None
        last_output = time.monotonic()
        while True:
            if channel.recv_ready():
                to_stdout(channel.recv(CHUNK_BYTES))  # may block: a slow consumer
                last_output = time.monotonic()
            if channel.recv_stderr_ready():
                err.add(channel.recv_stderr(CHUNK_BYTES))
                last_output = time.monotonic()
            if pending and channel.send_ready():
                try:
                    pending = pending[channel.send(bytes(pending[:CHUNK_BYTES])) :]
                except OSError:  # the command is gone: the rest of stdin has no reader
                    if not channel.closed:
                        raise
                    pending = memoryview(b"")
            if not pending and not channel.eof_sent and not channel.closed:
                channel.shutdown_write()
            # OpenSSH may send the exit status before the last output, so read to EOF too.
            unread = channel.recv_ready() or channel.recv_stderr_ready()
            drained = (channel.eof_received or channel.closed) and not unread
            if channel.exit_status_ready():
                exited_at = exited_at or time.monotonic()
                # Output still arriving is read, however slowly its consumer takes it; the
                # grace is for an EOF that never comes (a background child holding the
                # channel), counted from the exit or the last output, whichever is later.
                quiet_for = time.monotonic() - max(exited_at, last_output)
                if drained or (not unread and quiet_for > _DRAIN_GRACE_S):
                    return channel.recv_exit_status(), (out, err)
            wait = min(_POLL_S, deadline - time.monotonic())
            if wait <= 0:
                return None, (out, err)
            if drained:
                channel.status_event.wait(wait)
            elif not unread and not (pending and channel.send_ready()):
                select.select([channel], [], [], wait)


@dataclass(frozen=True)
class SshTransport:
    key_file: Path
    known_hosts: Path
    _: KW_ONLY
    connect_timeout: float = 10.0
    max_output_bytes: int = 1_000_000

    @contextlib.contextmanager
    def connect(self, host: HostAddress) -> Iterator[RemoteSession]:
        key = self._load_key(str(host))
        key_name = f"{self.key_file} ({fingerprint(key)})"
        client = paramiko.SSHClient()  # no system or ~/.ssh known_hosts: only ours
        try:
            self._load_known_hosts(client, str(host))
            client.set_missing_host_key_policy(_RefuseUnknownHosts(host, self.known_hosts))
            try:
                client.connect(
                    host.host,
                    port=host.port,
                    username=host.user,
                    pkey=key,
                    look_for_keys=False,
                    allow_agent=False,
                    timeout=self.connect_timeout,
                    banner_timeout=self.connect_timeout,
                    auth_timeout=self.connect_timeout,
                    channel_timeout=self.connect_timeout,
                )
            except (paramiko.SSHException, OSError, EOFError) as error:
                raise _connect_failure(error, host, self.connect_timeout, key_name) from None
            yield _SshSession(client, host, self.max_output_bytes)
        finally:
            client.close()

    def _load_key(self, name: str) -> paramiko.PKey:
        path = self.key_file
        try:
            return paramiko.PKey.from_path(path)
        except OSError as error:
            reason = f"cannot read the SSH key file {path}: {error.strerror or error}"
        except (TypeError, paramiko.PasswordRequiredException):
            reason = f"the SSH key file {path} needs a passphrase; use a key without one"
        except (ValueError, paramiko.SSHException, UnknownKeyType, UnsupportedAlgorithm):
            # Never the error's text: it may quote the file.
            reason = f"the SSH key file {path} is not a private key stagger-bot can use"
        raise AuthenticationFailed(name, reason)

    def _load_known_hosts(self, client: paramiko.SSHClient, name: str) -> None:
        path = self.known_hosts
        try:
            if path.exists():  # missing: every host is unknown, and the error names the file
                client.load_host_keys(str(path))
        except (OSError, ValueError, InvalidHostKey) as error:
            raise HostKeyError(name, f"cannot read known_hosts file {path}: {error}") from None
