"""The rehearsal's scenarios: what goes wrong on the simulated fleet, and what the bot
must have done by the end for the rehearsal to pass (exit 0)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.core.approvals import Status
from bot.core.phase_record import ROLLED_BACK, SUCCEEDED
from bot.rehearsal.fleet_scenario import ErrorSpike, FleetKnobs, HostDown
from bot.rollout.context import BotContext
from bot.store.timeline import Timeline

Outcome = Callable[[BotContext, list[str]], bool]


def _succeeded(context: BotContext, posts: list[str]) -> bool:
    current = Timeline(context.store).current()
    return current is not None and current.phase == SUCCEEDED


def _rolled_back(env: str) -> Outcome:
    def check(context: BotContext, posts: list[str]) -> bool:
        current = Timeline(context.store).current()
        verified = any(
            request.action == "rollback" and request.env == env
            for request in context.store.requests_in(Status.SUCCEEDED)
        )
        return verified and current is not None and current.phase == ROLLED_BACK

    return check


def _triggered_and_rolled_back(env: str) -> Outcome:
    rolled_back = _rolled_back(env)

    def check(context: BotContext, posts: list[str]) -> bool:
        fired = any(f"Rollback trigger fired on {env}" in post for post in posts)
        return fired and rolled_back(context, posts)

    return check


def _transition_failed_on_a_down_host(context: BotContext, posts: list[str]) -> bool:
    failed = [r for r in context.store.requests_in(Status.FAILED) if r.action == "transition"]
    current = Timeline(context.store).current()
    return bool(failed) and current is not None and current.phase == "staging-stagger"


def _unavailable_and_held(context: BotContext, posts: list[str]) -> bool:
    alerted = any("KPIs unavailable on prod" in post for post in posts)
    held = any("success cannot be declared yet" in post for post in posts)
    return alerted and held and not _succeeded(context, posts)


def _no_knobs(start: datetime) -> FleetKnobs:
    return FleetKnobs()


def _error_spike(start: datetime) -> FleetKnobs:
    """From an hour after prod's stagger went on: past the first-30-minute validation, so
    the rollback trigger is what catches it."""
    spike = ErrorSpike(env="prod", rate=0.25, only_while_staggered=True, after=timedelta(hours=1))
    return FleetKnobs(error_spike=spike)


def _host_down(start: datetime) -> FleetKnobs:
    return FleetKnobs(host_down=HostDown(host="prod-2.rehearsal.example.com", since=start))


def _collide(data: dict[str, Any]) -> None:
    """Two ten-minute jobs on one offset: the app warns of the collision when it starts."""
    data["allow_offset_collisions"] = True
    for job in data["jobs"]:
        if job["key"] == "TELEGRAM_SETTLEMENT":
            job["offset_s"] = 10  # STUCK_MATCH_FINISHER's


@dataclass(frozen=True)
class Scenario:
    name: str
    story: str
    expected: str
    outcome: Outcome
    knobs: Callable[[datetime], FleetKnobs] = _no_knobs
    change_spec: Callable[[dict[str, Any]], None] | None = None
    # The bot's DSN for prod points nowhere: the database KPIs are unavailable.
    prod_database_down: bool = False
    limit: timedelta = field(default=timedelta(days=14))


SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "happy",
            "Every phase passes its gates; prod runs staggered for seven days.",
            "success declared",
            _succeeded,
        ),
        Scenario(
            "error-spike",
            "Job failures jump an hour after the stagger went on in prod, past the "
            "validation's first half hour.",
            "the error-rate trigger fires and a rollback of prod is executed and verified",
            _triggered_and_rolled_back("prod"),
            knobs=_error_spike,
        ),
        Scenario(
            "collision",
            "Two jobs share an offset: the app warns of the collision when staggered.",
            "validation fails and a rollback of staging is executed and verified",
            _rolled_back("staging"),
            change_spec=_collide,
        ),
        Scenario(
            "host-down",
            "One prod host stops answering before prod is touched.",
            "the move to prod fails on that host and the rollout stays where it was",
            _transition_failed_on_a_down_host,
            knobs=_host_down,
        ),
        Scenario(
            "db-down",
            "Prod's database cannot be reached by the bot.",
            "the unavailable KPIs are alerted and success is not declared",
            _unavailable_and_held,
            prod_database_down=True,
        ),
    )
}
