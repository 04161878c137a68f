"""Owning an execution: the claim that frees or refuses it, the lease kept while it runs,
the owner-checked finish, and the report of one whose owner went away.

Every flag change on an env runs under one claim (`bot.store.executions`): a second
request on a busy env is told at once what is executing, and an owner that died or hangs
frees the env when its lease lapses — timed by the wall clock, whatever clock the rollout
runs on. A request whose lease lapsed is reported interrupted, never re-run.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.approvals import ApprovalRequest, Status
from bot.core.clock import describe_duration
from bot.core.errors import UserError
from bot.core.replies import Reply, Source
from bot.core.time_limits import request_time_limit
from bot.render import blocks
from bot.render.tier_text import needs_retry, progress_text, retry_label
from bot.rollout.context import BotContext
from bot.rollout.request_message import refresh_request_message
from bot.store.audit import AuditEntry
from bot.store.execution_hosts import ExecutionHosts
from bot.store.executions import Execution, ExecutionLease, Executions, StateUpdate

logger = logging.getLogger(__name__)

INTERRUPTED = "its owner stopped renewing its lease while executing it"


def lease_until(context: BotContext, deadline: datetime | None = None) -> datetime:
    until = context.wall_clock.now() + timedelta(seconds=context.spec.execution.lease_s)
    return min(until, deadline) if deadline is not None else until


class EnvBusy(UserError):
    """Another change is executing on the env; `busy` is that execution."""

    def __init__(self, message: str, busy: Execution) -> None:
        super().__init__(message)
        self.busy = busy


def claim_execution(
    context: BotContext,
    request: ApprovalRequest,
    *,
    decided_by: str | None = None,
    decided_at: datetime | None = None,
    from_statuses: tuple[Status, ...] = (Status.PENDING,),
) -> bool:
    """Claim a pending `request` (or a soaking one, as its soak ends) for execution.
    False if it left PENDING meanwhile (another click won); EnvBusy naming what executes
    on the env if it is busy. An execution whose lease lapsed is reported interrupted
    first, and no longer holds the env. The lease is kept from the claim on, so the wait
    before the execution starts (a post, a queue) can't let it lapse."""
    executions = Executions(context.store)
    for _attempt in range(2):
        claim = executions.claim(
            request.id,
            from_statuses,
            lease_until=lease_until(context),
            decided_by=decided_by,
            decided_at=decided_at,
        )
        if claim.claimed:
            _KEEPERS.start(context, request)
            return True
        if claim.busy is None:
            return False
        if not recover_interrupted(context, request.env):
            raise EnvBusy(busy_message(context, claim.busy), claim.busy)
    return False


def busy_message(context: BotContext, busy: Execution) -> str:
    left = ""
    if busy.lease.expires_at is not None:
        remaining = busy.lease.expires_at - context.wall_clock.now()
        wait = (
            describe_duration(remaining)
            if remaining >= timedelta(minutes=1)
            else ("under a minute")
        )
        left = f"; if its process is gone, the env is free in {wait}"
    return (
        f"`{busy.request.id}` ({busy.request.description}) is executing on "
        f"{busy.request.env} right now{left}. Nothing was run for this request; try again "
        "when its result is posted."
    )


class LeaseKeeper:
    """Renews this process's lease on `request_id` from the claim until the execution
    ends, every third of the lease, never past the execution's own time limit: a stuck
    executor's lease lapses too. Renewals run on a thread of their own, so a slow SSH
    command can't starve them. `lost` once the lease is no longer this process's."""

    def __init__(self, context: BotContext, request: ApprovalRequest) -> None:
        self._context = context
        self._request = request
        limit = request_time_limit(context.spec, request)
        self._deadline = context.wall_clock.now() + timedelta(seconds=limit)
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._renew, name=f"lease-{request.id}", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _renew(self) -> None:
        every = max(self._context.spec.execution.lease_s / 3, 0.05)
        executions = Executions(self._context.store)
        while not self._stop.wait(every):
            if self._context.wall_clock.now() >= self._deadline:
                logger.warning(
                    "%s ran past its time limit; its lease is no longer renewed", self._request.id
                )
                return
            try:
                until = lease_until(self._context, self._deadline)
                if not executions.renew(self._request.id, until):
                    self.lost = True
                    return
            except Exception:  # a store hiccup must not end the execution; the next try may pass
                logger.exception("could not renew the lease of %s", self._request.id)


class _Keepers:
    """This process's lease keepers, by request id: started by the claim, stopped when the
    execution ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, LeaseKeeper] = {}

    def start(self, context: BotContext, request: ApprovalRequest) -> None:
        keeper = LeaseKeeper(context, request).start()
        with self._lock:
            previous = self._by_id.pop(request.id, None)
            self._by_id[request.id] = keeper
        if previous is not None:
            previous.stop()

    @contextlib.contextmanager
    def held(self, context: BotContext, request: ApprovalRequest) -> Iterator[LeaseKeeper]:
        """The keeper the claim started (or a new one, for a claim made elsewhere in this
        process), stopped when the block ends."""
        with self._lock:
            keeper = self._by_id.get(request.id)
        if keeper is None:
            keeper = LeaseKeeper(context, request).start()
            with self._lock:
                self._by_id[request.id] = keeper
        try:
            yield keeper
        finally:
            with self._lock:
                if self._by_id.get(request.id) is keeper:
                    del self._by_id[request.id]
            keeper.stop()

    def still_held(self, request_id: str) -> bool:
        """False once this process's keeper of `request_id` found its lease taken."""
        with self._lock:
            keeper = self._by_id.get(request_id)
        return keeper is None or not keeper.lost


_KEEPERS = _Keepers()
held_lease = _KEEPERS.held
still_held = _KEEPERS.still_held


def finish_execution(
    context: BotContext,
    request: ApprovalRequest,
    status: Status,
    outcome: str,
    update_state: StateUpdate | None = None,
) -> bool:
    """Write the outcome (and the env's state) if the request is still this process's;
    otherwise its lease lapsed and it was reported interrupted: say what happened after
    all, in its thread, and leave the env's state to whoever holds it now."""
    if Executions(context.store).finish(request.id, status, outcome, update_state):
        return True
    context.record(
        AuditEntry(
            "bot", "bot", f"{request.action}.finished_late", request.env,
            {"request": request.id}, status.value, outcome,
        )
    )  # fmt: skip
    context.poster.post(
        context.spec.channel,
        f":warning: `{request.id}` ({request.description}) was reported interrupted, but "
        f"its execution went on and ended: {outcome}. Check `/stagger status {request.env}`.",
        thread_ts=request.message_ts,
        broadcast=True,
    )
    return False


def recover_interrupted(context: BotContext, env: str | None = None) -> list[ApprovalRequest]:
    """Executions whose lease lapsed (their process died, in this container or another, or
    hangs) are reported interrupted, never re-run silently; one whose owner still renews
    its lease is left to it."""
    now = context.wall_clock.now()
    executions = Executions(context.store)
    return [
        execution.request
        for execution in executions.running(env)
        if execution.lease.lapsed(now)
        and executions.interrupt_if_lapsed(execution.request.id, now, INTERRUPTED)
        and _report_interrupted(context, execution, "bot", "bot")
    ]


def recover_request(context: BotContext, user: str, source: Source, request_id: str) -> Reply:
    """`/stagger recover <id>`: an operator who knows the owner is gone frees the env now
    instead of at the next sweep — only once the owner's lease has lapsed."""
    request = context.store.request(request_id.strip())
    if request is None:
        raise UserError(f"There is no request `{request_id}`.")
    if request.status is not Status.EXECUTING:
        raise UserError(
            f"`{request.id}` is {request.status.value}, not executing: there is nothing to recover."
        )
    lease = Executions(context.store).lease_of(request.id)
    now = context.wall_clock.now()
    if lease is not None and not lease.lapsed(now):
        assert lease.expires_at is not None
        left = describe_duration(lease.expires_at - now)
        why = (
            f"`{request.id}` is still being executed: its owner ({lease.owner}) holds its "
            f"lease for {left} more. If that process is gone, {request.env} frees itself "
            "when the lease lapses; recover it then."
        )
        context.record(
            AuditEntry(user, source, "recover.refused", request.env,
                       {"request": request.id, "owner": lease.owner}, "refused", why)
        )  # fmt: skip
        raise UserError(why)
    if not Executions(context.store).interrupt_if_lapsed(request.id, now, INTERRUPTED):
        raise UserError(f"`{request.id}` changed meanwhile; look at `/stagger status`.")
    _report_interrupted(
        context, Execution(request, lease or ExecutionLease("", None)), user, source
    )
    return Reply(
        text=f"Recovered `{request.id}`: reported interrupted; {request.env} is free. "
        "Its hosts are not verified: check `/stagger status` and request again if needed."
    )


def _report_interrupted(context: BotContext, execution: Execution, by: str, source: Source) -> bool:
    request = execution.request
    context.record(
        AuditEntry(
            by,
            source,
            f"{request.action}.interrupted",
            request.env,
            {"request": request.id, "owner": execution.lease.owner},
            "failed",
            "its owner stopped renewing its lease during execution; hosts were not verified"
            + (f"; recovered by {by}" if by != "bot" else ""),
        )
    )
    text = (
        f":warning: *{request.description} (`{request.id}`) was interrupted*: "
        "the bot stopped while executing it, so the hosts are not verified. "
        "Check `/stagger status` and request it again if it is still needed."
        + (f" (Recovered by <@{by}>.)" if by != "bot" else "")
    )
    standings = ExecutionHosts(context.store).of(request.id)
    if standings:
        # A crash mid-rollout leaves a mixed fleet: where each host stands, and the retry.
        text = progress_text(text.replace("the hosts are not verified", "the fleet is mixed"),
                             standings)  # fmt: skip
    context.poster.post(
        context.spec.channel,
        text,
        blocks.retry_offer_blocks(text, request.env, request.id, retry_label(standings))
        if needs_retry(standings)
        else None,
        thread_ts=request.message_ts,
        broadcast=True,
    )
    refresh_request_message(
        context, replace(request, status=Status.INTERRUPTED), "Interrupted; not verified."
    )
    return True
