"""The rollback for when the store (or the bot) is down: the same verified flag change a
bot rollback makes, on every host of the env at once, run by whoever is at the shell.

No store, no Slack: its audit entries go to a local journal (bot.store.journal), each
written before the step it names runs (an entry for the run, one before each host's env
file is written) or right after (each SSH command, the outcome), so a run cut short
leaves a true record. `stagger-bot audit import` adds them to the trail later.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from bot.core.changes import ChangeOutcome, FlagChange, Timeouts, rollback_change
from bot.core.clock import Clock
from bot.core.errors import RemoteError
from bot.core.ports import CommandResult, Transport
from bot.core.spec import Spec
from bot.hosts.flag_change import apply_everywhere
from bot.rollout.request_change import ssh_args, ssh_outcome
from bot.store.audit import AuditEntry
from bot.store.journal import JournalWriter

STARTED, WRITING, FINISHED = "rollback.started", "rollback.writing", "rollback.finished"


@dataclass(frozen=True)
class EmergencyOutcome:
    run: str
    change: FlagChange
    outcome: ChangeOutcome
    # Entries the journal could not take after their step had run (the disk refused).
    unjournaled: tuple[str, ...] = field(default=())


def emergency_note(origin: str, reason: str) -> str:
    return f"emergency rollback outside the bot by {origin}: {reason}"


class EmergencyRollback:
    def __init__(
        self, spec: Spec, transport: Transport, journal: JournalWriter, clock: Clock, origin: str
    ) -> None:
        self.spec = spec
        self.transport = transport
        self.journal = journal
        self.clock = clock
        self.origin = origin
        self._lost: list[str] = []
        self._lost_lock = threading.Lock()

    def run(self, env: str, job_key: str | None, reason: str) -> EmergencyOutcome:
        """Raises OSError if the journal can't take the run's first entry: then nothing ran."""
        environment = self.spec.environments[env]
        change = rollback_change(self.spec.flag, job_key)
        run = "E" + uuid.uuid4().hex[:10].upper()
        tie: dict[str, Any] = {"run": run, **({"job": job_key} if job_key else {})}
        self._write(
            STARTED, env,
            {**tie, "key": change.key, "value": change.value, "reason": reason,
             "hosts": [str(host) for host in environment.host_addresses]},
            "ok", emergency_note(self.origin, reason),
        )  # fmt: skip
        env_files = {
            str(host): environment.env_file_on(host) for host in environment.host_addresses
        }

        def before_write(host: str) -> None:
            try:
                self._write(
                    WRITING, env, {**tie, "host": host, "env_file": env_files[host]}, "ok",
                    f"about to write {env_files[host]} on {host}",
                )  # fmt: skip
            except OSError as error:
                raise RemoteError(
                    host, f"not written: the journal could not record it ({error.strerror})"
                ) from None

        def observe(result: CommandResult) -> None:
            try:
                self._write("ssh", env, {**tie, **ssh_args(result)}, ssh_outcome(result))
            except OSError:
                with self._lost_lock:
                    self._lost.append(f"ssh on {result.host}")

        now = self.clock.now()
        outcome = apply_everywhere(
            environment,
            change,
            self.transport,
            timeouts=Timeouts(self.spec.ssh.command_timeout_s, self.spec.flag.verify_timeout_s),
            stamp=now.strftime("%Y%m%dT%H%M%SZ"),
            observe=observe,
            before_write=before_write,
        )
        try:
            self._write(
                FINISHED, env,
                {**tie, "hosts": {host.host: host.verified for host in outcome.hosts}},
                "ok" if outcome.verified else "failed",
                "; ".join(f"{host.host}: {host.detail}" for host in outcome.hosts),
            )  # fmt: skip
        except OSError:
            self._lost.append(FINISHED)
        return EmergencyOutcome(run, change, outcome, tuple(self._lost))

    def _write(
        self, action: str, env: str, args: dict[str, Any], outcome: str, detail: str = ""
    ) -> None:
        entry = AuditEntry(
            self.origin,
            "emergency",
            action,
            env,
            {**args, "origin": self.origin, "outside_bot": True},
            outcome,
            detail,
        )
        self.journal.append(entry, self.clock.now())
