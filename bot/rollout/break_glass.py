"""Break-glass rollback: `/stagger rollback <env> --now --reason TEXT` by one of the
spec's `break_glass` users, from Slack — run at once, with no approval waited for.

It is never held by a lock, a freeze or a pending request: a pending rollback of the same
target is run now as the break-glass, and pending transitions are pre-empted as by any
rollback. A change executing on the env is waited for (as `auto_rollback` waits), and the
person is told so. It is broadcast to the channel with who and why, audited as
`rollback.break_glass`, and verified host by host as any rollback.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.approvals import ApprovalRequest, Status, expiry, new_request_id
from bot.core.errors import NotAllowed, UserError
from bot.core.replies import Reply, Source
from bot.core.time_limits import request_time_limit
from bot.render.blocks import escape, mention
from bot.render.plan_text import hosts_text
from bot.rollout.execution import execute_request
from bot.rollout.execution_lease import EnvBusy, claim_execution, recover_interrupted
from bot.rollout.orphaned_rollback import WAITER_POLL_S, taken_by_scheduler, waiter
from bot.rollout.plan_pinning import with_plan
from bot.rollout.request_message import refresh_request_message
from bot.rollout.requests import Requests
from bot.store.audit import AuditEntry
from bot.store.executions import Executions

_BUSY_POLL_S = WAITER_POLL_S


class BreakGlass(Requests):
    def rollback_now(
        self, user: str, source: Source, env: str, job: str | None, reason: str
    ) -> Reply:
        context = self.context
        # The dispatcher's matrix refused anyone else already; a use case keeps its rule.
        if source != "slack":
            raise NotAllowed(f"A break-glass rollback works only from Slack, not the {source}.")
        if user not in context.spec.break_glass:
            raise NotAllowed(f"<@{user}> is not on the spec's break_glass list.")
        recover_interrupted(context, env)
        existing = next(
            (
                request
                for request in context.store.open_requests(env)
                if request.action == "rollback" and request.args.get("job") == job
            ),
            None,
        )
        if existing is not None and existing.status is Status.EXECUTING:
            return Reply(
                text=f"A rollback of {existing.target} is already executing as "
                f"`{existing.id}`; its result follows in <#{context.spec.channel}>."
            )
        marks = {"break_glass": user, "break_glass_reason": reason}
        if existing is not None:
            # A break-glass goes to every host now in the env: a retry's subset is dropped.
            args = {key: value for key, value in existing.args.items() if key != "hosts"}
            request = replace(existing, args={**args, **marks}, plan=None, required=0)
            request = with_plan(context.spec, request)
            if not context.store.repin_pending(request):
                raise UserError(f"Request `{existing.id}` changed meanwhile; look again.")
        else:
            request = self._new_request(user, source, env, job, reason, marks)
        context.record(
            AuditEntry(
                user,
                source,
                "rollback.break_glass",
                env,
                {**request.args, "request": request.id, "plan": _short(request)},
                "ok",
                reason,
            )
        )
        self._preempt_transitions(request)
        running = Executions(context.store).running(env)
        busy = [execution for execution in running if execution.request.id != request.id]
        waiting = (
            f" Waiting first for `{busy[0].request.id}` ({busy[0].request.description}), "
            f"executing on {env} now; the rollback starts as soon as it ends."
            if busy
            else ""
        )
        return Reply(
            text=f":rotating_light: Break-glass rollback of {request.target} (`{request.id}`): "
            f"running now, no approval.{waiting}",
            followups=(lambda: self._announce_and_run(request, existing is not None),),
        )

    def _new_request(
        self,
        user: str,
        source: Source,
        env: str,
        job: str | None,
        reason: str,
        marks: dict[str, str],
    ) -> ApprovalRequest:
        context = self.context
        now = context.clock.now()
        request = with_plan(
            context.spec,
            ApprovalRequest(
                id=new_request_id(),
                action="rollback",
                env=env,
                args={**({"job": job} if job else {}), **marks},
                requester=user,
                reason=reason,
                created_at=now,
                expires_at=expiry(context.spec.environments[env].approvals, now),
                required=0,
            ),
        )
        context.store.add_request(request)
        context.record(
            AuditEntry(
                user, source, "rollback.requested", env,
                {**request.args, "request": request.id, "plan": _short(request)},
                "pending", reason,
            )
        )  # fmt: skip
        return request

    def _announce_and_run(self, request: ApprovalRequest, had_message: bool) -> None:
        context = self.context
        user = request.args["break_glass"]
        reason = request.args["break_glass_reason"]
        plan = request.plan
        text = (
            f":rotating_light: *Break-glass rollback of {request.target}* by {mention(user)}: "
            f"{escape(reason)} — running now, no approval (`{request.id}`)."
            + (f"\nHosts: {hosts_text(plan)}; change: `{plan.change}`." if plan else "")
        )
        if had_message and request.message_ts:
            context.poster.post(
                context.spec.channel, text, thread_ts=request.message_ts, broadcast=True
            )
        else:
            ts = context.poster.post(context.spec.channel, text, request_id=request.id)
            if ts is not None:
                context.store.set_message(request.id, context.spec.channel, ts)
        if not self._claim_waiting(request, user):
            return
        executing = context.store.request(request.id) or request
        refresh_request_message(
            context,
            executing,
            f"Break-glass rollback by <@{user}>: {reason} — executing, no approval.",
        )
        execute_request(context, request.id)

    def _claim_waiting(self, request: ApprovalRequest, user: str) -> bool:
        """Claim it, waiting for a change executing on the env as long as that change may
        take (and its lease after); False, said in the channel, if it never ends."""
        with waiter(request.id):
            return self._poll_until_claimed(request, user)

    def _poll_until_claimed(self, request: ApprovalRequest, user: str) -> bool:
        context = self.context
        deadline: datetime | None = None
        while True:
            try:
                claimed = claim_execution(
                    context, request, decided_by=user, decided_at=context.clock.now()
                )
            except EnvBusy as busy:
                if deadline is None:
                    waits = request_time_limit(context.spec, busy.busy.request)
                    deadline = context.wall_clock.now() + timedelta(
                        seconds=waits + context.spec.execution.lease_s
                    )
                if context.wall_clock.now() < deadline:
                    threading.Event().wait(_BUSY_POLL_S)
                    continue
                self._could_not_start(request, str(busy))
                return False
            if not claimed:
                by = (
                    "was run by the scheduler (its waiter was thought gone)"
                    if taken_by_scheduler(context, request.id)
                    else "was taken by another process or click meanwhile"
                )
                context.poster.post(
                    context.spec.channel,
                    f":warning: Break-glass rollback `{request.id}` {by}; see its thread.",
                    thread_ts=request.message_ts,
                )
            return claimed

    def _could_not_start(self, request: ApprovalRequest, why: str) -> None:
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
                request.args["break_glass"], "slack", "rollback.refused", request.env,
                {"request": request.id}, "refused", why,
            )
        )  # fmt: skip
        stored = context.store.request(request.id)
        context.poster.post(
            context.spec.channel,
            f":x: *The break-glass rollback of {request.target} could not start*: {why} "
            f"Roll back by hand, or run `/stagger rollback {request.env} --now` again.",
            thread_ts=stored.message_ts if stored else None,
            broadcast=True,
        )


def _short(request: ApprovalRequest) -> str:
    return request.plan.short_digest if request.plan else "none"
