"""A throwaway PostgreSQL cluster that demands a password, for the one fault the
machine's own server (trust auth) cannot show: a wrong password.

initdb in a temporary folder, scram-sha-256 auth, a loopback port and its own socket
folder; stopped and removed at teardown. The machine's cluster is untouched. PostgreSQL
refuses to run as root, so as root it runs as the `postgres` user.

Fixture: `password_postgres` (session), the DSN parts of that server.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ssh_fixtures import free_port

PASSWORD = "right-horse-battery"


@dataclass(frozen=True)
class PasswordPostgres:
    port: int
    user: str = "postgres"

    def dsn(self, password: str) -> str:
        return f"postgresql://{self.user}:{password}@127.0.0.1:{self.port}/postgres"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed (see .ci/run)")
    return found[-1]


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def password_postgres() -> Iterator[PasswordPostgres]:
    folder = Path(tempfile.mkdtemp(prefix="stagger-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    password_file = folder / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(password_file, "postgres")
    data = folder / "data"
    subprocess.run(
        _as_server_user(
            [_bin("initdb"), "-D", str(data), "-A", "scram-sha-256", "-U", "postgres",
             f"--pwfile={password_file}"]
        ),
        check=True, capture_output=True,
    )  # fmt: skip
    pg_ctl = _as_server_user([_bin("pg_ctl"), "-D", str(data), "-l", str(folder / "log")])
    for _attempt in range(3):  # another process may take the free port before it binds
        port = free_port()
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        started = subprocess.run([*pg_ctl, "-w", "-o", options, "start"], capture_output=True)
        if started.returncode == 0:
            break
    else:
        log = (folder / "log").read_text(errors="replace")[-2000:]
        pytest.fail(f"the throwaway PostgreSQL did not start: {log}")
    try:
        yield PasswordPostgres(port)
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
