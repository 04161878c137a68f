"""The remote executor against a real OpenSSH server on loopback (no mocks)."""

from __future__ import annotations

import base64
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from bot.core.errors import AuthenticationFailed, HostKeyError, HostUnreachable
from bot.core.host_address import HostAddress
from bot.hosts.local_transport import LocalTransport
from bot.hosts.ssh import SshTransport, fingerprint
from tests.support.ssh_fixtures import SshdServer, keygen

STDIN = b"A=1\r\nQUOTE='x\"y' $HOME `id`\n\xff\xfe\x00caf\xc3\xa9\nno newline at end"
COMMAND = "printf 'out\\n'; printf 'err\\n' >&2; exit 3"


def ssh_keygen_fingerprint(pub: Path) -> str:
    listed = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True)
    return listed.stdout.split()[1]


def exits_within(pid: int, seconds: float) -> bool:
    """Waits for the process to end (a pidfd turns readable); kills it if it does not."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if select.select([pidfd], [], [], seconds)[0]:
            return True
        os.kill(pid, signal.SIGKILL)
        return False
    finally:
        os.close(pidfd)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the probe is


# --- running commands ------------------------------------------------------------------


def test_a_command_returns_its_stdout_stderr_and_exit_status(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    with ssh_transport.connect(sshd.host_address) as session:
        result = session.run(COMMAND)
    assert (result.stdout, result.stderr, result.exit_status) == (b"out\n", b"err\n", 3)
    assert not result.ok and not result.timed_out and not result.truncated
    assert result.host == str(sshd.host_address) and result.command == COMMAND


def test_stdin_reaches_the_command_byte_for_byte(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    with ssh_transport.connect(sshd.host_address) as session:
        echoed = session.run("cat", stdin=STDIN)
        no_stdin = session.run("cat; echo end")
    assert echoed.stdout == STDIN and echoed.ok
    assert no_stdin.stdout == b"end\n"  # stdin is closed, not left open


def test_megabytes_of_stdin_and_output_flow_together(sshd: SshdServer) -> None:
    transport = SshTransport(sshd.client_key, sshd.known_hosts, max_output_bytes=10_000_000)
    payload = bytes(range(256)) * 20_000  # 5 MB: more than the SSH windows in both directions
    with transport.connect(sshd.host_address) as session:
        result = session.run("cat", stdin=payload, timeout=20)
    assert not result.timed_out and result.ok
    assert result.stdout == payload


def test_all_output_arrives_even_when_the_command_exits_at_once(sshd: SshdServer) -> None:
    # OpenSSH can send the exit status before the last of the output (about one run in
    # seven here loses its tail if the reader stops at the exit status).
    transport = SshTransport(sshd.client_key, sshd.known_hosts, max_output_bytes=10_000_000)
    with transport.connect(sshd.host_address) as session:
        results = [session.run("head -c 3000000 /dev/zero") for _ in range(20)]
    assert [len(result.stdout) for result in results] == [3_000_000] * 20
    assert all(result.ok and not result.truncated for result in results)


def test_a_session_runs_several_commands_on_one_connection(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    with ssh_transport.connect(sshd.host_address) as session:
        # Each command's parent is the sshd process serving the connection.
        first = session.run("echo $PPID")
        second = session.run("echo $PPID")
    assert first.ok and second.ok and first.stdout.strip().isdigit()
    assert first.stdout == second.stdout
    with pytest.raises(HostUnreachable, match="connection was lost"):
        session.run("true")  # the connection closed with the `with`


def test_quoted_metacharacters_reach_the_host_literally(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    marker, victim = tmp_path / "pwned", tmp_path / "victim"
    victim.write_text("still here")
    hostile = [
        f"$(touch {marker})",
        f"; touch {marker}",
        f"; rm -f {victim}",
        f"`touch {marker}`",
        f"a\ntouch {marker}",
        "'\"\\ $HOME *",
    ]
    with ssh_transport.connect(sshd.host_address) as session:
        result = session.run("printf '%s\\0' " + " ".join(shlex.quote(word) for word in hostile))
    assert result.ok
    assert result.stdout.split(b"\0")[:-1] == [word.encode() for word in hostile]
    assert not marker.exists() and victim.read_text() == "still here"


def test_a_command_that_outlives_its_timeout_is_reported_timed_out(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    with ssh_transport.connect(sshd.host_address) as session:
        # Ticks on stderr until the closed channel breaks its pipe: nothing is left running.
        slow = session.run("echo before; while printf . >&2; do sleep 0.1; done", timeout=1.5)
        after = session.run("echo still-usable")
    assert (slow.timed_out, slow.exit_status, slow.ok) == (True, -1, False)
    assert slow.stdout == b"before\n"  # what arrived before the deadline is kept
    assert slow.stderr.startswith(b".")
    assert slow.duration_s < 10
    assert after.stdout == b"still-usable\n" and after.ok


def test_a_background_child_holding_the_output_does_not_hang_the_command(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    with ssh_transport.connect(sshd.host_address) as session:
        result = session.run("sleep 60 & echo $!; exit 0", timeout=20)
        session.run(f"kill {int(result.stdout)}")
    assert result.ok and not result.timed_out
    assert result.duration_s < 15


def test_output_beyond_the_limit_is_truncated_and_flagged(sshd: SshdServer) -> None:
    transport = SshTransport(sshd.client_key, sshd.known_hosts, max_output_bytes=1000)
    with transport.connect(sshd.host_address) as session:
        big = session.run("head -c 100000 /dev/zero; head -c 5000 /dev/zero >&2")
        exact = session.run("head -c 1000 /dev/zero")
    assert (len(big.stdout), len(big.stderr), big.truncated, big.ok) == (1000, 1000, True, True)
    assert (len(exact.stdout), exact.truncated) == (1000, False)


def test_a_connection_that_dies_mid_command_is_unreachable(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    with ssh_transport.connect(sshd.host_address) as session:
        # The command's parent is the sshd process serving this connection.
        with pytest.raises(HostUnreachable, match=r"127\.0\.0\.1.*connection"):
            session.run("kill -KILL $PPID; sleep 2", timeout=8)
        with pytest.raises(HostUnreachable):
            session.run("true")


# --- host keys -------------------------------------------------------------------------


@pytest.mark.parametrize("known_hosts", ["empty", "missing"])
def test_an_unknown_host_key_is_refused_with_its_fingerprint(
    sshd: SshdServer, tmp_path: Path, known_hosts: str
) -> None:
    known = tmp_path / "known_hosts"
    if known_hosts == "empty":
        known.write_text("")
    marker = tmp_path / "executed"
    transport = SshTransport(sshd.client_key, known, connect_timeout=5)
    with pytest.raises(HostKeyError) as caught, transport.connect(sshd.host_address) as session:
        session.run(f"touch {marker}")
    message = str(caught.value)
    assert caught.value.host == str(sshd.host_address) and message.startswith(caught.value.host)
    expected = ssh_keygen_fingerprint(Path(f"{sshd.host_key}.pub"))
    assert f"not in known_hosts: ssh-ed25519 {expected}" in message
    assert str(known) in message  # where to add it, once checked out of band
    assert not marker.exists()
    assert known.read_text() == "" if known_hosts == "empty" else not known.exists()


def test_a_changed_host_key_is_refused_naming_both_fingerprints(
    sshd: SshdServer, tmp_path: Path
) -> None:
    other = keygen(tmp_path / "other_key")
    other_pub = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {other_pub}\n")
    marker = tmp_path / "executed"
    transport = SshTransport(sshd.client_key, known, connect_timeout=5)
    with pytest.raises(HostKeyError) as caught, transport.connect(sshd.host_address) as session:
        session.run(f"touch {marker}")
    expected = ssh_keygen_fingerprint(Path(f"{other}.pub"))
    got = ssh_keygen_fingerprint(Path(f"{sshd.host_key}.pub"))
    assert str(sshd.host_address) in str(caught.value)
    assert f"host key changed: expected {expected}, got ssh-ed25519 {got}" in str(caught.value)
    assert not marker.exists()


def test_a_hashed_known_hosts_entry_is_trusted(sshd: SshdServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    shutil.copy(sshd.known_hosts, known)
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "127.0.0.1" not in known.read_text()
    with SshTransport(sshd.client_key, known).connect(sshd.host_address) as session:
        assert session.run("echo hi").stdout == b"hi\n"


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa"])
def test_fingerprints_match_ssh_keygen(tmp_path: Path, key_type: str) -> None:
    path = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-f", str(path)], check=True)
    kind, blob = Path(f"{path}.pub").read_text().split()[:2]
    key = paramiko.PKey.from_type_string(kind, base64.b64decode(blob))
    assert fingerprint(key) == ssh_keygen_fingerprint(Path(f"{path}.pub"))
    assert fingerprint(paramiko.PKey.from_path(path)) == fingerprint(key)


# --- unreachable hosts -----------------------------------------------------------------


def test_a_closed_port_is_unreachable_and_names_the_host(sshd: SshdServer) -> None:
    transport = SshTransport(sshd.client_key, sshd.known_hosts, connect_timeout=5)
    closed = HostAddress("root", "127.0.0.1", closed_port())
    with pytest.raises(HostUnreachable) as caught, transport.connect(closed):
        pass
    assert str(caught.value).startswith(f"{closed}: ") and "connection refused" in str(caught.value)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port whose connections are accepted (by the kernel's backlog) and never answered."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


def test_a_host_that_never_sends_a_banner_is_unreachable(
    sshd: SshdServer, silent_listener: int
) -> None:
    transport = SshTransport(sshd.client_key, sshd.known_hosts, connect_timeout=1)
    host = HostAddress("root", "127.0.0.1", silent_listener)
    started = time.monotonic()
    with (
        pytest.raises(HostUnreachable, match="no SSH banner or handshake") as caught,
        transport.connect(host),
    ):
        pass
    assert str(host) in str(caught.value)
    # Not forever: each stage of the connection (TCP, banner, handshake) waits
    # connect_timeout at most; 5 s more for a busy machine.
    assert time.monotonic() - started < 3 * transport.connect_timeout + 5


# --- client keys -----------------------------------------------------------------------


def test_a_key_the_host_does_not_know_is_an_authentication_failure(
    sshd: SshdServer, tmp_path: Path
) -> None:
    wrong = keygen(tmp_path / "wrong")
    transport = SshTransport(wrong, sshd.known_hosts, connect_timeout=5)
    with pytest.raises(AuthenticationFailed) as caught, transport.connect(sshd.host_address):
        pass
    assert str(wrong) in str(caught.value) and "rejected" in str(caught.value)
    assert str(caught.value).startswith(str(sshd.host_address))


def test_a_missing_key_file_is_an_authentication_failure_naming_it(
    sshd: SshdServer, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-key"
    transport = SshTransport(missing, sshd.known_hosts)
    with (
        pytest.raises(AuthenticationFailed, match=str(missing)),
        transport.connect(sshd.host_address),
    ):
        pass


def test_a_key_file_that_is_not_a_usable_key_is_named_but_never_quoted(
    sshd: SshdServer, tmp_path: Path
) -> None:
    junk = tmp_path / "junk_key"
    junk.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETMATERIAL\n")
    locked = tmp_path / "locked_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pw", "-f", str(locked)], check=True)
    for path, reason in [(junk, "not a private key"), (locked, "passphrase")]:
        transport = SshTransport(path, sshd.known_hosts)
        with pytest.raises(AuthenticationFailed) as caught, transport.connect(sshd.host_address):
            pass
        assert str(path) in str(caught.value) and reason in str(caught.value)
        assert "SECRETMATERIAL" not in str(caught.value)


# --- the local transport ---------------------------------------------------------------


def test_the_local_transport_returns_what_ssh_returns(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    with ssh_transport.connect(sshd.host_address) as session:
        remote = [session.run(COMMAND), session.run("cat", stdin=STDIN)]
    with LocalTransport().connect(HostAddress("sim", "staging-1")) as session:
        local = [session.run(COMMAND), session.run("cat", stdin=STDIN)]
    for ssh_result, local_result in zip(remote, local, strict=True):
        assert local_result.host == "sim@staging-1"
        assert (local_result.stdout, local_result.stderr, local_result.exit_status) == (
            ssh_result.stdout,
            ssh_result.stderr,
            ssh_result.exit_status,
        )


def test_the_local_transport_kills_a_timed_out_command_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    transport = LocalTransport(max_output_bytes=10)
    command = f"sleep 60 >/dev/null 2>&1 & echo $! > {pid_file}; echo 0123456789ABC; wait"
    with transport.connect(HostAddress("sim", "staging-1")) as session:
        slow = session.run(command, timeout=1)
    child = int(pid_file.read_text())
    assert exits_within(child, 5), "the background child survived the timeout"
    assert (slow.timed_out, slow.exit_status, slow.ok) == (True, -1, False)
    assert (slow.stdout, slow.truncated) == (b"0123456789", True)


# --- host addresses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("root@prod.example.com", HostAddress("root", "prod.example.com", 22)),
        ("deploy@10.0.0.5:2222", HostAddress("deploy", "10.0.0.5", 2222)),
        ("root@[::1]:2200", HostAddress("root", "::1", 2200)),
        ("root@[fe80::1]", HostAddress("root", "fe80::1", 22)),
    ],
)
def test_host_addresses_parse_and_print_back(text: str, expected: HostAddress) -> None:
    assert HostAddress.parse(text) == expected
    assert str(HostAddress.parse(text)) == text


def test_port_22_is_left_out_when_printed() -> None:
    assert str(HostAddress.parse("root@web-1:22")) == "root@web-1"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("prod.example.com", "the user is missing"),
        ("@prod.example.com", "the user is missing"),
        ("root@", "the host is empty"),
        ("root@host:0", "port '0'"),
        ("root@host:99999", "port '99999'"),
        ("root@host:ssh", "port 'ssh'"),
        ("ro ot@host", "whitespace"),
        ("root@host ", "whitespace"),
        ("", "empty"),
        ("root@::1", "needs brackets"),
        ("root@[not-v6]:22", "not an IPv6 address"),
    ],
)
def test_bad_host_addresses_are_refused_naming_the_text(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        HostAddress.parse(text)
    assert repr(text) in str(caught.value) and problem in str(caught.value)


# --- the test server itself ------------------------------------------------------------


def test_the_test_sshd_never_uses_the_machines_own_ssh_files(sshd: SshdServer) -> None:
    config = sshd.config.read_text()
    assert "/etc/ssh" not in config and "~" not in config
    for line in config.splitlines():
        if line.split(" ")[0] in {"HostKey", "AuthorizedKeysFile", "PidFile"}:
            assert line.split(" ", 1)[1].startswith(str(sshd.tmp))
    assert sshd.known_hosts.read_text() == f"[127.0.0.1]:{sshd.port} {sshd.host_key_pub}\n"


def test_commands_over_the_test_sshd_run_with_a_home_of_their_own(
    ssh_transport: SshTransport, sshd: SshdServer
) -> None:
    with ssh_transport.connect(sshd.host_address) as session:
        result = session.run('printf %s "$HOME"')
    assert result.stdout.decode() == str(sshd.tmp / "home")
