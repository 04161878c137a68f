"""A real OpenSSH server for the tests: loopback port, its own config, host key and
client key in a temporary folder. The machine's own sshd, /etc/ssh and ~/.ssh are untouched.

`bind` starts sshd in a private mount namespace with a folder bound over the app
directory, so several sshd "hosts" on one machine each have their own app files.

Fixtures: `sshd` (one server for the session), `ssh_transport` (an SshTransport that
trusts it), `sshd_factory` (more servers on demand, stopped at teardown).
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

from bot.core.host_address import HostAddress
from bot.hosts.ssh import SshTransport

SSHD = "/usr/sbin/sshd"
READY_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keygen(path: Path) -> Path:
    """A new unencrypted ed25519 key pair at `path` and `path`.pub; returns `path`."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stagger-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _config(
    tmp: Path,
    port: int,
    host_key: Path,
    path_first: Path | None = None,
    listen: tuple[str, ...] = ("127.0.0.1",),
) -> str:
    path = f" PATH={path_first}:/usr/local/bin:/usr/bin:/bin" if path_first else ""
    return "\n".join(
        [
            f"Port {port}",
            *(f"ListenAddress {address}" for address in listen),
            f"HostKey {host_key}",
            f"PidFile {tmp / 'sshd.pid'}",
            f"AuthorizedKeysFile {tmp / 'authorized_keys'}",
            "AuthenticationMethods publickey",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            "PermitUserRC no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "LogLevel VERBOSE",
            "MaxStartups 100",
            "MaxSessions 50",
            # Sessions get a HOME of their own: the machine's dotfiles (root's .bashrc,
            # which bash reads for every command over SSH) neither run nor cost time.
            f"SetEnv HOME={tmp / 'home'}{path}",
            "",
        ]
    )


class SshdServer:
    """One OpenSSH server on 127.0.0.1 that trusts `client_key`, for user `getpass.getuser()`."""

    def __init__(
        self,
        tmp: Path,
        *,
        bind: tuple[Path, Path] | None = None,
        full_disk: bool = False,
        path_first: Path | None = None,
        listen: tuple[str, ...] = ("127.0.0.1",),
    ) -> None:
        """`bind=(source, target)`: this sshd (only) sees `source` at `target`. With
        `full_disk`, target is instead a tiny tmpfs holding a copy of source, filled up.
        `path_first`: a folder searched first for commands, to put a wrapper in the way.
        `listen`: the loopback addresses it answers on (127.0.0.2, ...: hosts of their own
        names, each with its own app dir under an `app_dir` holding `{host}`)."""
        self.tmp = tmp.absolute()  # sshd wants absolute paths
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(self.tmp / "ssh_host_ed25519_key")
        self.client_key = keygen(self.tmp / "client_key")
        self.host_key_pub = " ".join(
            Path(f"{self.host_key}.pub").read_text(encoding="utf-8").split()[:2]
        )
        (self.tmp / "authorized_keys").write_bytes(Path(f"{self.client_key}.pub").read_bytes())
        self.known_hosts = self.tmp / "known_hosts"
        self.config = self.tmp / "sshd_config"
        self.log = self.tmp / "sshd.log"
        self._bind = bind
        self._full_disk = full_disk
        self._path_first = path_first
        self._listen = listen
        self._process: subprocess.Popen[bytes] | None = None
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        for _attempt in range(3):  # another process may take the free port before sshd binds it
            self.port = free_port()
            if self._start():
                break
        else:
            raise RuntimeError(f"sshd could not bind a port: {self._log_text()}")
        self.known_hosts.write_text(
            "".join(f"[{address}]:{self.port} {self.host_key_pub}\n" for address in listen)
        )
        self.host_address = HostAddress(getpass.getuser(), "127.0.0.1", self.port)

    def _start(self) -> bool:
        """Starts sshd and waits for its banner; False if the port was taken meanwhile."""
        (self.tmp / "home").mkdir(exist_ok=True)
        self.config.write_text(
            _config(self.tmp, self.port, self.host_key, self._path_first, self._listen),
            encoding="utf-8",
        )
        command = [SSHD, "-D", "-e", "-f", str(self.config)]
        if self._bind is not None:
            source, target = (shlex.quote(str(path)) for path in self._bind)
            mount = (
                f"mount -t tmpfs -o size=256k tmpfs {target} && cp -a {source}/. {target}/ && "
                f"{{ dd if=/dev/zero of={target}/filler bs=4k 2>/dev/null; true; }}"
                if self._full_disk
                else f"mount --bind {source} {target}"
            )
            script = f"{mount} && exec " + shlex.join(command)
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                if "Address already in use" in self._log_text():
                    return False
                raise RuntimeError(
                    f"sshd exited with {self._process.returncode}: {self._log_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(64).startswith(b"SSH-2.0"):
                        return True
            except OSError:
                # Not listening yet: wait on the process itself, so its death ends the wait.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=0.05)
        self.stop()
        raise RuntimeError(f"sshd gave no banner within {READY_TIMEOUT_S}s: {self._log_text()}")

    def _log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stops this sshd (never any other). Safe to call twice."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    server = SshdServer(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def sshd_factory(tmp_path: Path) -> Iterator[Callable[..., SshdServer]]:
    """`sshd_factory(name, bind=None, full_disk=False, path_first=None)` starts another
    sshd; all are stopped at teardown."""
    servers: list[SshdServer] = []

    def make(
        name: str | None = None,
        bind: tuple[Path, Path] | None = None,
        full_disk: bool = False,
        path_first: Path | None = None,
        listen: tuple[str, ...] = ("127.0.0.1",),
    ) -> SshdServer:
        server = SshdServer(
            tmp_path / f"sshd-{name or len(servers)}",
            bind=bind,
            full_disk=full_disk,
            path_first=path_first,
            listen=listen,
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def ssh_transport(sshd: SshdServer) -> SshTransport:
    return SshTransport(sshd.client_key, sshd.known_hosts, connect_timeout=5)
