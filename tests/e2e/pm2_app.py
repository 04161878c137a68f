"""The runbook's backend (tests/e2e/app: a Node.js app with winston, pg and dotenv) run
under real pm2, in an app folder of its own with a pm2 daemon of its own (`PM2_HOME`).

Where node or the app's npm packages are missing, `require_pm2` skips with the reason;
with `STAGGER_REQUIRE_PM2=1` (set by `.ci/run`) it fails instead, so CI always runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.bot_process import wait_until
from tests.support.job_table import DSN

APP_SOURCE = Path(__file__).parent / "app"
NODE_MODULES = APP_SOURCE / "node_modules"
PACKAGES = ("pm2", "winston", "pg", "dotenv")
PM2_MIN_NODE = 18  # pm2's `engines`
REQUIRE = "STAGGER_REQUIRE_PM2"
INSTALL = "npm ci --prefix tests/e2e/app"

# pm2 phones home twice: the daemon's daily version check (off with
# PM2_DISABLE_VERSION_CHECK) and the CLI's first run in a PM2_HOME (a request and a banner,
# skipped in discrete mode, which marks the PM2_HOME as set up).
PM2_QUIET = {"PM2_DISABLE_VERSION_CHECK": "1", "PM2_DISCRETE_MODE": "true"}

ENV_FILE = (
    "# goalgpt production\n"
    "NODE_ENV=production\n"
    f"DATABASE_URL={DSN}\n"
    "JOB_STAGGER_ENABLED=true\n"
    "JOB_STAGGER_LIVE_STATS_SYNC=1\n"
    "LOG_LEVEL=info\n"
)
CYCLE_S = 4  # the app's minute (server.js): the runbook's :15 offsets are its seconds
# A line's second within its minute: 60 is a multiple of the cycle, so it tells the cycle's.
_SECOND = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:(\d{2})")


def _missing() -> str | None:
    node = shutil.which("node")
    if node is None:
        return "node is not installed (the test against real pm2 needs Node.js 18 or later)"
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout.strip()
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major[1]) < PM2_MIN_NODE:
        return f"node {version or '(no version)'} is older than pm2 needs ({PM2_MIN_NODE})"
    absent = [name for name in PACKAGES if not (NODE_MODULES / name / "package.json").is_file()]
    if absent:
        return f"{', '.join(absent)} not installed in tests/e2e/app: run `{INSTALL}`"
    return None


def require_pm2() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class LogLine:
    second: int  # of the app's clock, 0-59
    text: str


class Pm2App:
    """The app in `folder` (as on a host: ecosystem.config.js, .env, logs/) under its own
    pm2 daemon, whose home is short: pm2's sockets live there, and a socket's path may
    not be longer than 107 bytes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True)
        for name in ("server.js", "ecosystem.config.js", "package.json"):
            shutil.copy(APP_SOURCE / name, folder / name)
        (folder / "node_modules").symlink_to(NODE_MODULES)
        (folder / "logs").mkdir()
        (folder / ".env").write_text(ENV_FILE, encoding="utf-8")
        self.log = folder / "logs" / "combined.log"
        self.home = Path(tempfile.mkdtemp(prefix="stagger-pm2-"))
        # A server's login environment, not the tests': nothing of it reaches the app.
        (folder.parent / "home").mkdir(exist_ok=True)
        self._environment = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(folder.parent / "home"),
            "PM2_HOME": str(self.home),
            **PM2_QUIET,
        }

    def pm2_command(self, *arguments: str) -> str:
        """A pm2 command for the spec's `reload_command`, run on the host in the app folder:
        the SSH session's environment is minimal, so pm2's own settings travel in it."""
        settings = " ".join(
            f"{name}={shlex.quote(value)}"
            for name, value in {"PM2_HOME": str(self.home), **PM2_QUIET}.items()
        )
        return f"{settings} node_modules/.bin/pm2 {shlex.join(arguments)}"

    def start(self) -> int:
        """Starts the app under a new daemon; its pid, once the app said its stagger state."""
        self.pm2("start", "ecosystem.config.js")
        pid = self.pid()
        wait_until(
            lambda: any(f"(pid {pid})" in line.text for line in self.lines_after(0)),
            what="the app's first stagger line",
        )
        return pid

    def pm2(self, *arguments: str) -> str:
        result = subprocess.run(
            ["node_modules/.bin/pm2", *arguments],
            cwd=self.folder,
            env=self._environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise AssertionError(f"pm2 {' '.join(arguments)}: {result.stdout}{result.stderr}")
        return result.stdout

    def pid(self) -> int:
        """The app's pid as pm2 reports it; the app must be online."""
        apps = [app for app in json.loads(self.pm2("jlist")) if app["name"] == "goalgpt"]
        assert len(apps) == 1, apps
        assert apps[0]["pm2_env"]["status"] == "online", apps[0]["pm2_env"]["status"]
        return int(apps[0]["pid"])

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def lines_after(self, offset: int) -> list[LogLine]:
        """The log's whole lines written after byte `offset` (winston makes the file)."""
        if not self.log.exists():
            return []
        with self.log.open("rb") as log:
            log.seek(offset)
            data = log.read()
        whole = data[: data.rfind(b"\n") + 1].decode("utf-8")
        return [
            LogLine(int(stamp[1]) if (stamp := _SECOND.match(line)) else -1, line)
            for line in whole.splitlines()
        ]

    def stop(self) -> None:
        """Stops the app and the daemon; where `pm2 kill` fails, kills them by their pids."""
        try:
            self.pm2("kill")
        except (AssertionError, subprocess.TimeoutExpired):
            for pid_file in [*self.home.glob("pids/*.pid"), self.home / "pm2.pid"]:
                with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)
        shutil.rmtree(self.home, ignore_errors=True)
