"""The test rollout: the example spec's runbook pointed at test hosts, the people in it,
and an app dir as a host holds it."""

from __future__ import annotations

import shlex
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1234-5678-testtokenvalue"
# STAGGER_AUDIT_KEY of every test process: 32 bytes in hex, as README says to make one.
AUDIT_KEY = "5f0c9a4e1d7b3c2a8e6f4d1b9c7a5e3f2d0b8c6a4e2f1d3b5c7a9e0f2d4b6c8a"
OPERATOR, OPERATOR_2, LEAD, LEAD_2, STRANGER = "U0OPS1", "U0OPS2", "U0LEAD1", "U0LEAD2", "U0RANDOM"
START = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)

# Stands in for `pm2 reload`: the app re-reads its env file and logs its stagger state,
# as the runbook's backend does.
RELOAD_SCRIPT = r"""#!/bin/sh
set -e
flag=$(grep -E '^[[:space:]]*JOB_STAGGER_ENABLED=' .env | tail -1 | cut -d= -f2)
ts=$(date -u '+%Y-%m-%d %H:%M:%S.000')
if [ "$flag" = "true" ]; then state="▶️ Job stagger enabled"; else state="⏸️ Job stagger disabled"; fi
echo "$ts info: $state" >> logs/combined.log
"""

ENV_FILE = (
    b"# goalgpt production\n"
    b"NODE_ENV=production\n"
    b"DATABASE_URL=postgres://app:s3cret-pw@db.example.com:5432/goalgpt\n"
    b"JOB_STAGGER_ENABLED=true\n"
    b"JOB_STAGGER_LIVE_STATS_SYNC=1\n"
    b"LOG_LEVEL=info\n"
)


def make_app_dir(
    root: Path, env_file: bytes = ENV_FILE, reload_script: str = RELOAD_SCRIPT
) -> Path:
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / ".env").write_bytes(env_file)
    (root / "logs" / "combined.log").write_text(
        "2026-02-01 11:59:00.000 info: ▶️ Job stagger enabled\n", encoding="utf-8"
    )
    (root / "reload.sh").write_text(reload_script, encoding="utf-8")
    return root


def spec_data(
    hosts: list[str],
    app_dir: Path | str,
    *,
    known_hosts: Path,
    key_file: Path,
    required: int = 1,
    allow_self: bool = False,
    approvers: list[str] | None = None,
    operators: list[str] | None = None,
    verify_timeout_s: float = 5,
    lease_s: float | None = None,
    timezone: str | None = None,
    freeze: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The example spec's runbook, pointed at test hosts. `lease_s`: how soon a dead
    executor's env is free (the spec's default, a minute, where None)."""
    data = tomllib.loads(Path("stagger.example.toml").read_text(encoding="utf-8"))
    if timezone is not None:  # the zone people read times in (log stamps stay UTC)
        data["timezone"] = timezone
    if lease_s is not None:
        data["execution"] = {"lease_s": lease_s}
    if freeze is not None:
        data["freeze"] = freeze
    data["operators"] = [OPERATOR, OPERATOR_2] if operators is None else operators
    data["ssh"] = {
        "key_file": str(key_file),
        "known_hosts": str(known_hosts),
        "connect_timeout_s": 5,
        "command_timeout_s": 10,
    }
    data["flag"]["verify_timeout_s"] = verify_timeout_s
    for env in data["environments"].values():
        env["hosts"] = hosts
        env["app_dir"] = str(app_dir)
        env["reload_command"] = "sh reload.sh"
        env["approvals"] = {
            "approvers": [LEAD, LEAD_2] if approvers is None else approvers,
            "required": required,
            "allow_self": allow_self,
            "expires_after_min": 30,
        }
    return data


def quote(text: str) -> str:
    return shlex.quote(text)
