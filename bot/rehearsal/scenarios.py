"""The rehearsal's scenarios: what goes wrong on the simulated fleet, and what the bot
must have done by the end for the rehearsal to pass (exit 0)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.approvals import Status
from bot.core.freeze import freeze_at
from bot.core.phase_record import ROLLED_BACK, SUCCEEDED
from bot.rehearsal.fleet_scenario import ErrorSpike, FleetKnobs, HostDown
from bot.rollout.context import BotContext
from bot.store.locks import EnvLocks
from bot.store.timeline import Timeline

Outcome = Callable[[BotContext, list[str]], bool]
# What a lead types at a moment, besides approving: the `/stagger` commands.
People = Callable[[BotContext, datetime], list[str]]

# The simulated rollout's first moment: the rehearsal's clock starts here.
START = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)

# The example spec's criterion on job durations, as its gate line names it.
DURATION_CRITERION = "job_duration_avg change <= -20%"
# With the stagger alone a run takes 0.64 of its time at :00 (job duration −36 %).
STAGGER_RATIO = 0.64


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


def _held_in_staging_stagger(judged: Callable[[str], bool]) -> Outcome:
    """The move to prod was asked for once staging-stagger had run its minimum and was
    refused, the job-duration gate among its lines `judged` so; the rollout stayed."""

    def check(context: BotContext, posts: list[str]) -> bool:
        current = Timeline(context.store).current()
        refused = [post for post in posts if "moving to prod-baseline is refused" in post]
        gates = [
            line
            for post in refused
            for line in post.splitlines()
            if f"{DURATION_CRITERION}: " in line
        ]
        held = current is not None and current.phase == "staging-stagger"
        return held and any(judged(line) for line in gates)

    return check


def _not_met_with_its_interval(line: str) -> bool:
    return "): not met" in line and "% CI " in line


def _inconclusive_saying_what_settles_it(line: str) -> bool:
    """Inconclusive, with how many runs would settle it: more of this phase's (`≈ 140
    more runs (~9 h)`), or where those can't, a longer baseline's (`a baseline of ≈ 300
    more runs (~20 h with the stagger off)`)."""
    settles = "more runs (~" in line and "≈ " in line
    return "): inconclusive" in line and settles


def _no_knobs(start: datetime) -> FleetKnobs:
    return FleetKnobs()


def _error_spike(start: datetime) -> FleetKnobs:
    """From an hour after prod's stagger went on: past the first-30-minute validation, so
    the rollback trigger is what catches it."""
    spike = ErrorSpike(env="prod", rate=0.25, only_while_staggered=True, after=timedelta(hours=1))
    return FleetKnobs(error_spike=spike)


def _host_down(start: datetime) -> FleetKnobs:
    return FleetKnobs(host_down=HostDown(host="prod-2.rehearsal.example.com", since=start))


def _small_effect(start: datetime) -> FleetKnobs:
    """Staggered runs take 0.92/0.64 as long: the stagger gains job durations −8 %."""
    return FleetKnobs(staggered_duration_factor=0.92 / STAGGER_RATIO)


def _effect_near_the_target(start: datetime) -> FleetKnobs:
    """Staggered runs take 1.16 times as long: job durations about −25 % (measured on
    this fleet with rare jobs, whose stagger gain alone is −35 %), near the −20 % target."""
    return FleetKnobs(staggered_duration_factor=1.16)


def _rare_jobs(data: dict[str, Any]) -> None:
    """Every job runs less often: five times per 2 h of staging baseline (the minute jobs
    every 5 min in the tests' 2 h baseline, hourly in the runbook's 24 h), so a run of any
    length sees the same few hundred runs; the first-30-minute validation waits for jobs
    as rare. The offsets, all under a minute, stay apart."""
    baseline_h = next(
        (
            phase["min_duration_h"]
            for phase in data["phases"]
            if phase["name"] == "staging-baseline"
        ),
        2,
    )
    factor = max(5, round(5 * baseline_h / 2))
    for job in data["jobs"]:
        job["interval_s"] = min(job["interval_s"] * factor, 86400)
    validation = data.setdefault("validation", {})
    checks = validation.get("checks_after_min", [5, 15, 30])
    validation["checks_after_min"] = [minutes * factor // 5 for minutes in checks]


def _prod_canary(env: str, hosts: list[str]) -> dict[str, Any]:
    """Prod's first host is its canary, soaking 10 min (two validation checks watch it),
    then the other hosts one at a time."""
    if env != "prod":
        return {}
    return {"canary": hosts[:1], "max_parallel": 1, "canary_soak_min": 10}


def _through_prod_tiers(context: BotContext, posts: list[str]) -> bool:
    soaked = any("Canary verified" in post and "prod-stagger runs on" in post for post in posts)
    batches = any(
        "prod-stagger" in post and "now runs on every host of prod: verified on all 3" in post
        for post in posts
    )
    return soaked and batches and _succeeded(context, posts)


def _freeze_over_the_move_to_prod(data: dict[str, Any]) -> None:
    """A release freeze on prod from when staging's phases have run their minimum (the
    earliest the move to prod can be asked for) for half of staging-stagger's minimum, at
    least three hours: the move, however late its gates let it come, meets the freeze."""
    hours = {phase["name"]: phase["min_duration_h"] for phase in data["phases"]}
    start = START + timedelta(hours=hours["staging-baseline"] + hours["staging-stagger"])
    length = max(timedelta(hours=3), timedelta(hours=hours["staging-stagger"] / 2))
    data.setdefault("freeze", []).append(
        {"start": start, "end": start + length, "envs": ["prod"], "reason": FREEZE_REASON}
    )


FREEZE_REASON = "release freeze (rehearsal)"
# The lock a lead takes as the freeze begins outlasts it by this: the move waits for both.
LOCK_PAST_THE_FREEZE = timedelta(hours=1)
LOCK_REASON = "holding prod past the freeze for the incident review"


def _lock_through_the_freeze(context: BotContext, now: datetime) -> list[str]:
    """As prod's freeze begins, a lead locks prod until an hour after it ends."""
    freeze = freeze_at(context.spec.freeze, "prod", now, context.spec.timezone)
    if freeze is None or EnvLocks(context.store).held("prod", now) is not None:
        return []
    minutes = int((freeze.until + LOCK_PAST_THE_FREEZE - now).total_seconds() // 60)
    return [f"lock prod --reason '{LOCK_REASON}' --for {minutes}m"]


def _held_by_freeze_and_lock_then_tiered(context: BotContext, posts: list[str]) -> bool:
    """The move to prod-stagger was refused by the freeze, then by the lock once the freeze
    was over; the lock's expiry was announced; then the move went canary first, to success."""
    refused = [
        str(row["detail"])
        for row in context.audit.rows()
        if row["action"] == "transition.refused" and row["env"] == "prod"
    ]
    froze = any("freeze until" in reason for reason in refused)
    locked = any("locked by" in reason and "freeze until" not in reason for reason in refused)
    released = any(
        ":unlock: *prod* is unlocked" in post or "prod is unlocked" in post for post in posts
    )
    return froze and locked and released and _through_prod_tiers(context, posts)


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
    # More hosts than the fleet's default, by env; and keys each env's spec gets once its
    # hosts are known (host tiers: `canary` must name them as the spec lists them).
    hosts_per_env: Mapping[str, int] | None = None
    env_keys: Callable[[str, list[str]], dict[str, Any]] | None = None
    people: People | None = None


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
        Scenario(
            "small-effect",
            "The stagger shortens job durations by only ~8 %, far from the -20 % the "
            "spec asks of staging-stagger.",
            "the job-duration criterion is not met at staging-stagger's end, with its "
            "interval; the move to prod is refused and success is not declared",
            _held_in_staging_stagger(_not_met_with_its_interval),
            knobs=_small_effect,
            # Ends at the refused move; this bounds a run that never gets there.
            limit=timedelta(days=4, hours=6),
        ),
        Scenario(
            "few-runs",
            "The jobs run rarely (a few hundred runs a phase) and the stagger's gain, about "
            "-25 %, sits near the -20 % target: too few runs to tell either way.",
            "the job-duration criterion is inconclusive at staging-stagger's end, saying "
            "what would settle it; the move to prod is refused",
            _held_in_staging_stagger(_inconclusive_saying_what_settles_it),
            knobs=_effect_near_the_target,
            change_spec=_rare_jobs,
            limit=timedelta(days=4, hours=6),
        ),
        Scenario(
            "canary",
            "Prod has three hosts: the first is its canary, the others follow one at a time.",
            "each move in prod reaches the canary first, soaks while the validation checks "
            "watch it, then the other hosts in batches; success declared",
            _through_prod_tiers,
            hosts_per_env={"prod": 3},
            env_keys=_prod_canary,
        ),
        Scenario(
            "change-control",
            "A release freeze on prod covers the move to prod, and a lead locks prod as it "
            "begins, until an hour after it ends; prod's three hosts are tiered, canary first.",
            "the move to prod is refused by the freeze, then by the lock; the lock expires and "
            "is announced; the move goes to the canary, soaks, then the batches; success "
            "declared",
            _held_by_freeze_and_lock_then_tiered,
            change_spec=_freeze_over_the_move_to_prod,
            hosts_per_env={"prod": 3},
            env_keys=_prod_canary,
            people=_lock_through_the_freeze,
        ),
    )
}
