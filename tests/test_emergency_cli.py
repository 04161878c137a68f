"""`stagger-bot emergency-rollback` and `stagger-bot audit import` as the on-call engineer
runs them from a shell: the store down (or never there), no Slack, real sshd hosts."""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.support.spec_data import AUDIT_KEY, ENV_FILE, make_app_dir, spec_data
from tests.support.ssh_fixtures import SshdServer

ORIGIN = f"{pwd.getpwuid(os.getuid()).pw_name}@{socket.gethostname()}"
ROLLED_BACK_FILE = ENV_FILE.replace(b"JOB_STAGGER_ENABLED=true", b"JOB_STAGGER_ENABLED=false")
DSN = "postgres://stagger:dsn-pw-4411@db.internal:5432/stagger"


def stagger_bot(
    *arguments: str, cwd: Path, db: Path | str, key: bool = True, **extra: str
) -> subprocess.CompletedProcess[str]:
    """As a shell runs it: no Slack token, STAGGER_DB wherever `db` says, a DSN set."""
    return python(["-m", "bot.cli", *arguments], cwd=cwd, db=db, key=key, **extra)


def python(
    arguments: list[str], *, cwd: Path, db: Path | str, key: bool = True, **extra: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLACK_", "STAGGER_")) and not name.endswith("DATABASE_URL")
    }
    if key:
        environment["STAGGER_AUDIT_KEY"] = AUDIT_KEY
    environment.update({"STAGGER_DB": str(db), "PROD_DATABASE_URL": DSN, **extra})
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True, text=True, env=environment, cwd=cwd, check=False, timeout=120,
    )  # fmt: skip


def write_spec(tmp_path: Path, hosts: list[str], app: Path, known_hosts: Path, key: Path) -> Path:
    data = spec_data(hosts, app, known_hosts=known_hosts, key_file=key)
    spec = tmp_path / "stagger.toml"
    spec.write_text(tomli_w.dumps(data), encoding="utf-8")
    return spec


def journal_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def audit_rows(db: Path) -> list[dict[str, Any]]:
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute("SELECT * FROM audit ORDER BY id")]
    finally:
        connection.close()


@pytest.fixture
def one_host(tmp_path: Path, sshd: SshdServer) -> tuple[Path, Path]:
    """A spec whose prod (and staging) is the loopback sshd; the host's app dir."""
    app = make_app_dir(tmp_path / "app")
    spec = write_spec(tmp_path, [str(sshd.host_address)], app, sshd.known_hosts, sshd.client_key)
    return spec, app


def store_down(tmp_path: Path) -> Path:
    """STAGGER_DB pointing where no store can be: a folder that does not exist."""
    return tmp_path / "no-such-folder" / "stagger.db"


def test_with_no_store_and_no_slack_the_emergency_rollback_flips_the_host_verified_and_journals_it(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, app = one_host
    db = store_down(tmp_path)

    result = stagger_bot(
        "emergency-rollback", "prod", "--reason", "pool at 95%, store down",
        "--config", str(spec), cwd=tmp_path, db=db,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Rolled back prod: verified on all 1 host(s)." in result.stdout
    assert "stagger-bot audit import stagger-emergency-journal.jsonl" in result.stdout
    assert (app / ".env").read_bytes() == ROLLED_BACK_FILE
    assert "⏸️ Job stagger disabled" in (app / "logs" / "combined.log").read_text()
    assert not db.parent.exists()  # the store was never opened, nor made
    lines = journal_lines(tmp_path / "stagger-emergency-journal.jsonl")
    actions = [line["action"] for line in lines]
    assert actions[0] == "rollback.started" and actions[-1] == "rollback.finished"
    # The entry about the write is in the journal before the write's own command.
    writing = actions.index("rollback.writing")
    assert lines[writing + 1]["args"]["command"].startswith("set -eu;")
    assert lines[0]["args"]["reason"] == "pool at 95%, store down"
    assert lines[-1]["outcome"] == "ok" and list(lines[-1]["args"]["hosts"].values()) == [True]
    assert {line["actor"] for line in lines} == {ORIGIN}
    assert {line["args"]["origin"] for line in lines} == {ORIGIN}
    assert len({line["id"] for line in lines}) == len(lines)
    assert lines[0]["prev_hash"] == "0" * 64
    assert [line["prev_hash"] for line in lines[1:]] == [line["hash"] for line in lines[:-1]]
    assert all(line["chain"].startswith("hmac-sha256:") for line in lines)


def test_the_journal_holds_no_secret_of_the_env_file_nor_a_dsn_nor_a_digest(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, _app = one_host
    result = stagger_bot(
        "emergency-rollback", "prod", "--reason", f"db {DSN} melting",
        "--config", str(spec), "--journal", "j.jsonl", cwd=tmp_path, db=store_down(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    text = (tmp_path / "j.jsonl").read_text(encoding="utf-8")
    for secret in ("s3cret-pw", "dsn-pw-4411", "NODE_ENV", "LOG_LEVEL", AUDIT_KEY):
        assert secret not in text, secret
    commands = " ".join(
        line["args"].get("command", "") for line in journal_lines(tmp_path / "j.jsonl")
    )
    assert "[sha256]" in commands and not re.search(r"\b[0-9a-f]{64}\b", commands)


def two_hosts_one_full(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer]
) -> tuple[Path, list[Path], list[SshdServer]]:
    """Two sshd 'hosts' each seeing its own app dir at one path; the second's disk is full."""
    app_dir = tmp_path / "var-www-goalgpt"
    app_dir.mkdir()
    roots = [make_app_dir(tmp_path / "host-a"), make_app_dir(tmp_path / "host-b")]
    good = sshd_factory("a", bind=(roots[0], app_dir))
    full = sshd_factory("b", bind=(roots[1], app_dir), full_disk=True)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(good.known_hosts.read_text() + full.known_hosts.read_text())
    (full.tmp / "authorized_keys").write_text((good.tmp / "authorized_keys").read_text())
    hosts = [str(good.host_address), str(full.host_address)]
    return write_spec(tmp_path, hosts, app_dir, known_hosts, good.client_key), roots, [good, full]


def test_a_host_whose_env_file_cannot_be_written_fails_the_run_by_name_and_the_journal_says_so(
    tmp_path: Path, sshd_factory: Callable[..., SshdServer]
) -> None:
    spec, roots, (good, full) = two_hosts_one_full(tmp_path, sshd_factory)

    result = stagger_bot(
        "emergency-rollback", "prod", "--reason", "pool at 95%", "--config", str(spec),
        cwd=tmp_path, db=store_down(tmp_path),
    )  # fmt: skip

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAILED on 1 of 2 host(s): {full.host_address}." in result.stdout
    assert re.search(
        rf"FAILED {re.escape(str(full.host_address))}: could not write .*No space", result.stdout
    )
    assert "run this again" in result.stdout and "Traceback" not in result.stderr
    assert (roots[0] / ".env").read_bytes() == ROLLED_BACK_FILE
    lines = journal_lines(tmp_path / "stagger-emergency-journal.jsonl")
    finished = lines[-1]
    assert finished["action"] == "rollback.finished" and finished["outcome"] == "failed"
    assert finished["args"]["hosts"] == {
        str(good.host_address): True,
        str(full.host_address): False,
    }
    assert "No space left on device" in finished["detail"]
    writes = [line["args"]["host"] for line in lines if line["action"] == "rollback.writing"]
    assert sorted(writes) == sorted([str(good.host_address), str(full.host_address)])


@pytest.mark.parametrize(
    ("words", "said"),
    [
        pytest.param(
            ["prd", "--reason", "x"], "unknown environment 'prd'; did you mean 'prod'?", id="env"
        ),
        pytest.param(
            ["prod", "LIVE_STATS_SYNK", "--reason", "x"],
            "unknown job 'LIVE_STATS_SYNK'; did you mean 'LIVE_STATS_SYNC'?", id="job",
        ),
        pytest.param(["prod"], "give --reason TEXT", id="no-reason"),
        pytest.param(["prod", "--reason", "  "], "give --reason TEXT", id="blank-reason"),
        pytest.param(
            ["prod", "--reason", "x", "--config", "missing.toml"],
            "missing.toml: cannot read the file", id="unreadable-spec",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_refused_in_one_line_with_exit_2_and_touches_nothing(
    tmp_path: Path, one_host: tuple[Path, Path], words: list[str], said: str
) -> None:
    spec, app = one_host
    result = stagger_bot(
        "emergency-rollback", *words, cwd=tmp_path, db=store_down(tmp_path),
        STAGGER_CONFIG=str(spec),
    )  # fmt: skip

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr
    assert result.stdout == ""
    assert (app / ".env").read_bytes() == ENV_FILE
    assert not (tmp_path / "stagger-emergency-journal.jsonl").exists()


def rolled_back_with_a_store(tmp_path: Path, spec: Path) -> tuple[Path, Path]:
    """An emergency rollback with the store down, then the store back: (journal, store)."""
    result = stagger_bot(
        "emergency-rollback", "prod", "--reason", "pool at 95%", "--config", str(spec),
        cwd=tmp_path, db=store_down(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    db = tmp_path / "stagger.db"
    status = stagger_bot(
        "cmd", "--user", "U0OPS1", "status prod", cwd=tmp_path, db=db, STAGGER_CONFIG=str(spec)
    )
    assert status.returncode == 0, status.stderr
    return tmp_path / "stagger-emergency-journal.jsonl", db


def test_an_imported_journal_is_in_the_trail_marked_outside_the_bot_and_the_trail_verifies(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, _app = one_host
    journal, db = rolled_back_with_a_store(tmp_path, spec)
    lines = journal_lines(journal)
    before = len(audit_rows(db))

    imported = stagger_bot(
        "audit", "import", str(journal), cwd=tmp_path, db=db, STAGGER_CONFIG=str(spec)
    )

    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert f"imported {len(lines)} entries from {journal}" in imported.stdout
    assert "0 already in the trail, skipped" in imported.stdout
    assert "verified on every host; prod set to rolled back" in imported.stdout
    rows = audit_rows(db)[before:]
    emergency = [row for row in rows if row["source"] == "emergency"]
    assert [row["action"] for row in emergency] == [line["action"] for line in lines]
    for row, line in zip(emergency, lines, strict=True):
        args = json.loads(row["args"])
        assert args["outside_bot"] is True and args["origin"] == ORIGIN
        assert (args["journal_entry"], args["journal_at"]) == (line["id"], line["at"])
        assert args["signed"] is True
        assert row["actor"] == ORIGIN
    assert rows[-1]["action"] == "audit.journal_imported"
    verified = stagger_bot("audit", "verify", cwd=tmp_path, db=db)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "chain intact" in verified.stdout
    status = stagger_bot(
        "cmd", "--user", "U0OPS1", "status prod", cwd=tmp_path, db=db, STAGGER_CONFIG=str(spec)
    )
    assert (
        "rolled back" in status.stdout
        and f"emergency rollback outside the bot by {ORIGIN}" in status.stdout
    )
    listed = stagger_bot(
        "cmd", "--user", "U0LEAD1", "audit prod 3", cwd=tmp_path, db=db, STAGGER_CONFIG=str(spec)
    )
    assert f"{ORIGIN} via emergency ({ORIGIN}): rollback.finished prod → ok" in listed.stdout


def test_importing_the_same_journal_twice_adds_nothing_the_second_time(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, _app = one_host
    journal, db = rolled_back_with_a_store(tmp_path, spec)
    first = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=db)
    assert first.returncode == 0, first.stderr
    rows = audit_rows(db)

    again = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=db)

    assert again.returncode == 0, again.stderr
    count = len(journal_lines(journal))
    assert f"imported 0 entries from {journal}" in again.stdout
    assert f"{count} already in the trail, skipped" in again.stdout
    assert audit_rows(db) == rows


def edit_an_entry(lines: list[str]) -> list[str]:
    line = json.loads(lines[1])
    line["args"]["host"] = "root@elsewhere"
    return [lines[0], json.dumps(line, ensure_ascii=False), *lines[2:]]


def drop_an_entry(lines: list[str]) -> list[str]:
    return [lines[0], *lines[2:]]


def cut_the_last_entry(lines: list[str]) -> list[str]:
    return [*lines[:-1], lines[-1][: len(lines[-1]) // 2]]


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        pytest.param(edit_an_entry, "line 2: its content was edited", id="edited"),
        pytest.param(drop_an_entry, "line 2: the chain breaks before it", id="line-removed"),
        pytest.param(cut_the_last_entry, "is cut short", id="cut-short"),
    ],
)
def test_a_tampered_journal_is_refused_naming_the_line_and_nothing_is_imported(
    tmp_path: Path,
    one_host: tuple[Path, Path],
    tamper: Callable[[list[str]], list[str]],
    why: str,
) -> None:
    spec, _app = one_host
    journal, db = rolled_back_with_a_store(tmp_path, spec)
    lines = journal.read_text(encoding="utf-8").splitlines()
    tampered = tamper(lines)
    ending = "" if tamper is cut_the_last_entry else "\n"
    journal.write_text("\n".join(tampered) + ending, encoding="utf-8")
    rows = audit_rows(db)

    refused = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=db)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert why in refused.stderr and "nothing imported" in refused.stderr
    if tamper is cut_the_last_entry:
        assert f"line {len(lines)}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert audit_rows(db) == rows


def test_a_journal_written_without_the_audit_key_imports_and_says_it_is_unsigned(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, _app = one_host
    result = stagger_bot(
        "emergency-rollback", "prod", "--reason", "no key on this laptop", "--config", str(spec),
        cwd=tmp_path, db=store_down(tmp_path), key=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    journal = tmp_path / "stagger-emergency-journal.jsonl"
    assert {line["chain"] for line in journal_lines(journal)} == {None}
    db = tmp_path / "stagger.db"
    stagger_bot(
        "cmd", "--user", "U0OPS1", "status prod", cwd=tmp_path, db=db, STAGGER_CONFIG=str(spec)
    )

    imported = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=db)

    assert imported.returncode == 0, imported.stderr
    assert "entries unsigned (STAGGER_AUDIT_KEY was not set" in imported.stderr
    emergency = [row for row in audit_rows(db) if row["source"] == "emergency"]
    assert emergency and all(json.loads(row["args"])["signed"] is False for row in emergency)
    assert stagger_bot("audit", "verify", cwd=tmp_path, db=db).returncode == 0


def test_a_second_run_appends_to_the_journal_and_chains_onto_the_first(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, app = one_host
    for reason in ("first", "second"):
        result = stagger_bot(
            "emergency-rollback", "prod", "--reason", reason, "--config", str(spec),
            cwd=tmp_path, db=store_down(tmp_path),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        if reason == "first":
            first = journal_lines(tmp_path / "stagger-emergency-journal.jsonl")

    lines = journal_lines(tmp_path / "stagger-emergency-journal.jsonl")
    assert lines[: len(first)] == first
    second = lines[len(first)]
    assert second["action"] == "rollback.started" and second["args"]["reason"] == "second"
    assert second["prev_hash"] == first[-1]["hash"]
    assert second["args"]["run"] != first[0]["args"]["run"]
    assert (app / ".env").read_bytes() == ROLLED_BACK_FILE


def test_a_run_cut_short_before_its_outcome_imports_and_marks_the_env_hosts_may_differ(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, _app = one_host
    journal, db = rolled_back_with_a_store(tmp_path, spec)
    # As a crash after the reload leaves it: every entry up to there, no rollback.finished.
    lines = journal.read_text(encoding="utf-8").splitlines(keepends=True)
    journal.write_text("".join(lines[:-1]), encoding="utf-8")

    imported = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=db)

    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "has no rollback.finished: it was cut short; prod is marked 'hosts may differ'" in (
        imported.stdout
    )
    status = stagger_bot(
        "cmd", "--user", "U0OPS1", "status prod", cwd=tmp_path, db=db, STAGGER_CONFIG=str(spec)
    )
    assert "UNKNOWN" in status.stdout and "cut short; hosts may differ" in status.stdout


def test_a_journal_ending_in_a_broken_line_is_not_appended_to_and_nothing_runs(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, app = one_host
    journal = tmp_path / "j.jsonl"
    journal.write_text('{"id": "x", "hash": "ab', encoding="utf-8")  # a power cut mid-write

    result = stagger_bot(
        "emergency-rollback", "prod", "--reason", "x", "--config", str(spec),
        "--journal", str(journal), cwd=tmp_path, db=store_down(tmp_path),
    )  # fmt: skip

    assert result.returncode == 2, result.stdout + result.stderr
    assert "ends in a line cut short (line 1); name a new one with --journal" in result.stderr
    assert (app / ".env").read_bytes() == ENV_FILE
    assert journal.read_text(encoding="utf-8") == '{"id": "x", "hash": "ab'


def test_a_journal_signed_with_a_key_the_importer_lacks_is_refused_naming_the_key(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, _app = one_host
    journal, db = rolled_back_with_a_store(tmp_path, spec)
    key_id = journal_lines(journal)[0]["chain"].removeprefix("hmac-sha256:")
    rows = audit_rows(db)

    # The store's key was rotated since, and the journal's key not kept in the old keys.
    refused = stagger_bot(
        "audit", "import", str(journal), cwd=tmp_path, db=db, STAGGER_AUDIT_KEY="7e" * 32
    )

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"line 1: it is signed with audit key {key_id}" in refused.stderr
    assert "STAGGER_AUDIT_OLD_KEYS" in refused.stderr and "nothing imported" in refused.stderr
    assert audit_rows(db) == rows


def test_an_imported_verified_rollback_ends_the_open_phase_as_rolled_back(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    from bot.core.phase_record import Entry
    from bot.store.store import EnvState, Store
    from bot.store.timeline import Timeline
    from tests.support.spec_data import START

    spec, _app = one_host
    db = tmp_path / "stagger.db"
    store = Store(db)  # the bot had prod staggering when its store went down
    Timeline(store).enter(Entry("prod-stagger", "prod", START, "advanced"), None)
    store.set_env_state(EnvState("prod", "prod-stagger", True, START))
    result = stagger_bot(
        "emergency-rollback", "prod", "--reason", "pool at 95%", "--config", str(spec),
        cwd=tmp_path, db=store_down(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    imported = stagger_bot(
        "audit", "import", "stagger-emergency-journal.jsonl", cwd=tmp_path, db=db
    )

    assert imported.returncode == 0, imported.stdout + imported.stderr
    current = Timeline(store).current()
    assert current is not None and current.phase == "rolled back"
    assert current.note == f"emergency rollback outside the bot by {ORIGIN}: pool at 95%"
    [stagger] = [r for r in Timeline(store).history("prod") if r.phase == "prod-stagger"]
    assert stagger.ended_how == "rolled back"
    assert store.env_state("prod").stagger_enabled is False


def test_the_import_leaves_the_state_alone_when_the_bot_moved_the_env_since(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, _app = one_host
    journal, db = rolled_back_with_a_store(tmp_path, spec)
    # The store came back and someone asked for another change before the import.
    asked = stagger_bot(
        "cmd", "--user", "U0OPS1", "rollback prod --reason 'to be sure'", cwd=tmp_path, db=db,
        STAGGER_CONFIG=str(spec),
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    request_id = next(w for w in asked.stdout.split() if re.fullmatch("R[A-Z0-9]{5}", w))

    imported = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=db)

    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert (
        f"the bot's state of prod was left as it is (request {request_id} was made after the "
        "emergency rollback): check `/stagger status prod`"
    ) in imported.stdout
    status = stagger_bot(
        "cmd", "--user", "U0OPS1", "status prod", cwd=tmp_path, db=db, STAGGER_CONFIG=str(spec)
    )
    assert "emergency rollback outside the bot" not in status.stdout


def append_unsigned(journal: Path, action: str, args: dict[str, Any], outcome: str) -> None:
    """What anyone who can write the file, without the audit key, can append: a line
    chained onto the last one with plain SHA-256 (prev_hash is in the file)."""
    from bot.store.audit import row_hash

    prev_hash = journal_lines(journal)[-1]["hash"]
    line: dict[str, Any] = {
        "id": f"forged-{action}", "at": "2026-01-01T00:00:00.000Z", "actor": "U0CTO1",
        "source": "emergency", "action": action, "env": "prod", "args": args,
        "outcome": outcome, "detail": "", "chain": None, "prev_hash": prev_hash,
    }  # fmt: skip
    row = {name: line[name] for name in line if name not in ("args", "prev_hash")}
    row["args"] = json.dumps(args, sort_keys=True, ensure_ascii=False)
    line["hash"] = row_hash(prev_hash, row)
    with journal.open("a", encoding="utf-8") as file:
        file.write(json.dumps(line, ensure_ascii=False) + "\n")


def test_unsigned_lines_appended_to_a_signed_journal_are_refused_by_line_and_nothing_imported(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, _app = one_host
    journal, db = rolled_back_with_a_store(tmp_path, spec)
    signed = len(journal_lines(journal))
    append_unsigned(journal, "rollback.started", {"run": "RFORGED", "reason": "forged"}, "ok")
    append_unsigned(journal, "rollback.finished", {"run": "RFORGED", "hosts": {}}, "failed")
    rows = audit_rows(db)

    refused = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=db)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"line {signed + 1}: it is unsigned, after signed lines" in refused.stderr
    assert "nothing imported" in refused.stderr and "Traceback" not in refused.stderr
    assert audit_rows(db) == rows
    status = stagger_bot(
        "cmd", "--user", "U0OPS1", "status prod", cwd=tmp_path, db=db, STAGGER_CONFIG=str(spec)
    )
    assert "hosts may differ" not in status.stdout and "emergency" not in status.stdout


def test_a_run_without_the_audit_key_is_refused_on_a_signed_journal_before_anything_runs(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, app = one_host
    journal, _db = rolled_back_with_a_store(tmp_path, spec)
    (app / ".env").write_bytes(ENV_FILE)
    before = journal.read_bytes()

    result = stagger_bot(
        "emergency-rollback", "prod", "--reason", "no key here", "--config", str(spec),
        "--journal", str(journal), cwd=tmp_path, db=store_down(tmp_path), key=False,
    )  # fmt: skip

    assert result.returncode == 2, result.stdout + result.stderr
    assert "is signed (STAGGER_AUDIT_KEY was set where it was written)" in result.stderr
    assert "name a new one with --journal" in result.stderr
    assert journal.read_bytes() == before and (app / ".env").read_bytes() == ENV_FILE


KILLED_AFTER_RECORDING = """
import os, sys
import bot.rollout.emergency_import as emergency_import
emergency_import._settle = lambda store, run: os._exit(9)  # killed once the entries are in
from bot.cli import main
sys.argv = ["stagger-bot", "audit", "import", sys.argv[1]]
main()
"""


def test_an_import_killed_after_recording_the_entries_is_settled_by_the_next_import(
    tmp_path: Path, one_host: tuple[Path, Path]
) -> None:
    spec, _app = one_host
    journal, db = rolled_back_with_a_store(tmp_path, spec)
    killed = python(["-c", KILLED_AFTER_RECORDING, str(journal)], cwd=tmp_path, db=db)
    assert killed.returncode == 9, killed.stdout + killed.stderr
    assert [row["source"] for row in audit_rows(db)].count("emergency") == len(
        journal_lines(journal)
    )

    again = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=db)

    assert again.returncode == 0, again.stdout + again.stderr
    assert f"imported 0 entries from {journal}" in again.stdout
    assert "verified on every host; prod set to rolled back" in again.stdout
    assert audit_rows(db)[-1]["action"] == "audit.journal_imported"
    status = stagger_bot(
        "cmd", "--user", "U0OPS1", "status prod", cwd=tmp_path, db=db, STAGGER_CONFIG=str(spec)
    )
    assert f"emergency rollback outside the bot by {ORIGIN}" in status.stdout
    third = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=db)
    assert third.returncode == 0 and "set to rolled back" not in third.stdout
