"""Requesting, approving, denying and executing actions (this issue: rollback).

The approval policy is read from the spec at click time, so an approver list edited
while a request is pending is honoured. Every request, refusal, decision, SSH command
and result goes to the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from bot import blocks
from bot.approvals import (
    ApprovalRequest,
    Approve,
    Refuse,
    Status,
    decide_approval,
    decide_denial,
    expiry,
    may_request,
    new_request_id,
)
from bot.audit import AuditEntry
from bot.clock import isoformat
from bot.context import BotContext
from bot.errors import NotAllowed, UserError
from bot.flag_change import ChangeOutcome, FlagChange, Timeouts, apply_everywhere
from bot.remote import CommandResult
from bot.replies import Reply, Source
from bot.store import EnvState

logger = logging.getLogger(__name__)


class Actions:
    def __init__(self, context: BotContext) -> None:
        self.context = context

    # -- requesting ----------------------------------------------------------------------

    def request_rollback(
        self, user: str, source: Source, env: str, job: str | None, reason: str
    ) -> Reply:
        context = self.context
        spec = context.spec
        environment = spec.environment(env)
        assert environment is not None  # the command validated the name
        arguments = {"job": job} if job else {}
        if not may_request(spec, env, user):
            context.record(
                AuditEntry(
                    user, source, "rollback.refused", env, arguments, "refused", "not an operator"
                )
            )
            raise NotAllowed(
                f"<@{user}> is not an operator; ask one of the operators to request it."
            )
        for open_request in context.store.open_requests(env):
            if open_request.action == "rollback" and open_request.args == arguments:
                context.record(
                    AuditEntry(
                        user,
                        source,
                        "rollback.refused",
                        env,
                        arguments,
                        "refused",
                        f"{open_request.id} already {open_request.status.value}",
                    )
                )
                raise UserError(
                    f"A rollback of {open_request.target} is already "
                    f"{open_request.status.value} as `{open_request.id}`."
                )
        now = context.clock.now()
        policy = environment.approvals
        request = ApprovalRequest(
            id=new_request_id(),
            action="rollback",
            env=env,
            args=arguments,
            requester=user,
            reason=reason,
            created_at=now,
            expires_at=expiry(policy, now),
            required=policy.required,
        )
        context.store.add_request(request)
        context.record(
            AuditEntry(
                user,
                source,
                "rollback.requested",
                env,
                {**arguments, "request": request.id},
                "pending",
                reason,
            )
        )
        if policy.required == 0:
            return self._start_without_approval(request, source)
        return Reply(
            text=(
                f"Rollback request `{request.id}` for {request.target} "
                f"posted in <#{spec.channel}>; "
                f"it needs {policy.required} approval(s) from "
                + ", ".join(f"<@{approver}>" for approver in policy.approvers)
                + f" within {policy.expires_after_min} min."
            ),
            followups=(lambda: self._post_request(request),),
        )

    def _post_request(self, request: ApprovalRequest) -> None:
        channel = self.context.spec.channel
        ts = self.context.poster.post(
            channel,
            f"Approval needed: {request.description} ({request.id})",
            blocks.approval_request_blocks(request),
        )
        if ts is None:
            self.context.record(
                AuditEntry(
                    "bot",
                    "bot",
                    "slack.post_failed",
                    request.env,
                    {"request": request.id},
                    "failed",
                    "the approval request could not be posted",
                )
            )
            return
        self.context.store.set_message(request.id, channel, ts)

    def _start_without_approval(self, request: ApprovalRequest, source: Source) -> Reply:
        claimed = self.context.store.transition(
            request.id,
            (Status.PENDING,),
            Status.EXECUTING,
            decided_by="policy",
            decided_at=self.context.clock.now(),
        )
        if not claimed:
            raise UserError(f"Request `{request.id}` was already taken.")
        self.context.record(
            AuditEntry(
                "bot",
                source,
                "rollback.approved",
                request.env,
                {"request": request.id},
                "ok",
                "no approval required for this environment",
            )
        )
        executing = replace(request, status=Status.EXECUTING)

        def post_and_execute() -> None:
            self._post_request_executing(executing)
            self.execute(request.id)

        return Reply(
            text=f"Rolling back {request.target} now (`{request.id}`, no approval required).",
            followups=(post_and_execute,),
        )

    def _post_request_executing(self, request: ApprovalRequest) -> None:
        channel = self.context.spec.channel
        ts = self.context.poster.post(
            channel,
            f"Executing {request.description} ({request.id})",
            blocks.closed_request_blocks(request, "Executing now."),
        )
        if ts:
            self.context.store.set_message(request.id, channel, ts)

    # -- deciding ------------------------------------------------------------------------

    def approve(self, request_id: str, user: str, source: Source) -> Reply:
        context = self.context
        request = self._find(request_id)
        environment = context.spec.environment(request.env)
        if environment is None:
            raise UserError(f"Environment {request.env} is no longer in the spec; nothing was run.")
        now = context.clock.now()
        decision = decide_approval(request, environment.approvals, user, now)
        if isinstance(decision, Refuse):
            context.record(
                AuditEntry(
                    user,
                    source,
                    "approve.refused",
                    request.env,
                    {"request": request.id},
                    "refused",
                    decision.reason,
                )
            )
            if decision.expired:
                self.expire(request, now)
            raise NotAllowed(decision.reason)
        assert isinstance(decision, Approve)
        if not context.store.record_approval(request, decision.approved_by):
            raise UserError(f"Request `{request.id}` changed while you clicked; look again.")
        context.record(
            AuditEntry(
                user,
                source,
                "approve",
                request.env,
                {"request": request.id},
                "ok",
                f"{len(decision.approved_by)}/{request.required}",
            )
        )
        updated = replace(request, approved_by=decision.approved_by)
        if not decision.complete:
            self._refresh_message(updated)
            return Reply(
                text=f"Approval recorded for `{request.id}` "
                f"({len(decision.approved_by)}/{request.required}).",
            )
        if not context.store.transition(
            request.id, (Status.PENDING,), Status.EXECUTING, decided_by=user, decided_at=now
        ):
            raise UserError(f"Request `{request.id}` is already being handled.")
        executing = replace(updated, status=Status.EXECUTING, decided_by=user)
        self._refresh_message(executing, f"Approved by <@{user}>; executing.")
        return Reply(
            text=f"Approved `{request.id}`; executing {request.description} now.",
            followups=(lambda: self._execute_quietly(request.id),),
        )

    def deny(self, request_id: str, user: str, source: Source, reason: str) -> Reply:
        context = self.context
        request = self._find(request_id)
        environment = context.spec.environment(request.env)
        policy = environment.approvals if environment else None
        now = context.clock.now()
        decision = (
            decide_denial(request, policy, user, now) if policy else Refuse("unknown environment")
        )
        if isinstance(decision, Refuse):
            context.record(
                AuditEntry(
                    user,
                    source,
                    "deny.refused",
                    request.env,
                    {"request": request.id},
                    "refused",
                    decision.reason,
                )
            )
            if decision.expired:
                self.expire(request, now)
            raise NotAllowed(decision.reason)
        if not context.store.transition(
            request.id,
            (Status.PENDING,),
            Status.DENIED,
            decided_by=user,
            decided_at=now,
            outcome=reason,
        ):
            raise UserError(f"Request `{request.id}` is already being handled.")
        context.record(
            AuditEntry(user, source, "deny", request.env, {"request": request.id}, "denied", reason)
        )
        denied = replace(request, status=Status.DENIED, decided_by=user)
        note = f"Denied by <@{user}>" + (f": {reason}" if reason else "") + ". Nothing was run."
        self._refresh_message(denied, note)
        return Reply(text=f"Denied `{request.id}`; nothing was run.")

    def expire(self, request: ApprovalRequest, now: datetime) -> bool:
        if not self.context.store.transition(
            request.id, (Status.PENDING,), Status.EXPIRED, decided_at=now
        ):
            return False
        self.context.record(
            AuditEntry(
                "bot",
                "scheduler",
                "expire",
                request.env,
                {"request": request.id},
                "expired",
                f"not approved by {isoformat(request.expires_at)}",
            )
        )
        self._refresh_message(
            replace(request, status=Status.EXPIRED),
            "Expired before it was approved. Nothing was run.",
        )
        return True

    def _find(self, request_id: str) -> ApprovalRequest:
        request = self.context.store.request(request_id.strip())
        if request is None:
            raise UserError(f"There is no request `{request_id}`.")
        return request

    def _refresh_message(self, request: ApprovalRequest, note: str | None = None) -> None:
        if not request.channel or not request.message_ts:
            return
        payload = (
            blocks.approval_request_blocks(request)
            if request.status is Status.PENDING
            else blocks.closed_request_blocks(request, note or request.status.value)
        )
        self.context.poster.update(
            request.channel,
            request.message_ts,
            f"{request.description}: {request.status.value}",
            payload,
        )

    # -- executing -----------------------------------------------------------------------

    def _execute_quietly(self, request_id: str) -> None:
        self.execute(request_id)

    def execute(self, request_id: str) -> ChangeOutcome | None:
        """Run a claimed (EXECUTING) request on every host and report the result."""
        context = self.context
        request = context.store.request(request_id)
        if request is None or request.status is not Status.EXECUTING:
            return None
        environment = context.spec.environment(request.env)
        if environment is None:
            self._finish(request, None, "the environment is no longer in the spec")
            return None
        flag = context.spec.flag
        job_key = request.args.get("job")
        change = (
            FlagChange(flag.job_prefix + job_key, "0", flag.reloaded_line)
            if job_key
            else FlagChange(flag.name, "false", flag.disabled_line)
        )
        thread = request.message_ts
        context.poster.post(
            context.spec.channel,
            f":gear: Rolling back {request.target} on {len(environment.hosts)} host(s): "
            f"setting `{change.key}={change.value}`, reloading, waiting for "
            f"'{change.confirm_line}'.",
            thread_ts=thread,
        )
        context.record(
            AuditEntry(
                "bot",
                "bot",
                "rollback.started",
                request.env,
                {"request": request.id, "key": change.key, "value": change.value},
                "ok",
                f"approved by {', '.join(request.approved_by) or 'policy'}",
            )
        )

        def observe(result: CommandResult) -> None:
            context.record(
                AuditEntry(
                    "bot",
                    "bot",
                    "ssh",
                    request.env,
                    {
                        "request": request.id,
                        "host": result.host,
                        "command": result.command,
                        "exit_status": result.exit_status,
                        "duration_s": round(result.duration_s, 3),
                    },
                    "ok" if result.ok else ("timeout" if result.timed_out else "failed"),
                )
            )

        outcome = apply_everywhere(
            environment,
            change,
            context.transport,
            timeouts=Timeouts(context.spec.ssh.command_timeout_s, flag.verify_timeout_s),
            stamp=context.clock.now().strftime("%Y%m%dT%H%M%SZ"),
            observe=observe,
        )
        self._finish(request, outcome)
        return outcome

    def _finish(
        self, request: ApprovalRequest, outcome: ChangeOutcome | None, why: str = ""
    ) -> None:
        context = self.context
        now = context.clock.now()
        verified = outcome is not None and outcome.verified
        summary = (
            f"verified on all {len(outcome.hosts)} host(s)"
            if outcome and verified
            else f"FAILED on {len(outcome.failed_hosts)} of {len(outcome.hosts)} host(s)"
            if outcome
            else f"FAILED: {why}"
        )
        status = Status.SUCCEEDED if verified else Status.FAILED
        context.store.transition(request.id, (Status.EXECUTING,), status, outcome=summary)
        self._update_state(request, outcome, now)
        context.record(
            AuditEntry(
                "bot",
                "bot",
                "rollback.finished",
                request.env,
                {
                    "request": request.id,
                    "hosts": {host.host: host.verified for host in outcome.hosts}
                    if outcome
                    else {},
                },
                "ok" if verified else "failed",
                "; ".join(f"{host.host}: {host.detail}" for host in outcome.hosts)
                if outcome
                else why,
            )
        )
        title = (
            f":white_check_mark: Rollback of {request.target} {summary}."
            if verified
            else f":x: *Rollback of {request.target} {summary}.* "
            "The hosts below are not confirmed rolled back — act now."
        )
        text = blocks.outcome_text(title, outcome) if outcome else title
        context.poster.post(
            context.spec.channel, text, thread_ts=request.message_ts, broadcast=not verified
        )
        self._refresh_message(replace(request, status=status), f"Rollback {summary}.")

    def _update_state(
        self, request: ApprovalRequest, outcome: ChangeOutcome | None, now: datetime
    ) -> None:
        store = self.context.store
        state = store.env_state(request.env)
        job_key = request.args.get("job")
        if outcome is None:
            return
        if not outcome.verified:
            failed = ", ".join(host.host for host in outcome.failed_hosts)
            store.set_env_state(
                replace(
                    state,
                    stagger_enabled=None if not job_key else state.stagger_enabled,
                    note=f"rollback {request.id} failed on {failed}; hosts may differ",
                )
            )
            return
        if job_key:
            jobs = tuple(sorted({*state.disabled_jobs, job_key}))
            store.set_env_state(
                replace(state, disabled_jobs=jobs, note=f"{job_key} rolled back by {request.id}")
            )
        else:
            store.set_env_state(
                EnvState(
                    env=request.env,
                    phase="rolled back",
                    stagger_enabled=False,
                    since=now,
                    disabled_jobs=state.disabled_jobs,
                    note=f"{request.id}: {request.reason}" if request.reason else request.id,
                )
            )

    def recover_interrupted(self) -> list[ApprovalRequest]:
        """At start: requests left EXECUTING by a crash are reported, never re-run silently."""
        interrupted = []
        for request in self.context.store.requests_in(Status.EXECUTING):
            if not self.context.store.transition(
                request.id,
                (Status.EXECUTING,),
                Status.INTERRUPTED,
                outcome="the bot stopped while executing it",
            ):
                continue
            self.context.record(
                AuditEntry(
                    "bot",
                    "bot",
                    "rollback.interrupted",
                    request.env,
                    {"request": request.id},
                    "failed",
                    "the bot stopped during execution; hosts were not verified",
                )
            )
            self.context.poster.post(
                self.context.spec.channel,
                f":warning: *{request.description} (`{request.id}`) was interrupted*: "
                "the bot stopped while executing it, so the hosts are not verified. "
                "Check `/stagger status` and request it again if it is still needed.",
                thread_ts=request.message_ts,
                broadcast=True,
            )
            self._refresh_message(
                replace(request, status=Status.INTERRUPTED), "Interrupted; not verified."
            )
            interrupted.append(request)
        return interrupted
