"""Running a request's flag change tier by tier (`bot.core.tiers`): each tier's hosts at
once, each host's outcome written to the store as it finishes, one progress message in
the request's thread updated after each tier, and no tier started after one with a
failed host. A retry runs on the hosts its request names (`hosts`), not the spec's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.approvals import ApprovalRequest
from bot.core.changes import ChangeOutcome, FlagChange, HostOutcome
from bot.core.host_address import HostAddress
from bot.core.request_tiers import retry_hosts
from bot.core.spec_fleet import EnvironmentSpec
from bot.core.tiers import ALL_HOSTS, HostStanding, HostState, Tier
from bot.render.tier_text import progress_text
from bot.rollout.context import BotContext
from bot.rollout.request_change import apply_for_request
from bot.store.audit import AuditEntry
from bot.store.execution_hosts import ExecutionHosts


def left_spec(request: ApprovalRequest, environment: EnvironmentSpec | None) -> list[str]:
    """The hosts a retry names that are no longer in the env's spec: listed, skipped."""
    hosts = environment.hosts if environment else []
    return [host for host in retry_hosts(request) or [] if host not in hosts]


@dataclass(frozen=True)
class TierResult:
    """`verified` when every host run verified; the tiers left once one failed."""

    outcome: ChangeOutcome
    stopped_at: Tier | None

    @property
    def verified(self) -> bool:
        return self.stopped_at is None


class TierRun:
    """One execution's tiers: planned in the store, run in order, shown in one message."""

    def __init__(
        self,
        context: BotContext,
        request: ApprovalRequest,
        environment: EnvironmentSpec,
        change: FlagChange,
        title: str,
    ) -> None:
        self.context = context
        self.request = request
        self.environment = environment
        self.change = change
        self.title = title
        self.hosts = ExecutionHosts(context.store)
        self._message_ts: str | None = None

    def plan(self, tiers: Sequence[Tier], skipped: Sequence[str] = ()) -> None:
        now = self.context.clock.now()
        self.hosts.plan(self.request.id, tiers, now)
        if skipped:
            self.hosts.plan(self.request.id, (Tier("skipped", tuple(skipped)),), now)
            for host in skipped:
                self.hosts.set_state(
                    self.request.id, host, HostState.SKIPPED, "no longer in the spec", now
                )

    def standings(self) -> list[HostStanding]:
        return self.hosts.of(self.request.id)

    def post_progress(self) -> None:
        """The progress message: posted once, then updated in place."""
        text = progress_text(self.title, self.standings())
        channel = self.context.spec.channel
        if self._message_ts is None:
            self._message_ts = self.context.poster.post(
                channel, text, thread_ts=self.request.message_ts
            )
        else:
            self.context.poster.update(channel, self._message_ts, text)

    def run(self, tiers: Sequence[Tier]) -> TierResult:
        """Each tier in turn; stops after the first with a failed host."""
        outcomes: list[HostOutcome] = []
        for tier in tiers:
            if len(tiers) > 1 or tier.name != ALL_HOSTS:
                self._audit_tier(tier)
            ran = self._run_tier(tier)
            outcomes.extend(ran.hosts)
            self.post_progress()
            if not ran.verified:
                return TierResult(ChangeOutcome(tuple(outcomes)), tier)
        return TierResult(ChangeOutcome(tuple(outcomes)), None)

    def remaining(self) -> tuple[Tier, ...]:
        """The planned tiers' hosts not verified yet, in their tiers (a continued run)."""
        standings = self.standings()
        pending = [s for s in standings if s.state in (HostState.NOT_STARTED, HostState.FAILED)]
        names: dict[str, list[str]] = {}
        for standing in pending:
            names.setdefault(standing.tier, []).append(standing.host)
        return tuple(Tier(name, tuple(hosts)) for name, hosts in names.items())

    def whole_outcome(self) -> ChangeOutcome:
        """Every host the execution ran on, from the store (the canary's too)."""
        return ChangeOutcome(
            tuple(
                HostOutcome(s.host, s.state is HostState.VERIFIED, s.detail)
                for s in self.standings()
                if s.state in (HostState.VERIFIED, HostState.FAILED)
            )
        )

    def _run_tier(self, tier: Tier) -> ChangeOutcome:
        by_address = {str(HostAddress.parse(host)): host for host in tier.hosts}
        addresses = [HostAddress.parse(host) for host in tier.hosts]
        outcome = apply_for_request(
            self.context, self.request, self.environment, self.change, addresses
        )
        now = self.context.clock.now()
        named = []
        for host in outcome.hosts:
            spec_name = by_address.get(host.host, host.host)
            named_host = HostOutcome(spec_name, host.verified, host.detail, host.backup)
            self.hosts.record(self.request.id, named_host, now)
            named.append(named_host)
        return ChangeOutcome(tuple(named))

    def _audit_tier(self, tier: Tier) -> None:
        self.context.record(
            AuditEntry(
                "bot", "bot", f"{self.request.action}.tier", self.request.env,
                {"request": self.request.id, "tier": tier.name, "hosts": list(tier.hosts)},
                "ok", f"{tier.name}: {len(tier.hosts)} host(s)",
            )
        )  # fmt: skip
