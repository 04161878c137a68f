"""The SSH executor against a real OpenSSH server on loopback."""

from __future__ import annotations

import shlex
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import AuthenticationFailed, HostKeyError, HostUnreachable
from bot.remote import HostAddress, LocalTransport, SshTransport
from tests.ssh_fixtures import SshdServer


def test_runs_a_command_and_delivers_stdin_byte_for_byte(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    payload = b"A=1\r\nQUOTE='x\"y'\n\xff\xfe\x00end"
    with ssh_transport.connect(sshd.host_address) as session:
        echoed = session.run("cat; echo oops >&2; exit 3", stdin=payload)
    assert (echoed.stdout, echoed.stderr, echoed.exit_status) == (payload, b"oops\n", 3)
    assert not echoed.ok and echoed.host == str(sshd.host_address)


def test_quoted_metacharacters_reach_the_host_literally(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    hostile = [f"$(touch {marker})", f"; touch {marker}", f"`touch {marker}`", "a\nb", "'\"\\"]
    with ssh_transport.connect(sshd.host_address) as session:
        result = session.run("printf '%s\\0' " + " ".join(shlex.quote(word) for word in hostile))
    assert result.stdout.split(b"\0")[:-1] == [word.encode() for word in hostile]
    assert not marker.exists()


def test_an_unknown_host_key_is_refused_with_its_fingerprint(
    sshd: SshdServer, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    transport = SshTransport(sshd.client_key, empty, connect_timeout=5)
    with pytest.raises(HostKeyError) as caught, transport.connect(sshd.host_address):
        pass
    expected = subprocess.run(
        ["ssh-keygen", "-lf", str(sshd.host_key) + ".pub"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    assert str(sshd.host_address) in str(caught.value)
    assert expected in str(caught.value) and "never adds host keys" in str(caught.value)
    assert empty.read_text() == ""


def test_a_changed_host_key_is_refused(sshd: SshdServer, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = tmp_path / "known_hosts"
    known.write_text(
        f"[127.0.0.1]:{sshd.port} {' '.join(Path(str(other) + '.pub').read_text().split()[:2])}\n"
    )
    transport = SshTransport(sshd.client_key, known, connect_timeout=5)
    with (
        pytest.raises(HostKeyError, match="host key changed"),
        transport.connect(sshd.host_address),
    ):
        pass


def test_a_closed_port_is_unreachable_and_named(sshd: SshdServer) -> None:
    transport = SshTransport(sshd.client_key, sshd.known_hosts, connect_timeout=5)
    closed = HostAddress("root", "127.0.0.1", 1)
    with (
        pytest.raises(HostUnreachable, match=r"root@127\.0\.0\.1:1: connection refused"),
        transport.connect(closed),
    ):
        pass


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """Accepts connections and never sends an SSH banner."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                accepted.append(connection)
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    server.close()
    for connection in accepted:
        connection.close()


def test_a_host_that_never_answers_times_out_as_unreachable(
    sshd: SshdServer, silent_listener: int
) -> None:
    transport = SshTransport(sshd.client_key, sshd.known_hosts, connect_timeout=1)
    with (
        pytest.raises(HostUnreachable),
        transport.connect(HostAddress("root", "127.0.0.1", silent_listener)),
    ):
        pass


def test_a_wrong_or_missing_key_is_an_authentication_failure(
    sshd: SshdServer, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    wrong_transport = SshTransport(wrong, sshd.known_hosts, connect_timeout=5)
    with (
        pytest.raises(AuthenticationFailed, match="was rejected"),
        wrong_transport.connect(sshd.host_address),
    ):
        pass
    missing = tmp_path / "no-such-key"
    missing_transport = SshTransport(missing, sshd.known_hosts)
    with (
        pytest.raises(AuthenticationFailed, match="no-such-key"),
        missing_transport.connect(sshd.host_address),
    ):
        pass


def test_a_command_that_outlives_its_timeout_is_reported_timed_out(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    with ssh_transport.connect(sshd.host_address) as session:
        slow = session.run("sleep 30", timeout=0.5)
        after = session.run("echo still-usable")
    assert slow.timed_out and slow.exit_status == -1 and not slow.ok
    assert after.stdout == b"still-usable\n"


def test_output_beyond_the_limit_is_truncated_and_flagged(sshd: SshdServer) -> None:
    transport = SshTransport(sshd.client_key, sshd.known_hosts, max_output_bytes=1000)
    with transport.connect(sshd.host_address) as session:
        result = session.run("head -c 100000 /dev/zero")
    assert len(result.stdout) == 1000 and result.truncated and result.ok


def test_local_transport_runs_the_same_commands() -> None:
    with LocalTransport().connect(HostAddress("sim", "staging-1")) as session:
        result = session.run("cat; exit 4", stdin=b"x'y")
        slow = session.run("sleep 30", timeout=0.3)
    assert (result.stdout, result.exit_status, result.host) == (b"x'y", 4, "sim@staging-1")
    assert slow.timed_out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("root@prod.example.com", HostAddress("root", "prod.example.com", 22)),
        ("deploy@10.0.0.5:2222", HostAddress("deploy", "10.0.0.5", 2222)),
        ("root@[::1]:2200", HostAddress("root", "::1", 2200)),
    ],
)
def test_host_addresses_parse(text: str, expected: HostAddress) -> None:
    assert HostAddress.parse(text) == expected
    assert str(HostAddress.parse(text)) == text


@pytest.mark.parametrize(
    "text", ["prod.example.com", "root@", "root@host:0", "root@host:99999", "ro ot@h"]
)
def test_bad_host_addresses_name_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=r"root|prod|ro ot"):
        HostAddress.parse(text)


def test_the_test_sshd_never_uses_the_machines_own_config(sshd: SshdServer) -> None:
    assert "/etc/ssh" not in sshd.config.read_text()
