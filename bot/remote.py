"""The remote executor: commands on the env's hosts over SSH, or locally for rehearsals.

`Transport.connect(host)` opens one connection used for several `run` calls. Host keys
are checked against the spec's known_hosts file only and are never added. The caller
shell-quotes every argument; this module never logs stdin or output (they may hold the
env file's secrets).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import paramiko

from bot.errors import AuthenticationFailed, HostKeyError, HostUnreachable

logger = logging.getLogger(__name__)

_HOST_ADDRESS = re.compile(
    r"^(?P<user>[A-Za-z0-9._-]+)@(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]+))(?::(?P<port>\d{1,5}))?$"
)


@dataclass(frozen=True)
class HostAddress:
    user: str
    host: str
    port: int = 22

    @classmethod
    def parse(cls, text: str) -> HostAddress:
        match = _HOST_ADDRESS.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a host like user@host or user@host:port")
        port = int(match["port"] or 22)
        if not 1 <= port <= 65535:
            raise ValueError(f"{text!r} has port {port}; ports run from 1 to 65535")
        return cls(match["user"], match["v6"] or match["host"], port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}" if self.port == 22 else f"{self.user}@{host}:{self.port}"


@dataclass(frozen=True)
class CommandResult:
    host: str
    command: str
    exit_status: int
    stdout: bytes
    stderr: bytes
    duration_s: float
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out


class RemoteSession(Protocol):
    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float = 30.0
    ) -> CommandResult: ...


class Transport(Protocol):
    def connect(self, host: HostAddress) -> contextlib.AbstractContextManager[RemoteSession]: ...


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _RefuseUnknownHosts(paramiko.MissingHostKeyPolicy):
    def __init__(self, host: HostAddress) -> None:
        self._host = host

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise HostKeyError(
            str(self._host),
            f"host key not in known_hosts: {key.get_name()} {fingerprint(key)} "
            "(check it out of band and add it; stagger-bot never adds host keys)",
        )


class _Bounded:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        self.parts.append(data)
        self.size += len(data)

    def value(self) -> bytes:
        return b"".join(self.parts)


class _SshSession:
    def __init__(self, client: paramiko.SSHClient, host: HostAddress, max_output: int) -> None:
        self._client = client
        self._host = host
        self._max_output = max_output

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float = 30.0
    ) -> CommandResult:
        started = time.monotonic()
        deadline = started + timeout
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise HostUnreachable(str(self._host), "the connection was lost")
        try:
            channel = transport.open_session(timeout=timeout)
            channel.settimeout(0.2)
            channel.exec_command(command)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            out, err = _Bounded(self._max_output), _Bounded(self._max_output)
            timed_out = False
            while True:
                progressed = False
                if channel.recv_ready():
                    out.add(channel.recv(65536))
                    progressed = True
                if channel.recv_stderr_ready():
                    err.add(channel.recv_stderr(65536))
                    progressed = True
                if progressed:
                    continue
                # Paramiko buffers output before the exit status, so nothing is left unread.
                if channel.exit_status_ready():
                    break
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
                select.select([channel], [], [], 0.05)
            exit_status = -1 if timed_out else channel.recv_exit_status()
            channel.close()
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise HostUnreachable(str(self._host), f"the connection failed: {error}") from None
        result = CommandResult(
            str(self._host),
            command,
            exit_status,
            out.value(),
            err.value(),
            time.monotonic() - started,
            timed_out,
            out.truncated or err.truncated,
        )
        logger.debug(
            "%s: exit %s in %.2fs: %s", self._host, exit_status, result.duration_s, command[:200]
        )
        return result


class SshTransport:
    def __init__(
        self,
        key_file: Path,
        known_hosts: Path,
        *,
        connect_timeout: float = 10.0,
        max_output_bytes: int = 1_000_000,
    ) -> None:
        self.key_file = key_file
        self.known_hosts = known_hosts
        self.connect_timeout = connect_timeout
        self.max_output_bytes = max_output_bytes

    @contextlib.contextmanager
    def connect(self, host: HostAddress) -> Iterator[RemoteSession]:
        name = str(host)
        if not os.access(self.key_file, os.R_OK):
            raise AuthenticationFailed(name, f"cannot read the SSH key file {self.key_file}")
        client = paramiko.SSHClient()
        try:
            if self.known_hosts.exists():
                client.load_host_keys(str(self.known_hosts))
            client.set_missing_host_key_policy(_RefuseUnknownHosts(host))
            try:
                client.connect(
                    host.host,
                    port=host.port,
                    username=host.user,
                    key_filename=str(self.key_file),
                    look_for_keys=False,
                    allow_agent=False,
                    timeout=self.connect_timeout,
                    banner_timeout=self.connect_timeout,
                    auth_timeout=self.connect_timeout,
                    channel_timeout=self.connect_timeout,
                )
            except paramiko.BadHostKeyException as error:
                raise HostKeyError(
                    name,
                    f"host key changed: expected {fingerprint(error.expected_key)}, "
                    f"got {error.key.get_name()} {fingerprint(error.key)} — refusing to connect",
                ) from None
            except paramiko.AuthenticationException:
                raise AuthenticationFailed(name, f"the key {self.key_file} was rejected") from None
            except TimeoutError:
                raise HostUnreachable(name, f"no answer within {self.connect_timeout:g}s") from None
            except (paramiko.SSHException, EOFError) as error:
                raise HostUnreachable(name, f"SSH handshake failed: {error}") from None
            except paramiko.ssh_exception.NoValidConnectionsError as error:
                raise HostUnreachable(name, f"connection refused on port {host.port}") from error
            except OSError as error:
                raise HostUnreachable(name, error.strerror or str(error)) from None
            yield _SshSession(client, host, self.max_output_bytes)
        finally:
            client.close()


class _LocalSession:
    def __init__(self, host: HostAddress, max_output: int) -> None:
        self._host = host
        self._max_output = max_output

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float = 30.0
    ) -> CommandResult:
        started = time.monotonic()
        process = subprocess.Popen(
            ["bash", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(stdin or b"", timeout=timeout)
            timed_out, status = False, process.returncode
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            timed_out, status = True, -1
        limit = self._max_output
        return CommandResult(
            str(self._host),
            command,
            status,
            out[:limit],
            err[:limit],
            time.monotonic() - started,
            timed_out,
            len(out) > limit or len(err) > limit,
        )


class LocalTransport:
    """Runs the same commands in a local shell: the rehearsal's simulated hosts."""

    def __init__(self, *, max_output_bytes: int = 1_000_000) -> None:
        self.max_output_bytes = max_output_bytes

    @contextlib.contextmanager
    def connect(self, host: HostAddress) -> Iterator[RemoteSession]:
        yield _LocalSession(host, self.max_output_bytes)
