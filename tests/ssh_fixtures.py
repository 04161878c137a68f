"""A real OpenSSH server for the tests: loopback port, its own config, host key and
client key in a temporary folder. The machine's own sshd and root's keys are untouched.

`bind` starts sshd in a private mount namespace with a folder bound over the app
directory, so several sshd "hosts" on one machine each have their own app files.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.remote import HostAddress, SshTransport

SSHD = "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


class SshdServer:
    def __init__(self, tmp: Path, *, bind: tuple[Path, Path] | None = None) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.host_key = tmp / "ssh_host_ed25519_key"
        self.client_key = tmp / "client_key"
        _keygen(self.host_key)
        _keygen(self.client_key)
        self.host_key_pub = (tmp / "ssh_host_ed25519_key.pub").read_text().split(" ")[:2]
        (tmp / "authorized_keys").write_text((tmp / "client_key.pub").read_text())
        self.known_hosts = tmp / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(self.host_key_pub)}\n")
        self.config = tmp / "sshd_config"
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {tmp / 'sshd.pid'}",
                    f"AuthorizedKeysFile {tmp / 'authorized_keys'}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",
                    "PrintMotd no",
                    "LogLevel VERBOSE",
                    "MaxStartups 100",
                    "MaxSessions 50",
                    "",
                ]
            )
        )
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        command = [SSHD, "-D", "-e", "-f", str(self.config)]
        if bind is not None:
            source, target = bind
            script = (
                f"mount --bind {shlex.quote(str(source))} {shlex.quote(str(target))} && exec "
                + shlex.join(command)
            )
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        self.log = tmp / "sshd.log"
        self._log_handle = self.log.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log_handle, stderr=subprocess.STDOUT)
        self._wait_ready()
        self.host_address = HostAddress(getpass.getuser(), "127.0.0.1", self.port)

    def _wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(64).startswith(b"SSH-2.0"):
                        return
            except OSError:
                # Not listening yet: wait for the process, not a fixed sleep.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=0.05)
        raise RuntimeError(f"sshd did not start: {self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_handle.close()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    server = SshdServer(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def sshd_factory(tmp_path: Path) -> Iterator[Callable[..., SshdServer]]:
    servers: list[SshdServer] = []

    def make(name: str, bind: tuple[Path, Path] | None = None) -> SshdServer:
        server = SshdServer(tmp_path / f"sshd-{name}", bind=bind)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def ssh_transport(sshd: SshdServer) -> SshTransport:
    return SshTransport(sshd.client_key, sshd.known_hosts, connect_timeout=5)
