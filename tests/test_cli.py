"""`stagger-bot` as a person runs it from a shell."""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import build_parser
from tests.support.spec_data import AUDIT_KEY

EXAMPLE = Path("stagger.example.toml").resolve()


def stagger_bot(*arguments: str, db: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "STAGGER_"))
    }
    environment.update(
        {
            "STAGGER_CONFIG": str(EXAMPLE),
            "STAGGER_DB": str(db),
            "STAGGER_AUDIT_KEY": AUDIT_KEY,
            **extra_env,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=60,
    )


def test_every_cli_command_has_help_text() -> None:
    parser = build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    assert isinstance(subparsers, argparse._SubParsersAction)
    for name, subparser in subparsers.choices.items():
        assert subparser.format_help().strip(), name
        assert any(choice.dest == name for choice in subparsers._choices_actions), name
        assert next(c.help for c in subparsers._choices_actions if c.dest == name)


def test_cmd_runs_the_same_handlers_and_prints_the_request(tmp_path: Path) -> None:
    result = stagger_bot(
        "cmd", "--user", "U0OPS1", "rollback prod --reason 'pool at 90%'", db=tmp_path / "s.db"
    )
    assert result.returncode == 0, result.stderr
    assert "Rollback request R" in result.stdout
    assert "[C0ROLLOUT] Approval needed: rollback prod" in result.stdout
    status = stagger_bot("cmd", "--user", "U0OPS1", "status prod", db=tmp_path / "s.db")
    assert "pending, 0/2 approvals" in status.stdout  # from the CLI: one approval more


def test_cmd_prints_the_reply_as_plain_text_when_not_on_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    status = stagger_bot("cmd", "--user", "U0OPS1", "status prod", db=db)
    assert status.returncode == 0, status.stderr
    assert "Rollout: not started; first phase staging-baseline (/stagger advance)." in (
        status.stdout
    )
    request = stagger_bot("cmd", "--user", "U0OPS1", "rollback prod --reason x", db=db)
    assert "posted in #C0ROLLOUT; it needs 2 approval(s) from @U0LEAD1, @U0LEAD2" in (
        request.stdout
    )
    for raw in ("*", "`", "<@", "<#"):
        assert raw not in status.stdout + request.stdout.split("[C0ROLLOUT]")[0], raw


def test_cmd_on_a_terminal_shows_the_reply_styled_and_without_markup(tmp_path: Path) -> None:
    import pty

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STAGGER_"))}
    environment.pop("NO_COLOR", None)
    environment.update(
        STAGGER_CONFIG=str(EXAMPLE), STAGGER_DB=str(tmp_path / "s.db"), STAGGER_AUDIT_KEY=AUDIT_KEY,
        TERM="xterm-256color",
    )  # fmt: skip
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "cmd", "--user", "U0OPS1", "status prod"],
        stdout=follower, stderr=subprocess.DEVNULL, env=environment,
    )  # fmt: skip
    os.close(follower)
    shown = b""
    while chunk := _read_pty(leader):
        shown += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    text = shown.decode()
    assert "\x1b[1m" in text  # *not started* in bold
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "Rollout: not started; first phase staging-baseline (/stagger advance)." in plain


def _read_pty(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the child closed its end
        return b""


def test_cmd_exits_1_with_a_clear_message_on_bad_input(tmp_path: Path) -> None:
    result = stagger_bot("cmd", "--user", "U0OPS1", "rollback qa", db=tmp_path / "s.db")
    assert result.returncode == 1
    assert "Unknown environment qa." in result.stdout and "Traceback" not in result.stderr


# Who ran a shell command, as the OS tells it (not what `--user` says).
ORIGIN = f"{pwd.getpwuid(os.getuid()).pw_name}@{socket.gethostname()}"


def audit_rows(db: Path) -> list[tuple[str, str, str, dict[str, str]]]:
    """(action, actor, source, args) of every audit row, oldest first."""
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute("SELECT action, actor, source, args FROM audit ORDER BY id")
        return [(action, actor, source, json.loads(args)) for action, actor, source, args in rows]
    finally:
        connection.close()


@pytest.mark.parametrize("verb", ["approve", "deny"])
def test_approving_or_denying_from_the_cli_is_refused_and_runs_nothing(
    tmp_path: Path, verb: str
) -> None:
    db = tmp_path / "s.db"
    requested = stagger_bot("cmd", "--user", "U0OPS1", "rollback prod --reason x", db=db)
    request_id = next(w for w in requested.stdout.split() if re.fullmatch("R[A-Z0-9]{5}", w))
    result = stagger_bot("cmd", "--user", "U0LEAD1", f"{verb} {request_id}", db=db)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{verb} works only from Slack" in result.stdout
    assert "#C0ROLLOUT" in result.stdout  # where to do it instead
    status = stagger_bot("cmd", "--user", "U0OPS1", "status prod", db=db)
    assert "pending, 0/2 approvals" in status.stdout  # from the CLI: one approval more
    action, actor, source, args = audit_rows(db)[-1]
    assert (action, actor, source) == (f"{verb}.refused", "U0LEAD1", "cli")
    assert args["origin"] == ORIGIN


def test_a_cli_rollback_without_approval_runs_and_every_row_names_its_origin(
    tmp_path: Path, sshd: Any
) -> None:
    import tomli_w

    from tests.support.spec_data import ENV_FILE, make_app_dir, spec_data

    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        [str(sshd.host_address)], app, known_hosts=sshd.known_hosts, key_file=sshd.client_key,
        required=0,
    )  # fmt: skip
    spec = tmp_path / "stagger.toml"
    spec.write_text(tomli_w.dumps(data), encoding="utf-8")
    db = tmp_path / "s.db"
    result = stagger_bot(
        "cmd", "--user", "U0OPS1", "rollback prod --reason 'pool at 90%'", db=db,
        STAGGER_CONFIG=str(spec),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no approval required" in result.stdout
    assert (app / ".env").read_bytes() == ENV_FILE.replace(b"ENABLED=true", b"ENABLED=false")
    rows = audit_rows(db)
    assert [row[0] for row in rows][:3] == [
        "rollback.requested",
        "rollback.approved",
        "rollback.started",
    ]
    assert "rollback.finished" in [row[0] for row in rows]
    assert [row[3].get("origin") for row in rows] == [ORIGIN] * len(rows)
    listed = stagger_bot(
        "cmd", "--user", "U0LEAD1", "audit prod 1", db=db, STAGGER_CONFIG=str(spec)
    )
    assert f"via bot ({ORIGIN}): rollback.finished prod" in listed.stdout


def test_audit_verify_and_export_read_the_trail(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    stagger_bot("cmd", "--user", "U0OPS1", "rollback prod --reason x", db=db)
    stagger_bot("cmd", "--user", "U0RANDOM", "rollback prod", db=db)
    verified = stagger_bot("audit", "verify", db=db)
    assert verified.returncode == 0 and "2 row(s), chain intact" in verified.stdout
    exported = stagger_bot("audit", "export", "--format", "csv", db=db)
    assert exported.stdout.count("\n") == 3 and "rollback.refused" in exported.stdout

    connection = sqlite3.connect(db)
    connection.execute("UPDATE audit SET actor = 'U0LEAD1' WHERE id = 1")
    connection.commit()
    connection.close()
    broken = stagger_bot("audit", "verify", db=db)
    assert broken.returncode == 1 and "row 1: its content was edited" in broken.stdout


def test_serve_without_slack_credentials_names_what_is_missing(tmp_path: Path) -> None:
    result = stagger_bot("serve", "--port", "0", db=tmp_path / "s.db")
    assert result.returncode == 1
    assert "set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET in the environment" in result.stderr


def test_a_broken_spec_stops_the_bot_with_every_problem(tmp_path: Path) -> None:
    spec = tmp_path / "stagger.toml"
    spec.write_text(EXAMPLE.read_text().replace("required = 1", "required = 5"))
    result = stagger_bot(
        "cmd", "--user", "U0OPS1", "status", db=tmp_path / "s.db", STAGGER_CONFIG=str(spec)
    )
    assert result.returncode == 2
    assert (
        "environments.staging.approvals" in result.stderr
        and "environments.prod.approvals" in result.stderr
    )


SECRETS = [
    pytest.param("SLACK_BOT_TOKEN", "xoxb-999-888-verysecrettoken", "verysecrettoken", id="token"),
    pytest.param(
        "SLACK_SIGNING_SECRET", "sign-4f1c9e77a2b8d3e6", "4f1c9e77a2b8d3e6", id="signing-secret"
    ),
    pytest.param(
        # Port 9 on loopback refuses at once: `offsets prod` tries the DSN and fails.
        "PROD_DATABASE_URL",
        "postgres://app:hunter2@127.0.0.1:9/goalgpt",
        "hunter2",
        id="dsn",
    ),
    pytest.param(
        "STAGGER_AUDIT_KEY",
        "9a3f1c7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a",
        "9a3f1c7e5b2d4f6a8c0e",
        id="audit-key",
    ),
]


@pytest.mark.parametrize(("variable", "secret", "telltale"), SECRETS)
def test_secrets_stay_out_of_output_logs_slack_and_the_store(
    tmp_path: Path, variable: str, secret: str, telltale: str
) -> None:
    """Each secret where the bot takes it from, then commands that log, post to Slack (one
    post refused, so it is logged and queued), audit and use the DSN: neither the secret
    nor its telltale part (a DSN's password) shows in the output, the logs, what Slack
    was sent, the audit trail or anywhere in the store's files."""
    from bot.rehearsal.slack_standin import SlackStandIn

    db = tmp_path / "s.db"
    standin = SlackStandIn()
    standin.fail_next("chat.postMessage", 400)
    try:
        environment = {  # every run posts to Slack and tries a DSN; one holds the secret
            "SLACK_BOT_TOKEN": "xoxb-1-2-anothertoken",
            "SLACK_API_URL": standin.url,
            "PROD_DATABASE_URL": "postgres://app:another@127.0.0.1:9/goalgpt",
            variable: secret,
        }
        runs = [
            stagger_bot("cmd", "--user", "U0OPS1", text, db=db, **environment)
            for text in ("status", "rollback prod --reason 'pool at 90%'", "offsets prod")
        ]
        posted = [call.params for call in standin.calls]
    finally:
        standin.close()
    assert [run.returncode for run in runs] == [0, 0, 0], runs[-1].stderr
    assert "Slack refused a post; queued" in runs[1].stderr  # the refused post was logged
    assert "No predicted overlap: database unavailable" in str(posted)  # the DSN was tried
    # Exported without the secret in the environment, so the export cannot redact it.
    exported = stagger_bot("audit", "export", db=db)
    assert exported.returncode == 0 and "rollback.requested" in exported.stdout
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("s.db*"))

    seen = {
        "output and logs": "".join(run.stdout + run.stderr for run in runs),
        "Slack": str(posted),
        "audit trail": exported.stdout,
        "store": stored.decode("utf-8", errors="replace"),
    }
    for where, text in seen.items():
        assert secret not in text and telltale not in text, f"{variable} leaked into {where}"


def test_serve_answers_signed_commands_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal

    from bot.rehearsal.slack_standin import SlackStandIn
    from tests.support.bot_process import start_serving

    standin = SlackStandIn()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STAGGER_"))}
    environment.update(
        STAGGER_CONFIG=str(EXAMPLE),
        STAGGER_DB=str(tmp_path / "s.db"),
        SLACK_BOT_TOKEN="xoxb-1-2-servetoken",
        SLACK_SIGNING_SECRET="serve-secret",
        SLACK_API_URL=standin.url,
        STAGGER_AUDIT_KEY=AUDIT_KEY,
    )
    started: list[subprocess.Popen[str]] = []

    def launch(port: int) -> subprocess.Popen[str]:
        started.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        return started[-1]

    try:
        sender = start_serving(launch, "serve-secret")
        reply = sender.command("U0OPS1", "status")
        assert reply.status == 200
        assert "*prod* — phase *not started*" in reply.json()["text"]
        assert sender.command("U0OPS1", "status", sign_with="wrong").status == 401
        typed = "rollback prod --reason 'pg password is hunter2'"
        assert sender.command("U0OPS1", typed).status == 200
        assert sender.command("U0OPS1", "rollbak prod").status == 200
    finally:
        process = started[-1]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        standin.close()
    assert process.returncode == 0, stderr
    assert "serve-secret" not in stderr and "servetoken" not in stderr
    # What an operator reads in the log: one line per command, with no words typed in it.
    commands = [line for line in stderr.splitlines() if " INFO commands: " in line]
    assert len(commands) == 3, stderr[-3000:]
    assert re.search(r"INFO commands: status by U0OPS1 from slack: ok in \d+ ms$", commands[0])
    assert re.search(r"commands: rollback by U0OPS1 from slack: ok in \d+ ms$", commands[1])
    assert re.search(r"commands: \(unknown\) by U0OPS1 from slack: refused in \d+ ms$", commands[2])
    assert "hunter2" not in stderr and "rollbak" not in stderr
    # The scheduled jobs by their names; Bolt's start-up warning is gone.
    assert 'Running job "checkpoints (trigger' in stderr
    assert "build_scheduler.<locals>" not in stderr
    assert "WARNING slack_bolt" not in stderr, stderr[-3000:]


def test_audit_export_into_a_pipe_closed_early_ends_at_once_without_a_traceback(
    tmp_path: Path,
) -> None:
    """`stagger-bot audit export | head -1`."""
    db = tmp_path / "s.db"
    stagger_bot("cmd", "--user", "U0OPS1", "rollback prod --reason x", db=db)
    connection = sqlite3.connect(db)
    columns = ", ".join(row[1] for row in connection.execute("PRAGMA table_info(audit)"))
    columns = columns.replace("id, ", "", 1)
    with connection:  # a trail of many rows, far more than a pipe holds
        for _ in range(14):
            connection.execute(f"INSERT INTO audit ({columns}) SELECT {columns} FROM audit")
    connection.close()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STAGGER_"))}
    environment.update(STAGGER_DB=str(db))
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "audit", "export"],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        try:
            assert process.stdout.readline().startswith("{")
            process.stdout.close()
            returncode = process.wait(timeout=60)
        finally:
            process.kill()
        stderr = process.stderr.read()
    assert returncode == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_audit_needs_only_the_store_and_names_a_missing_one(tmp_path: Path) -> None:
    missing = stagger_bot("audit", "verify", db=tmp_path / "nope.db", STAGGER_CONFIG="/no/spec")
    assert missing.returncode == 1 and "no store at" in missing.stderr
    assert not (tmp_path / "nope.db").exists()


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    import tomllib

    version = tomllib.loads(Path("pyproject.toml").read_text())["project"]["version"]
    result = stagger_bot("--version", db=tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"stagger-bot {version}"


# What each command's --help must name: the variables it cannot do without, at least.
READS = {
    "serve": ["STAGGER_CONFIG", "STAGGER_DB", "STAGGER_AUDIT_KEY", "SLACK_BOT_TOKEN",
              "SLACK_SIGNING_SECRET", "PORT", "database_url_env"],
    "socket": ["STAGGER_CONFIG", "STAGGER_AUDIT_KEY", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"],
    "scheduler": ["STAGGER_CONFIG", "STAGGER_DB", "STAGGER_AUDIT_KEY", "SLACK_BOT_TOKEN"],
    "rehearse": ["DATABASE_URL", "NO_COLOR", "TMPDIR"],
    "cmd": ["STAGGER_CONFIG", "STAGGER_DB", "STAGGER_AUDIT_KEY", "database_url_env", "NO_COLOR"],
    "kpi": ["STAGGER_CONFIG", "STAGGER_DB", "STAGGER_AUDIT_KEY", "database_url_env"],
    "check-config": ["STAGGER_CONFIG"],
    "replay": ["STAGGER_DB"],
    "audit verify": ["STAGGER_DB", "STAGGER_AUDIT_KEY", "STAGGER_AUDIT_OLD_KEYS"],
    "audit export": ["STAGGER_DB"],
    "audit import": ["STAGGER_DB", "STAGGER_AUDIT_KEY", "STAGGER_AUDIT_OLD_KEYS"],
    "emergency-rollback": ["STAGGER_CONFIG", "STAGGER_AUDIT_KEY"],
    "store migrate": ["STAGGER_AUDIT_KEY"],
}  # fmt: skip


def test_every_command_is_listed_with_the_variables_its_help_names() -> None:
    parser = build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    assert isinstance(subparsers, argparse._SubParsersAction)
    audit = subparsers.choices["audit"]
    actions = next(action for action in audit._actions if action.dest == "audit_command")
    assert isinstance(actions, argparse._SubParsersAction)
    listed = {name for name in subparsers.choices if name not in ("audit", "store")}
    listed |= {f"audit {name}" for name in actions.choices}
    store = subparsers.choices["store"]
    store_actions = next(action for action in store._actions if action.dest == "store_command")
    assert isinstance(store_actions, argparse._SubParsersAction)
    listed |= {f"store {name}" for name in store_actions.choices}
    assert listed == set(READS)


@pytest.mark.parametrize("command", sorted(READS))
def test_each_commands_help_describes_it_and_names_the_environment_it_reads(
    tmp_path: Path, command: str
) -> None:
    result = stagger_bot(*command.split(), "--help", db=tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    usage, description, *_ = result.stdout.split("\n\n")
    assert usage.startswith(f"usage: stagger-bot {command}")
    assert len(description.split()) >= 5, result.stdout  # a sentence, not the options
    reads = result.stdout.split("environment:", 1)[1]
    for variable in READS[command]:
        assert variable in reads, f"{command} --help does not name {variable}"
