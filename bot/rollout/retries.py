"""`Retry the N failed and M not-started hosts`: the same change again on exactly the
hosts of one execution that did not verify — from the store, not the spec's current
host list (a host that left the spec since is listed and skipped).

Within the original request's expiry, its change and criteria as they were approved, it
runs under the original approval (audited as a retry of it, no new approval); after it,
or once the spec changed them, the retry is a new request needing the env's
approvals, its args carrying `hosts` and `retry_of`. A rollback's retry is a rollback:
the same rule, and nothing makes it wait for another change's soak. A transition's retry
is refused while its env is locked or frozen (naming the hold); a rollback's never is."""

from __future__ import annotations

from dataclasses import replace

from bot.core.approvals import (
    ApprovalRequest,
    Status,
    expiry,
    may_request,
    new_request_id,
    required_approvals,
)
from bot.core.clock import format_time
from bot.core.errors import NotAllowed, UserError
from bot.core.plan import PlanUnavailable, plan_of
from bot.core.replies import Reply, Source
from bot.core.tiers import HostState
from bot.rollout.context import BotContext
from bot.rollout.holds import transition_hold
from bot.rollout.requests import Requests
from bot.store.audit import AuditEntry
from bot.store.execution_hosts import ExecutionHosts

_CARRIED_OVER = frozenset({"hosts", "retry_of", "via"})


class Retries:
    def __init__(self, context: BotContext) -> None:
        self.context = context

    def retry(self, user: str, source: Source, request_id: str) -> Reply:
        context = self.context
        original = context.store.request(request_id.strip())
        if original is None:
            raise UserError(f"There is no request `{request_id}`.")
        if original.status.is_open:
            raise UserError(
                f"`{original.id}` is still {original.status.value}: retry it once it has ended."
            )
        if not may_request(context.spec, original.env, user):
            self._refuse(user, source, original, "not an operator")
            raise NotAllowed(f"<@{user}> is not an operator; ask one of the operators to retry it.")
        hold = transition_hold(context, original.env, context.clock.now())
        if hold is not None and original.action == "transition":  # a rollback is never held
            self._refuse(user, source, original, hold.audit_reason)
            raise UserError(f"`{original.id}` is not retried: {hold.text}")
        standings = ExecutionHosts(context.store).of(original.id)
        if not standings:
            raise UserError(
                f"`{original.id}` ({original.status.value}) changed no host: there is nothing to "
                "retry. Request it again if it is still needed."
            )
        hosts = [s.host for s in standings if s.state in (HostState.FAILED, HostState.NOT_STARTED)]
        if not hosts:
            why = f"every host of `{original.id}` verified: there is nothing to retry"
            self._refuse(user, source, original, why)
            raise UserError(why[0].upper() + why[1:] + ".")
        environment = context.spec.environment(original.env)
        if environment is None:
            raise UserError(f"{original.env} is no longer in the spec: nothing can be retried.")
        gone = [host for host in hosts if host not in environment.hosts]
        if len(gone) == len(hosts):
            why = "none of its hosts to retry is in the spec any more: " + ", ".join(gone)
            self._refuse(user, source, original, why)
            raise UserError(f"`{original.id}`: {why}. Nothing was run.")
        for open_request in context.store.open_requests(original.env):
            if open_request.args.get("retry_of") == original.id:
                raise UserError(
                    f"A retry of `{original.id}` is already {open_request.status.value} as "
                    f"`{open_request.id}`."
                )
        changed = self._plan_changes(original)
        request = self._retry_request(user, source, original, hosts, plan_changed=bool(changed))
        under_approval = request.required == 0
        failed = sum(1 for s in standings if s.state is HostState.FAILED)
        zone = context.spec.timezone
        note = (
            f"under the approval of `{original.id}` "
            f"({', '.join(original.approved_by) or 'no approval required'}), within its "
            f"expiry at {format_time(original.expires_at, zone)}"
            if under_approval
            else f"`{original.id}`'s plan changed since it was approved ({changed}): it needs "
            "a new approval"
            if changed
            else f"`{original.id}`'s approval expired at "
            f"{format_time(original.expires_at, zone)}: it needs a new one"
        )
        context.record(
            AuditEntry(
                user, source, f"{original.action}.retry", original.env,
                {"request": request.id, "retry_of": original.id, "hosts": hosts,
                 "skipped": gone, "failed": failed, "not_started": len(hosts) - failed},
                "ok", note,
            )
        )  # fmt: skip
        reply = Requests(context).submit(request, source)
        skipped = (
            f" Skipped, no longer in the spec: {', '.join(f'`{h}`' for h in gone)}." if gone else ""
        )
        running = [host for host in hosts if host not in gone]
        return replace(
            reply,
            text=f"Retrying `{original.id}` on {len(running)} host(s) "
            f"({', '.join(f'`{h}`' for h in running)}) as `{request.id}`, {note}.{skipped} "
            + reply.text,
        )

    def _plan_changes(self, original: ApprovalRequest) -> str:
        """What changed in the original's change or criteria since it was approved (its
        hosts aside: the retry runs on a few of them); empty when nothing did."""
        if original.plan is None:
            return ""
        args = {k: v for k, v in original.args.items() if k != "hosts"}
        try:
            plan = plan_of(self.context.spec, original.action, original.env, args)
        except PlanUnavailable as gone:
            raise UserError(f"`{original.id}` can't be retried: {gone}.") from None
        return "; ".join(replace(plan, hosts=original.plan.hosts).changes_from(original.plan))

    def _retry_request(
        self,
        user: str,
        source: Source,
        original: ApprovalRequest,
        hosts: list[str],
        *,
        plan_changed: bool,
    ) -> ApprovalRequest:
        context = self.context
        now = context.clock.now()
        policy = context.spec.environments[original.env].approvals
        approved = original.status is not Status.DENIED and (
            bool(original.approved_by) or original.required == 0
        )
        within = approved and now < original.expires_at and not plan_changed
        args = {k: v for k, v in original.args.items() if k not in _CARRIED_OVER}
        args.update(hosts=",".join(hosts), retry_of=original.id)
        if source == "cli":
            args["via"] = "cli"
        reason = f"retry of {original.id} on {len(hosts)} host(s)" + (
            f": {original.reason}" if original.reason else ""
        )
        request = ApprovalRequest(
            id=new_request_id(),
            action=original.action,
            env=original.env,
            args=args,
            requester=user,
            reason=reason,
            created_at=now,
            expires_at=original.expires_at if within else expiry(policy, now),
            required=0,
            approved_by=original.approved_by if within else (),
        )
        return request if within else replace(request, required=required_approvals(policy, request))

    def _refuse(self, user: str, source: Source, original: ApprovalRequest, why: str) -> None:
        self.context.record(
            AuditEntry(
                user, source, f"{original.action}.retry_refused", original.env,
                {"retry_of": original.id}, "refused", why,
            )
        )  # fmt: skip
