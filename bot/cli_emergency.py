"""`stagger-bot emergency-rollback` and `stagger-bot audit import`: the rollback that needs
no store and no bot, and adding its journal to the trail once the store is back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.core.audit_key import AuditKeys
from bot.core.clock import SystemClock
from bot.core.errors import SpecError
from bot.core.spec import Spec, load_spec
from bot.core.spec_fields import nearest_or_known
from bot.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
DEFAULT_JOURNAL = Path("stagger-emergency-journal.jsonl")
NAME = "emergency-rollback"


def add_emergency_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    emergency = commands.add_parser(
        NAME,
        help="Roll back on every host of an env over SSH with no store and no bot (only the "
        "spec, the SSH key and known_hosts); the audit entries go to a local journal.",
    )
    emergency.add_argument("env", help="Environment name from the spec, e.g. prod.")
    emergency.add_argument("job", nargs="?", help="Roll back only this job (its offset to 0).")
    emergency.add_argument("--reason", help="Why (required): it goes in the audit trail.")
    emergency.add_argument(
        "--config", type=Path, help="The rollout spec (default: $STAGGER_CONFIG or stagger.toml)."
    )
    emergency.add_argument(
        "--journal",
        type=Path,
        help=f"The journal file to append to (default: ./{DEFAULT_JOURNAL}).",
    )


def add_import_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imported = actions.add_parser(
        "import",
        help="Add an emergency-rollback journal to the trail (its chain checked first), "
        "marked as made outside the bot; entries already imported are skipped.",
    )
    imported.add_argument("journal", type=Path, help="The journal file emergency-rollback wrote.")


def _refuse(message: str) -> int:
    print(f"stagger-bot: {NAME}: {message}", file=sys.stderr)
    return EXIT_CONFIG


def emergency_rollback(arguments: argparse.Namespace, settings: Settings, origin: str) -> int:
    from bot.core.errors import ConfigError
    from bot.hosts.ssh import SshTransport
    from bot.rollout.emergency_rollback import EmergencyRollback
    from bot.runtime import secrets_of
    from bot.store.journal import JournalError, JournalWriter

    reason = " ".join((arguments.reason or "").split())
    if not reason:
        return _refuse("give --reason TEXT: why, for the audit trail")
    try:
        spec = load_spec(arguments.config or settings.config_path)
    except SpecError as error:
        return _refuse(str(error))
    if spec.environment(arguments.env) is None:
        known = nearest_or_known(arguments.env, list(spec.environments))
        return _refuse(f"unknown environment {arguments.env!r}{known}")
    job_key = None
    if arguments.job is not None:
        job = spec.job(arguments.job)
        if job is None:
            known = nearest_or_known(arguments.job, [job.key for job in spec.jobs])
            return _refuse(f"unknown job {arguments.job!r}{known}")
        job_key = job.key
    try:
        keys: AuditKeys | None = settings.audit_keys() if settings.audit_key else None
    except ConfigError as error:
        return _refuse(f"{error} (or unset it to journal unsigned)")
    journal_path = arguments.journal or DEFAULT_JOURNAL
    try:
        journal = JournalWriter(journal_path, keys, secrets_of(settings))
    except JournalError as error:
        return _refuse(str(error))
    transport = SshTransport(
        spec.ssh.key_path, spec.ssh.known_hosts_path, connect_timeout=spec.ssh.connect_timeout_s
    )
    rollback = EmergencyRollback(spec, transport, journal, SystemClock(), origin)
    hosts = spec.environments[arguments.env].host_addresses
    _say_what_runs(spec, arguments.env, job_key, len(hosts))
    try:
        result = rollback.run(arguments.env, job_key, reason)
    except OSError as error:
        return _refuse(
            f"cannot write the journal {journal_path}: {error.strerror}; nothing was changed. "
            "Name another with --journal"
        )
    finally:
        journal.close()
    for host in result.outcome.hosts:
        mark = "ok    " if host.verified else "FAILED"
        backup = f" (backup: {host.backup})" if host.backup and not host.verified else ""
        print(f"  {mark} {host.host}: {host.detail}{backup}")
    outcome = result.outcome
    if outcome.verified:
        print(f"Rolled back {arguments.env}: verified on all {len(outcome.hosts)} host(s).")
    else:
        failed = ", ".join(host.host for host in outcome.failed_hosts)
        print(
            f"FAILED on {len(outcome.failed_hosts)} of {len(outcome.hosts)} host(s): {failed}. "
            "Those hosts are not confirmed rolled back: fix what each line above names "
            "(reach the host, its env file, its reload), then run this again — it writes "
            "the same value, so the hosts already rolled back are unharmed."
        )
    if result.unjournaled:
        print(
            f"warning: the journal could not take {_entries(len(result.unjournaled))} "
            f"({', '.join(result.unjournaled)}): the disk refused; note what ran above",
            file=sys.stderr,
        )
    print(
        f"Journal: {journal_path} (run {result.run}). When the bot's store is back, add it "
        f"to the audit trail: stagger-bot audit import {journal_path}"
    )
    return EXIT_OK if outcome.verified and not result.unjournaled else EXIT_FAILED


def _say_what_runs(spec: Spec, env: str, job_key: str | None, hosts: int) -> None:
    from bot.core.changes import rollback_change

    change = rollback_change(spec.flag, job_key)
    print(
        f"Emergency rollback of {env}{' ' + job_key if job_key else ''} on {hosts} host(s), "
        f"outside the bot: setting {change.key}={change.value}, reloading, waiting for "
        f"'{change.confirm_line}'."
    )


def audit_import(arguments: argparse.Namespace, settings: Settings, origin: str) -> int:
    from bot.rollout.emergency_import import import_journal
    from bot.runtime import secrets_of
    from bot.store.audit import AuditTrail
    from bot.store.journal import JournalBroken, JournalError, read_journal
    from bot.store.store import Store

    keys = settings.audit_keys()
    try:
        entries = read_journal(arguments.journal, keys)
    except JournalBroken as error:
        print(f"stagger-bot: audit import: {error}; nothing imported", file=sys.stderr)
        return EXIT_FAILED
    except JournalError as error:
        print(f"stagger-bot: audit import: {error}", file=sys.stderr)
        return EXIT_CONFIG
    store = Store(settings.store_location(), busy_timeout_s=settings.db_busy_timeout_s)
    audit = AuditTrail(store, secrets_of(settings), keys)
    report = import_journal(
        store, audit, entries, SystemClock().now(), origin, str(arguments.journal)
    )
    print(
        f"imported {_entries(report.imported)} from {arguments.journal}, marked as made "
        f"outside the bot; {report.skipped} already in the trail, skipped"
    )
    for run in report.runs:
        print(f"  {run}")
    if report.unsigned:
        print(
            f"note: {_entries(report.unsigned)} unsigned (STAGGER_AUDIT_KEY was not set "
            "where the journal was written), imported marked so (signed: false): their "
            "chain shows they were not cut or edited by accident, not who wrote them",
            file=sys.stderr,
        )
    return EXIT_OK


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"
