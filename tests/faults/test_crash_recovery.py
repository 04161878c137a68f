"""The bot killed (SIGKILL) in the middle of a rollback: on restart the env file is whole,
the audit trail tells what happened, and the rollback is reported as unfinished once the
dead process's lease lapses (the tests' lease is 2 s) — never silently dropped, never run
twice."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from bot.core.envfile import set_env_value
from bot.hosts.flag_change import write_script
from bot.rehearsal.slack_standin import SlackStandIn
from bot.render.blocks import APPROVE_ACTION
from tests.support.bot_process import BotProcess, wait_until
from tests.support.spec_data import ENV_FILE, LEAD, OPERATOR, make_app_dir, spec_data

LEASE_S = 2

# The app reloads in the background: the stagger line comes seconds later, so the bot
# is still waiting for it when it is killed.
SLOW_RELOAD = r"""#!/bin/sh
touch reloaded
line='info: ⏸️ Job stagger disabled'
nohup sh -c "sleep 3; echo \"\$(date -u '+%F %T.000') $line\" >> logs/combined.log" \
  >/dev/null 2>&1 &
"""


@pytest.fixture
def bots(tmp_path: Path) -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for bot in started:
        bot.stop()


def request_and_approve(bot: BotProcess, slack: SlackStandIn) -> str:
    assert bot.sender is not None
    text: str = bot.sender.command(OPERATOR, "rollback prod --reason 'pool at 90%'").json()["text"]
    request_id = next(w.strip("`") for w in text.split() if w.startswith("`R"))
    posted = slack.wait_for(lambda c: request_id in c.text, method="chat.postMessage")
    bot.sender.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    return request_id


def restart_and_check(bot: BotProcess, slack: SlackStandIn, request_id: str) -> None:
    bot.start()
    slack.wait_for(lambda c: "was interrupted" in c.text and request_id in c.text)
    assert bot.query("SELECT status FROM approvals WHERE id = ?", request_id) == [("interrupted",)]
    actions = [row[0] for row in bot.query("SELECT action FROM audit ORDER BY id")]
    assert actions.index("rollback.started") < actions.index("rollback.interrupted")
    assert "rollback.finished" not in actions


def test_killed_after_reload_before_verification(
    tmp_path: Path, sshd: Any, slack: SlackStandIn, bots: list[BotProcess]
) -> None:
    app = make_app_dir(tmp_path / "app", reload_script=SLOW_RELOAD)
    data = spec_data(
        [str(sshd.host_address)], app, known_hosts=sshd.known_hosts, key_file=sshd.client_key,
        lease_s=LEASE_S,
        verify_timeout_s=30,
    )  # fmt: skip
    bot = BotProcess(tmp_path, data, slack.url)
    bots.append(bot)
    bot.start()
    request_id = request_and_approve(bot, slack)
    wait_until((app / "reloaded").exists, what="the reload on the host")
    bot.kill()
    # The env file is whole: the new one, written atomically, with the old one kept.
    assert (app / ".env").read_bytes() == ENV_FILE.replace(b"ENABLED=true", b"ENABLED=false")
    backups = list(app.glob(".env.stagger-backup-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == ENV_FILE
    assert not list(app.glob(".env.stagger-tmp-*"))
    restart_and_check(bot, slack, request_id)
    (app / "reloaded").unlink()
    assert bot.sender is not None
    reply = bot.sender.command(LEAD, f"approve {request_id}").json()["text"]
    assert "already interrupted" in reply
    assert not (app / "reloaded").exists() and len(list(app.glob(".env.stagger-backup-*"))) == 1


# The host's `sync`, which the write runs with the new file complete under its temporary
# name and not yet renamed over .env: it says it got there, then waits for the test.
GATED_SYNC = """#!/bin/sh
touch {reached}
while [ ! -e {gate} ]; do sleep 0.05; done
exec /usr/bin/sync "$@"
"""


def test_killed_during_the_env_file_write(
    tmp_path: Path, sshd_factory: Any, slack: SlackStandIn, bots: list[BotProcess]
) -> None:
    reached, gate = tmp_path / "write-reached-sync", tmp_path / "go-on"
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    (wrappers / "sync").write_text(GATED_SYNC.format(reached=reached, gate=gate))
    (wrappers / "sync").chmod(0o755)
    host = sshd_factory("gated", path_first=wrappers)
    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        [str(host.host_address)], app, known_hosts=host.known_hosts, key_file=host.client_key,
        lease_s=LEASE_S,
    )  # fmt: skip
    bot = BotProcess(tmp_path, data, slack.url)
    bots.append(bot)
    bot.start()
    request_id = request_and_approve(bot, slack)
    wait_until(reached.exists, what="the host's write to reach its sync")

    bot.kill()

    assert (app / ".env").read_bytes() == ENV_FILE  # not renamed yet: the old file, whole
    gate.touch()  # the host's half of the write goes on without the bot
    wait_until(lambda: not list(app.glob(".env.stagger-tmp-*")), what="the host's write")
    new = set_env_value(ENV_FILE, "JOB_STAGGER_ENABLED", "false")
    assert (app / ".env").read_bytes() in (ENV_FILE, new)  # old or new, never torn
    backups = list(app.glob(".env.stagger-backup-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == ENV_FILE
    restart_and_check(bot, slack, request_id)
    # Interrupted before the reload: the app was never restarted, and the bot says so.
    assert "Job stagger disabled" not in (app / "logs" / "combined.log").read_text()


def test_killed_after_approval_before_any_host_answered(
    tmp_path: Path, sshd: Any, slack: SlackStandIn, bots: list[BotProcess]
) -> None:
    # A host that accepts the connection and never says a word: the bot waits on it.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        [f"root@127.0.0.1:{silent.getsockname()[1]}"], app,
        known_hosts=sshd.known_hosts, key_file=sshd.client_key, lease_s=LEASE_S,
    )  # fmt: skip
    data["ssh"]["connect_timeout_s"] = 60
    bot = BotProcess(tmp_path, data, slack.url)
    bots.append(bot)
    try:
        bot.start()
        request_id = request_and_approve(bot, slack)
        wait_until(lambda: bool(accepted), what="the bot's connection to the host")
        bot.kill()
        restart_and_check(bot, slack, request_id)
        assert (app / ".env").read_bytes() == ENV_FILE
    finally:
        for connection in accepted:
            connection.close()
        silent.close()


def test_a_corrupt_spec_on_reload_is_refused_and_the_last_good_one_kept(
    tmp_path: Path, sshd: Any, slack: SlackStandIn, bots: list[BotProcess]
) -> None:
    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        [str(sshd.host_address)], app, known_hosts=sshd.known_hosts, key_file=sshd.client_key
    )
    bot = BotProcess(tmp_path, data, slack.url)
    bots.append(bot)
    sender = bot.start()
    assert bot.process is not None
    good = bot.config.read_text(encoding="utf-8")
    bot.config.write_text(good.replace("required = 1", "required = 7"), encoding="utf-8")
    bot.process.send_signal(signal.SIGHUP)
    wait_until(lambda: bot.query("SELECT 1 FROM audit WHERE action = 'spec.reload_refused'") != [])
    assert "*prod* — phase *not started*" in sender.command(OPERATOR, "status").json()["text"]
    bot.config.write_text(good.replace('"U0OPS2"', '"U0OPS9"'), encoding="utf-8")
    bot.process.send_signal(signal.SIGHUP)
    wait_until(lambda: bot.query("SELECT 1 FROM audit WHERE action = 'spec.reloaded'") != [])
    refused = sender.command("U0OPS2", "rollback prod").json()["text"]
    assert "<@U0OPS2> may not run `rollback` on prod" in refused and "<@U0OPS9>" in refused


def test_killed_while_sending_the_new_env_file_leaves_the_old_one_whole(
    tmp_path: Path, sshd: Any
) -> None:
    """The bot dies with half the new file sent: the host's `cat` sees the end of its
    input early. What it got must not become the env file."""
    app = make_app_dir(tmp_path / "app")
    env_path = app / ".env"
    new = set_env_value(ENV_FILE, "JOB_STAGGER_ENABLED", "false")
    script = write_script(str(env_path), f"{env_path}.stagger-backup-test", ENV_FILE, new)
    client = paramiko.SSHClient()
    client.load_host_keys(str(sshd.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        "127.0.0.1", port=sshd.port, username=sshd.host_address.user,
        key_filename=str(sshd.client_key), allow_agent=False, look_for_keys=False,
    )  # fmt: skip
    transport = client.get_transport()
    assert transport is not None  # connected above
    channel = transport.open_session()
    channel.exec_command(script)
    channel.sendall(new[: len(new) // 2])
    # The host is now in `cat`, waiting for the rest: the bot "dies".
    wait_until(lambda: bool(list(app.glob(".env.stagger-tmp-*"))), what="the temporary file")
    client.close()

    wait_until(lambda: not list(app.glob(".env.stagger-tmp-*")), what="the host to give up")
    assert env_path.read_bytes() == ENV_FILE
    assert (app / ".env.stagger-backup-test").read_bytes() == ENV_FILE
