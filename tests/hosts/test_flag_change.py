"""The flag change on several hosts: each a real sshd with its own app directory."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from bot.core.changes import FlagChange, Timeouts
from bot.core.ports import CommandResult
from bot.core.spec_fleet import EnvironmentSpec
from bot.hosts.flag_change import apply_everywhere
from bot.hosts.ssh import SshTransport
from tests.support.spec_data import ENV_FILE, make_app_dir
from tests.support.ssh_fixtures import SshdServer

ROLLBACK = FlagChange("JOB_STAGGER_ENABLED", "false", "Job stagger disabled")


def two_hosts(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer], second_reload: str | None = None
) -> tuple[EnvironmentSpec, SshTransport, list[Path]]:
    """Two sshd 'hosts', each seeing its own folder at the same app_dir path."""
    app_dir = tmp_path / "var-www-goalgpt"
    app_dir.mkdir()
    roots = [make_app_dir(tmp_path / "host-a"), make_app_dir(tmp_path / "host-b")]
    if second_reload is not None:
        (roots[1] / "reload.sh").write_text(second_reload)
    first = sshd_factory("a", bind=(roots[0], app_dir))
    second = sshd_factory("b", bind=(roots[1], app_dir))
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(first.known_hosts.read_text() + second.known_hosts.read_text())
    second.client_key.write_bytes(first.client_key.read_bytes())
    (second.tmp / "authorized_keys").write_text((first.tmp / "authorized_keys").read_text())
    environment = EnvironmentSpec.model_validate(
        {
            "hosts": [str(first.host_address), str(second.host_address)],
            "app_dir": str(app_dir),
            "reload_command": "sh reload.sh",
            "approvals": {"approvers": ["U0LEAD1"], "required": 1},
        }
    )
    return environment, SshTransport(first.client_key, known_hosts, connect_timeout=5), roots


def test_every_host_is_changed_and_verified_in_its_own_files(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer]
) -> None:
    environment, transport, roots = two_hosts(tmp_path, sshd_factory)
    commands: list[CommandResult] = []
    outcome = apply_everywhere(
        environment,
        ROLLBACK,
        transport,
        timeouts=Timeouts(10, 5),
        stamp="T1",
        observe=commands.append,
    )
    assert outcome.verified and len(outcome.hosts) == 2
    for root in roots:
        assert (root / ".env").read_bytes() == ENV_FILE.replace(b"ENABLED=true", b"ENABLED=false")
        assert (root / ".env.stagger-backup-T1").read_bytes() == ENV_FILE
        assert "Job stagger disabled" in (root / "logs" / "combined.log").read_text()
    assert {result.host for result in commands} == {host.host for host in outcome.hosts}


def test_a_host_whose_app_never_confirms_fails_while_the_other_verifies(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer]
) -> None:
    environment, transport, roots = two_hosts(tmp_path, sshd_factory, second_reload="true\n")
    outcome = apply_everywhere(
        environment,
        ROLLBACK,
        transport,
        timeouts=Timeouts(10, 1),
        stamp="T2",
        observe=lambda _: None,
    )
    assert not outcome.verified
    assert [host.verified for host in outcome.hosts] == [True, False]
    assert "no 'Job stagger disabled'" in outcome.hosts[1].detail
    # The env file itself was written whole on both; only the confirmation is missing.
    assert b"JOB_STAGGER_ENABLED=false" in (roots[1] / ".env").read_bytes()


def test_a_failing_reload_is_reported_with_its_exit_status(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer]
) -> None:
    environment, transport, _ = two_hosts(
        tmp_path, sshd_factory, second_reload="echo '[PM2][ERROR] Process not found' >&2; exit 1\n"
    )
    outcome = apply_everywhere(
        environment,
        ROLLBACK,
        transport,
        timeouts=Timeouts(10, 1),
        stamp="T3",
        observe=lambda _: None,
    )
    assert outcome.hosts[1].detail == "reload failed: exit 1: [PM2][ERROR] Process not found"


def test_a_missing_env_file_fails_that_host_without_creating_one(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer]
) -> None:
    environment, transport, roots = two_hosts(tmp_path, sshd_factory)
    (roots[0] / ".env").unlink()
    outcome = apply_everywhere(
        environment,
        ROLLBACK,
        transport,
        timeouts=Timeouts(10, 2),
        stamp="T4",
        observe=lambda _: None,
    )
    assert not outcome.hosts[0].verified and "cannot read" in outcome.hosts[0].detail
    assert not (roots[0] / ".env").exists()
    assert outcome.hosts[1].verified


def test_a_full_disk_fails_the_write_and_leaves_the_env_file_whole(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer]
) -> None:
    app_dir = tmp_path / "var-www-goalgpt"
    app_dir.mkdir()
    server = sshd_factory("full", bind=(make_app_dir(tmp_path / "host"), app_dir), full_disk=True)
    environment = EnvironmentSpec.model_validate(
        {
            "hosts": [str(server.host_address)],
            "app_dir": str(app_dir),
            "reload_command": "sh reload.sh",
            "approvals": {"approvers": ["U0LEAD1"], "required": 1},
        }
    )
    transport = SshTransport(server.client_key, server.known_hosts, connect_timeout=5)
    outcome = apply_everywhere(
        environment, ROLLBACK, transport, timeouts=Timeouts(10, 5), stamp="T1",
        observe=lambda result: None,
    )  # fmt: skip
    [host] = outcome.hosts
    assert not host.verified
    assert "could not write" in host.detail and "No space left on device" in host.detail
    with transport.connect(server.host_address) as session:
        seen = session.run(f"cat {app_dir}/.env; ls -a {app_dir}")
    # The host's own view (its disk is a full tmpfs): the env file as it was, no temp file.
    assert seen.stdout.startswith(ENV_FILE) and b"stagger-tmp" not in seen.stdout


ONE_JOB = FlagChange("JOB_STAGGER_LIVE_STATS_SYNC", "0", "Job stagger")
# Another writer puts the job's old value back while the app reloads: the app logs its
# usual line, so only the env file read back tells the change was lost.
UNDOING_RELOAD = r"""#!/bin/sh
sed -i 's/^JOB_STAGGER_LIVE_STATS_SYNC=0$/JOB_STAGGER_LIVE_STATS_SYNC=1/' .env
echo "$(date -u '+%F %T.000') info: ▶️ Job stagger enabled" >> logs/combined.log
"""


def test_a_per_job_change_another_writer_undid_is_not_reported_verified(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer]
) -> None:
    environment, transport, roots = two_hosts(tmp_path, sshd_factory, second_reload=UNDOING_RELOAD)

    outcome = apply_everywhere(
        environment, ONE_JOB, transport, timeouts=Timeouts(10, 5), stamp="T1",
        observe=lambda _: None,
    )  # fmt: skip

    first, second = outcome.hosts
    assert first.verified and not outcome.verified
    assert not second.verified
    assert "holds JOB_STAGGER_LIVE_STATS_SYNC=1 after the reload" in second.detail
    assert b"JOB_STAGGER_LIVE_STATS_SYNC=0" in (roots[0] / ".env").read_bytes()


def test_the_write_waits_for_another_writer_holding_the_lock_and_then_refuses(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer]
) -> None:
    environment, transport, roots = two_hosts(tmp_path, sshd_factory)
    holder = subprocess.Popen(
        ["flock", str(roots[1] / ".env.stagger-lock"), "sh", "-c", "echo locked; cat"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        outcome = apply_everywhere(
            environment, ROLLBACK, transport, timeouts=Timeouts(4, 5), stamp="T1",
            observe=lambda _: None,
        )  # fmt: skip
    finally:
        holder.communicate("", timeout=10)

    first, second = outcome.hosts
    assert first.verified
    assert not second.verified and "another writer holds the lock" in second.detail
    assert (roots[1] / ".env").read_bytes() == ENV_FILE
