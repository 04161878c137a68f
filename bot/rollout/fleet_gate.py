"""Whether the whole fleet runs the current phase: the gate out of a phase, and of the
success declaration. A phase entered when its canary verified runs on part of the fleet
until its other hosts verified: while it soaks, after a failed batch or a crash (until a
retry verified them), or when the env's state is mixed for any other reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.approvals import ApprovalRequest
from bot.core.phase_record import PhaseRecord
from bot.core.phases import Gate, GateState
from bot.core.tiers import HostState
from bot.rollout.context import BotContext
from bot.store.execution_hosts import ExecutionHosts
from bot.store.store import request_from_row


def fleet_gate(
    context: BotContext,
    current: PhaseRecord,
    open_requests: Sequence[ApprovalRequest],
    *,
    env_state: bool = True,
) -> Gate:
    """`env_state=False` for an advance: a change that failed before it entered a phase
    leaves the env mixed too, and requesting the move again is how it is put right."""
    name = f"every host runs {current.phase}"
    environment = context.spec.environment(current.env)
    hosts = environment.hosts if environment else ()
    underway = [
        r
        for r in open_requests
        if r.action == "transition" and r.args.get("phase") == current.phase
    ]
    if underway:
        listed = ", ".join(f"`{r.id}` {r.status.value}" for r in underway)
        return Gate(name, GateState.NOT_MET, f"its other hosts are not changed yet: {listed}")
    lineage = _lineage(context, current)
    unresolved = [host for host in lineage.unverified if host in hosts]
    # A host of the env the change never reached (it joined the spec after the plan was
    # pinned) does not run the phase either; with no host records at all (a phase entered
    # before they were kept) there is nothing to compare.
    joined = [host for host in hosts if lineage.recorded and host not in lineage.standing]
    if unresolved or joined:
        retry = f" (retry `{lineage.latest}`)" if unresolved else ""
        were = "was" if len(joined) == 1 else "were"
        since = f": {', '.join(joined)} joined the spec since and {were} not changed"
        since = since if joined else ""
        return Gate(
            name,
            GateState.NOT_MET,
            f"{len(unresolved) + len(joined)} of {len(hosts)} hosts not verified{retry}{since}",
        )
    state = context.store.env_state(current.env)
    if env_state and state.stagger_enabled is None and state.since is not None:
        return Gate(name, GateState.NOT_MET, f"the fleet is mixed: {state.note or 'unknown'}")
    return Gate(name, GateState.MET, f"all {len(hosts)} host(s)")


def fleet_mixed(context: BotContext, current: PhaseRecord) -> str:
    """What `report` says when the phase runs on part of the fleet; empty otherwise."""
    if current.is_terminal:
        return ""
    gate = fleet_gate(context, current, context.store.open_requests(current.env))
    return "" if gate.state is GateState.MET else f"The fleet is mixed: {gate.detail}."


@dataclass(frozen=True)
class _Lineage:
    # The hosts the change (with its retries) did not verify, in the order first seen.
    unverified: list[str]
    # Every host it has a record of, verified or not.
    standing: frozenset[str]
    # The latest request of the lineage to retry.
    latest: str

    @property
    def recorded(self) -> bool:
        return bool(self.standing)


def _lineage(context: BotContext, current: PhaseRecord) -> _Lineage:
    """Where the hosts of the change that entered `current` (with its retries) stand."""
    if not current.request_id:
        return _Lineage([], frozenset(), "")
    transitions = [
        request_from_row(row)
        for row in context.store.select(
            "approvals", "env = ? AND action = 'transition'", [current.env], order_by="created_at"
        )
    ]
    lineage = {current.request_id}
    pending: dict[str, None] = {}
    standing: set[str] = set()
    latest = current.request_id
    hosts = ExecutionHosts(context.store)
    for request in transitions:
        if request.id != current.request_id and request.args.get("retry_of") not in lineage:
            continue
        lineage.add(request.id)
        for host in hosts.of(request.id):
            standing.add(host.host)
            if host.state is HostState.VERIFIED:
                pending.pop(host.host, None)
            elif host.state in (HostState.FAILED, HostState.NOT_STARTED):
                pending[host.host] = None
                latest = request.id
    return _Lineage(list(pending), frozenset(standing), latest)
