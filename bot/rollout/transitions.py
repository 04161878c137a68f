"""Requesting a phase transition: what is refused at once, and what needs the gates.

Out of order, in flight, or not allowed: answered at once, nothing created. Otherwise the
gates are evaluated after the ack (the KPIs need the hosts), and the request is posted
for approval with every gate listed — or refused with the list. `--force` with a reason
skips unmet gates and the order, and needs one approval more than usual.
"""

from __future__ import annotations

import logging

from bot.core.approvals import (
    ApprovalRequest,
    expiry,
    may_request,
    new_request_id,
    unsatisfiable,
    unvouched_extra,
)
from bot.core.errors import NotAllowed, UsageError, UserError
from bot.core.phase_record import SUCCEEDED, PhaseRecord
from bot.core.phases import Gate, all_met, gates_text, in_flight_gate, leaving_gates, order_problem
from bot.core.replies import Reply, Source
from bot.core.spec_rollout import PhaseSpec
from bot.rollout.actions import Actions
from bot.rollout.context import BotContext
from bot.rollout.execution_lease import recover_interrupted
from bot.rollout.fleet_gate import fleet_gate
from bot.rollout.holds import ROLLBACKS_GO, transition_hold
from bot.rollout.judging import phase_gates
from bot.rollout.measuring import measure_since
from bot.store.audit import AuditEntry
from bot.store.timeline import Timeline

logger = logging.getLogger(__name__)


class Transitions:
    def __init__(self, context: BotContext) -> None:
        self.context = context
        self.timeline = Timeline(context.store)

    def request(
        self,
        user: str,
        source: Source,
        target: PhaseSpec,
        *,
        force: bool,
        reason: str,
        channel: str,
    ) -> Reply:
        context = self.context
        current = self.timeline.current()
        arguments = {"phase": target.name, "forced": "yes" if force else "no"}
        if source == "cli":
            arguments["via"] = "cli"
        if not may_request(context.spec, target.env, user):
            self._refused(user, source, target, "not an operator")
            raise NotAllowed(f"<@{user}> is not an operator; ask one of the operators.")
        problem = order_problem(context.spec, current, target)
        final = current is not None and current.phase in (target.name, SUCCEEDED)
        if problem and (not force or final):
            self._refused(user, source, target, problem)
            hint = (
                ""
                if final
                else f" To move anyway: `/stagger phase {target.name} --force --reason TEXT` "
                "(needs one approval more than usual)."
            )
            raise UserError(f"Cannot move to {target.name}: {problem}.{hint}")
        hold = transition_hold(context, target.env, context.clock.now())
        if hold is not None:
            self._refused(user, source, target, hold.audit_reason)
            raise UserError(f"Cannot move to {target.name}: {hold.text} {ROLLBACKS_GO}")
        if force and not reason:
            raise UsageError("`--force` needs `--reason TEXT`, saying why.")
        envs = {target.env} | ({current.env} if current else set())
        for env in sorted(envs):
            recover_interrupted(context, env)
        busy = [request for env in sorted(envs) for request in context.store.open_requests(env)]
        if busy:
            gate = in_flight_gate(busy)
            self._refused(user, source, target, gate.detail)
            raise UserError(f"Cannot move to {target.name} now: {gate.detail}.")
        policy = context.spec.environments[target.env].approvals
        from_cli = source == "cli"
        required = policy.required + (1 if force else 0) + unvouched_extra(policy, from_cli)
        problem = unsatisfiable(policy, user, forced=force, from_cli=from_cli) if required else None
        if problem is not None:
            self._refused(user, source, target, problem)
            raise UserError(
                f"Cannot ask for {'a forced move' if force else 'the move'} to {target.name}: "
                f"{problem}. Nothing was requested."
            )
        arguments["from"] = current.phase if current else "not started"
        arguments["from_id"] = str(current.id) if current else ""

        def evaluate_and_submit() -> None:
            gates = self._gates(current)
            if not all_met(gates) and not force:
                self._refused(user, source, target, "gates not met")
                context.poster.post(
                    channel,
                    f":no_entry: <@{user}>: moving to *{target.name}* is refused; "
                    f"not every gate is met:\n{gates_text(gates)}\n"
                    f"Force it with `/stagger phase {target.name} --force --reason TEXT` "
                    "(one approval more than usual).",
                )
                return
            now = context.clock.now()
            held = transition_hold(context, target.env, now)
            if held is not None:  # locked while the gates were measured
                self._refused(user, source, target, held.audit_reason)
                context.poster.post(
                    channel,
                    f":no_entry: <@{user}>: moving to *{target.name}* is refused: {held.text} "
                    f"{ROLLBACKS_GO}",
                )
                return
            request = ApprovalRequest(
                id=new_request_id(),
                action="transition",
                env=target.env,
                args={**arguments, "gates": gates_text(gates)},
                requester=user,
                reason=reason,
                created_at=now,
                expires_at=expiry(policy, now),
                required=required,
            )
            reply = Actions(context).submit(request, source)
            for followup in reply.followups:
                followup()

        verb = "Forcing" if force else "Checking the gates for"
        return Reply(
            text=f"{verb} the move from {arguments['from']} to {target.name}; "
            f"the request follows in <#{context.spec.channel}>.",
            followups=(evaluate_and_submit,),
        )

    def _gates(self, current: PhaseRecord | None) -> list[Gate]:
        context = self.context
        if current is None:
            return leaving_gates(context.spec, None, context.clock.now(), {}, [], [])
        report = measure_since(context, current.env, current.started_at)
        open_requests = context.store.open_requests(current.env)
        return [
            *phase_gates(context, current, report, open_requests),
            fleet_gate(context, current, open_requests, env_state=False),
        ]

    def _refused(self, user: str, source: Source, target: PhaseSpec, why: str) -> None:
        self.context.record(
            AuditEntry(
                user,
                source,
                "transition.refused",
                target.env,
                {"phase": target.name},
                "refused",
                why,
            )
        )
