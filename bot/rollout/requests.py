"""Requesting actions: a person's rollback, the bot's own (a failed validation, a fired
trigger), and posting each for approval — or claiming it at once where no approval is
needed. Every request and refusal goes to the audit trail."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import NoReturn

from bot.core.approvals import (
    ApprovalRequest,
    Status,
    expiry,
    may_request,
    new_request_id,
    required_approvals,
    unsatisfiable,
)
from bot.core.errors import NotAllowed, UserError
from bot.core.replies import Reply, Source
from bot.core.time_limits import request_time_limit
from bot.render import blocks
from bot.rollout.context import BotContext
from bot.rollout.execution import execute_request
from bot.rollout.execution_lease import (
    EnvBusy,
    claim_execution,
    recover_interrupted,
)
from bot.rollout.orphaned_rollback import WAITER_POLL_S, taken_by_scheduler, waiter
from bot.rollout.plan_pinning import with_plan
from bot.rollout.request_message import refresh_request_message
from bot.store.audit import AuditEntry

_BUSY_POLL_S = WAITER_POLL_S


class Requests:
    def __init__(self, context: BotContext) -> None:
        self.context = context

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
        # An execution whose owner went away no longer holds the env: reported first.
        recover_interrupted(context, env)
        for open_request in context.store.open_requests(env):
            if open_request.action == "rollback" and open_request.args.get("job") == job:
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
        from_cli = source == "cli"
        problem = unsatisfiable(policy, user, from_cli=from_cli) if policy.required else None
        if problem is not None:
            context.record(
                AuditEntry(user, source, "rollback.refused", env, arguments, "refused", problem)
            )
            raise UserError(
                f"A rollback of {env} requested by <@{user}> could never be approved: "
                f"{problem}. Nothing was requested; ask another operator to request it."
            )
        request = ApprovalRequest(
            id=new_request_id(),
            action="rollback",
            env=env,
            args={**arguments, "via": "cli"} if from_cli else arguments,
            requester=user,
            reason=reason,
            created_at=now,
            expires_at=expiry(policy, now),
            required=policy.required,
        )
        request = replace(request, required=required_approvals(policy, request))
        return self.submit(request, source)

    def propose_rollback(self, env: str, reason: str, *, auto: bool) -> Reply:
        """The bot's own rollback request (a failed validation or a fired trigger): posted
        for the approvers, or run at once where the env sets `auto_rollback`."""
        recover_interrupted(self.context, env)
        open_rollbacks = [
            request
            for request in self.context.store.open_requests(env)
            if request.action == "rollback" and not request.args.get("job")
        ]
        if open_rollbacks:
            existing = open_rollbacks[0]
            if auto and existing.status is Status.PENDING:
                # A person's request still waits for approvers: `auto_rollback` runs it now.
                return self._run_pending_as_auto(existing, reason)
            return Reply(text=f"A rollback of {env} is already open as `{existing.id}`.")
        environment = self.context.spec.environments[env]
        now = self.context.clock.now()
        request = ApprovalRequest(
            id=new_request_id(),
            action="rollback",
            env=env,
            args={},
            requester="stagger-bot",
            reason=reason,
            created_at=now,
            expires_at=expiry(environment.approvals, now),
            required=0 if auto else environment.approvals.required,
        )
        return self.submit(request, "scheduler")

    def _run_pending_as_auto(self, request: ApprovalRequest, reason: str) -> Reply:
        context = self.context
        # It needs no approval from now on: stored so, nothing closes it while it waits.
        request = replace(request, required=0)
        if not context.store.repin_pending(request) or not self._claim_at_once(
            request, "scheduler", decided_by="auto_rollback"
        ):
            if taken_by_scheduler(context, request.id):
                return Reply(text=f"`{request.id}` was run by the scheduler meanwhile.")
            return Reply(text=f"A rollback of {request.env} is already open as `{request.id}`.")
        context.record(
            AuditEntry(
                "bot", "scheduler", "rollback.approved", request.env, {"request": request.id},
                "ok", f"auto_rollback: {reason}",
            )
        )  # fmt: skip
        executing = replace(request, status=Status.EXECUTING, decided_by="auto_rollback")
        refresh_request_message(context, executing, f"Run by auto_rollback: {reason}.")
        return Reply(
            text=f"Rolling back {request.env} now (`{request.id}`, auto_rollback: {reason}).",
            followups=(lambda: execute_request(context, request.id),),
        )

    def submit(self, request: ApprovalRequest, source: Source) -> Reply:
        """Store a new request, audit it, and post it for approval (or start it at once
        where no approval is required). A rollback closes pending transitions of its env."""
        context = self.context
        request = with_plan(context.spec, request)
        context.store.add_request(request)
        context.record(
            AuditEntry(
                request.requester,
                source,
                f"{request.action}.requested",
                request.env,
                {**request.args, "request": request.id, "plan": _short_digest(request)},
                "pending",
                request.reason,
            )
        )
        if request.action == "rollback":
            self._preempt_transitions(request)
        if request.required == 0:
            return self._start_without_approval(request, source)
        policy = context.spec.environments[request.env].approvals
        return Reply(
            text=(
                f"{request.action.capitalize()} request `{request.id}` for {request.target} "
                f"posted in <#{context.spec.channel}>; "
                f"it needs {request.required} approval(s) from "
                + ", ".join(f"<@{approver}>" for approver in policy.approvers)
                + f" within {policy.expires_after_min} min."
            ),
            followups=(lambda: self._post_request(request),),
        )

    def _preempt_transitions(self, rollback: ApprovalRequest) -> None:
        # A soaking transition is left alone: only a full rollback's execution ends it
        # (`bot.rollout.soak_cancel`), so a denied, withdrawn or per-job one changes nothing.
        for pending in self.context.store.open_requests(rollback.env):
            if pending.action != "transition" or not self.context.store.transition(
                pending.id,
                (Status.PENDING,),
                Status.CANCELLED,
                decided_by="stagger-bot",
                decided_at=self.context.clock.now(),
                outcome=f"pre-empted by rollback {rollback.id}",
            ):
                continue
            self.context.record(
                AuditEntry(
                    "bot",
                    "bot",
                    "transition.cancelled",
                    pending.env,
                    {"request": pending.id, "rollback": rollback.id},
                    "cancelled",
                    "pre-empted by a rollback request",
                )
            )
            refresh_request_message(
                self.context,
                replace(pending, status=Status.CANCELLED),
                f"Cancelled: rollback {rollback.id} was requested. Nothing was run.",
            )

    def _post_request(self, request: ApprovalRequest) -> None:
        channel = self.context.spec.channel
        ts = self.context.poster.post(
            channel,
            f"Approval needed: {request.description} ({request.id})",
            blocks.approval_request_blocks(request, self.context.spec.timezone),
            request_id=request.id,
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
        if not self._claim_at_once(request, source):
            if taken_by_scheduler(self.context, request.id):
                raise UserError(f"Request `{request.id}` was run by the scheduler meanwhile.")
            raise UserError(f"Request `{request.id}` was already taken.")
        retried = request.args.get("retry_of")
        approval = (
            f"under the approval of {retried} ({', '.join(request.approved_by)})"
            if retried and request.approved_by
            else "no approval required"
        )
        self.context.record(
            AuditEntry(
                "bot",
                source,
                f"{request.action}.approved",
                request.env,
                {"request": request.id},
                "ok",
                approval,
            )
        )
        executing = replace(request, status=Status.EXECUTING)

        def post_and_execute() -> None:
            self._post_request_executing(executing)
            execute_request(self.context, request.id)

        return Reply(
            text=f"{'Rolling back' if request.action == 'rollback' else 'Moving'} "
            f"{request.target} now (`{request.id}`, {approval}).",
            followups=(post_and_execute,),
        )

    def _claim_at_once(
        self, request: ApprovalRequest, source: Source, decided_by: str = "policy"
    ) -> bool:
        """Claim a request that needs no approval. A person is told at once when another
        change is executing on the env; the bot's own rollback (`auto_rollback`) waits for
        it instead — as long as that change may take, and its lease after — since a
        rollback the bot decided on must run."""
        with waiter(request.id):
            return self._claim_polling(request, source, decided_by)

    def _claim_polling(self, request: ApprovalRequest, source: Source, decided_by: str) -> bool:
        context = self.context
        deadline: datetime | None = None
        while True:
            try:
                return claim_execution(
                    context, request, decided_by=decided_by, decided_at=context.clock.now()
                )
            except EnvBusy as busy:
                if source != "scheduler":
                    self._refuse_busy(request, source, str(busy))
                if deadline is None:
                    waits = request_time_limit(context.spec, busy.busy.request)
                    waits += context.spec.execution.lease_s
                    deadline = context.wall_clock.now() + timedelta(seconds=waits)
                if context.wall_clock.now() >= deadline:
                    self._refuse_busy(request, source, str(busy))
                threading.Event().wait(_BUSY_POLL_S)

    def _refuse_busy(self, request: ApprovalRequest, source: Source, why: str) -> NoReturn:
        context = self.context
        context.store.transition(
            request.id,
            (Status.PENDING,),
            Status.CANCELLED,
            decided_by="stagger-bot",
            decided_at=context.clock.now(),
            outcome="another change was executing on the env",
        )
        context.record(
            AuditEntry(
                request.requester, source, f"{request.action}.refused", request.env,
                {**request.args, "request": request.id}, "refused", why,
            )
        )  # fmt: skip
        if source == "scheduler":
            # The bot's own rollback could not start: nobody asked, so everybody is told.
            text = (
                f":x: *The automatic rollback of {request.env} could not start*: {why} "
                f"Roll back by hand: `/stagger rollback {request.env}`."
            )
            context.poster.post(
                context.spec.channel,
                text,
                blocks.rollback_offer_blocks(text, request.env),
                broadcast=True,
            )
        raise UserError(why)

    def _post_request_executing(self, request: ApprovalRequest) -> None:
        channel = self.context.spec.channel
        ts = self.context.poster.post(
            channel,
            f"Executing {request.description} ({request.id})",
            blocks.closed_request_blocks(request, "Executing now.", self.context.spec.timezone),
            request_id=request.id,
        )
        if ts:
            self.context.store.set_message(request.id, channel, ts)


def _short_digest(request: ApprovalRequest) -> str:
    return request.plan.short_digest if request.plan else "none"
