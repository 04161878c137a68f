"""Adding an emergency journal to the audit trail, and telling the bot's state what the
emergency rollbacks did.

Each journal entry goes through the trail's normal chained `record`, marked as made
outside the bot (source `emergency`, `outside_bot`, the journal entry's id and time in
args; the row's own time is the import's), once: its id is remembered in the same
transaction, so importing a journal again adds nothing.

The env's state is set from each run of the journal whose settlement is not recorded yet
(`emergency-settled:<run>`, remembered in the transaction that writes
`audit.journal_imported`: an import killed after its entries were recorded is settled by
the next one), and only when the bot has not moved the env since the run began (no
request made after it, no phase or state change after it): a verified full rollback
puts the env, and the rollout's open phase, at `rolled back`; a verified per-job one
marks the job rolled back; a failed run, or one cut short (no `rollback.finished`),
marks the flag unknown ("hosts may differ").
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.core.clock import isoformat, parse_iso
from bot.core.errors import UserError
from bot.core.phase_record import ROLLED_BACK, Entry
from bot.rollout.emergency_rollback import FINISHED, STARTED, emergency_note
from bot.store.audit import AuditEntry, AuditTrail
from bot.store.journal import JournalEntry
from bot.store.store import EnvState, Store
from bot.store.timeline import Timeline


@dataclass(frozen=True)
class ImportReport:
    imported: int
    skipped: int
    unsigned: int
    # One line per run imported now: what it did and what became of the env's state.
    runs: tuple[str, ...]


def import_journal(
    store: Store,
    audit: AuditTrail,
    entries: Sequence[JournalEntry],
    now: datetime,
    importer: str,
    journal_name: str,
) -> ImportReport:
    fresh: set[str] = set()
    for line in entries:
        entry = AuditEntry(
            line.actor,
            "emergency",
            line.action,
            line.env,
            {
                **line.args, "outside_bot": True, "journal_entry": line.id,
                "journal_at": line.at, "signed": line.signed,
            },
            line.outcome,
            line.detail,
        )  # fmt: skip
        if audit.record_once(entry, now, f"emergency:{line.id}") is not None:
            fresh.add(line.id)
    unsettled = [run for run in _runs(entries) if not _settled(store, _run_name(run))]
    runs = tuple(_settle(store, run) for run in unsettled)
    report = ImportReport(
        len(fresh), len(entries) - len(fresh), sum(not line.signed for line in entries), runs
    )
    if fresh or unsettled:
        audit.record_marking(
            AuditEntry(
                importer, "cli", "audit.journal_imported", None,
                {"journal": journal_name, "imported": report.imported,
                 "skipped": report.skipped, "origin": importer,
                 "signed": report.unsigned == 0},
                "ok", "; ".join(runs),
            ),
            now,
            [_settled_key(_run_name(run)) for run in unsettled],
        )  # fmt: skip
    return report


def _run_name(run: list[JournalEntry]) -> str:
    return str(run[0].args.get("run", ""))


def _settled_key(run: str) -> str:
    return f"emergency-settled:{run}"


def _settled(store: Store, run: str) -> bool:
    return bool(store.select("seen_requests", "key = ?", [_settled_key(run)]))


def _runs(entries: Sequence[JournalEntry]) -> list[list[JournalEntry]]:
    by_run: dict[str, list[JournalEntry]] = {}
    for line in entries:
        by_run.setdefault(str(line.args.get("run", "")), []).append(line)
    return [run for name, run in by_run.items() if name]


def _settle(store: Store, run: list[JournalEntry]) -> str:
    """Set the env's state from one run, where the bot has not moved on since; say what."""
    started = next((line for line in run if line.action == STARTED), None)
    finished = next((line for line in run if line.action == FINISHED), None)
    if started is None or started.env is None:
        return f"run {run[0].args.get('run')}: no rollback.started in the journal; state untouched"
    env, name = started.env, str(started.args["run"])
    job = started.args.get("job")
    note = emergency_note(started.actor, str(started.args.get("reason", "")))
    what = f"run {name} ({env}{' ' + str(job) if job else ''})"
    since = parse_iso(started.at)
    if finished is None:
        told, trouble = f"{what} has no rollback.finished: it was cut short", "cut short"
    elif finished.outcome != "ok":
        hosts = dict(finished.args.get("hosts", {}))
        failed = ", ".join(host for host, ok in hosts.items() if not ok) or "some hosts"
        told, trouble = f"{what} FAILED on {failed}", f"failed on {failed}"
    else:
        told, trouble = f"{what} verified on every host", ""
    moved = _moved_since(store, env, since)
    if moved:
        return (
            f"{told}; the bot's state of {env} was left as it is ({moved}): check "
            f"`/stagger status {env}`"
        )
    state = store.env_state(env)
    if trouble:
        # As a failed bot rollback leaves it: a failed per-job one says nothing of the flag.
        enabled = state.stagger_enabled if job else None
        marked = replace(
            state, stagger_enabled=enabled, note=f"{note} — {trouble}; hosts may differ"
        )
        store.set_env_state(marked)
        return f"{told}; {env} is marked 'hosts may differ'"
    if job:
        jobs = tuple(sorted({*state.disabled_jobs, str(job)}))
        store.set_env_state(replace(state, disabled_jobs=jobs, note=note))
        return f"{told}; {job} marked rolled back on {env}"
    at = parse_iso(finished.at) if finished else since
    store.set_env_state(EnvState(env, ROLLED_BACK, False, at, state.disabled_jobs, note))
    _abort_rollout(store, env, at, name, note)
    return f"{told}; {env} set to rolled back"


def _moved_since(store: Store, env: str, since: datetime) -> str:
    """What the bot did to `env` after `since`, or '' if nothing."""
    state = store.env_state(env)
    if state.since is not None and state.since > since:
        return f"it changed at {isoformat(state.since)}, after the emergency rollback"
    later = store.select("approvals", "env = ? AND created_at > ?", [env, isoformat(since)])
    if later:
        return f"request {later[0]['id']} was made after the emergency rollback"
    current = Timeline(store).current()
    if current is not None and current.started_at > since:
        return f"phase {current.phase} began after the emergency rollback"
    return ""


def _abort_rollout(store: Store, env: str, at: datetime, run: str, note: str) -> None:
    timeline = Timeline(store)
    current = timeline.current()
    if current is None or current.is_terminal:
        return
    entry = Entry(ROLLED_BACK, env, at, "rolled back", run, (), note=note)
    with contextlib.suppress(UserError):  # the rollout moved meanwhile: that is the truer state
        timeline.enter(entry, current.id)
