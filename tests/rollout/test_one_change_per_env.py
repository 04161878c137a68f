"""One flag change per env at a time, decided in one store transaction: two changes asked
for at once on one env both take, or the loser is told at request time what executes —
never a lost change reported verified."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from bot.core.approvals import Status
from bot.core.envfile import read_env_value
from bot.rollout.actions import Actions
from jobs import recover_orphans
from tests.support.bot_process import wait_until
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, OPERATOR, OPERATOR_2

ROUNDS = 20
FULL = ("JOB_STAGGER_ENABLED", "false")
ONE_JOB = ("JOB_STAGGER_LIVE_STATS_SYNC", "0")


def started_id(text: str) -> str | None:
    """The request id of 'Rolling back staging now (`R…`, no approval required).'"""
    if "now (`" not in text:
        return None
    return text.split("now (`", 1)[1].split("`", 1)[0]


def finished(bot: Bot, request_id: str) -> Status:
    def done() -> bool:
        request = bot.store.request(request_id)
        return request is not None and not request.status.is_open

    wait_until(done, timeout=60, what=f"{request_id} to finish")
    request = bot.store.request(request_id)
    assert request is not None
    status: Status = request.status
    return status


def run_round(bot: Bot, full: Callable[[], str | None], one_job: Callable[[], str]) -> None:
    (bot.app_dir / ".env").write_bytes(ENV_FILE)
    barrier = Barrier(2)

    def at_once(work: Callable[[], object]) -> Callable[[], object]:
        def go() -> object:
            barrier.wait()
            return work()

        return go

    with ThreadPoolExecutor(2) as pool:
        full_future, job_future = pool.submit(at_once(full)), pool.submit(at_once(one_job))
        full_id, job_text = full_future.result(), str(job_future.result())
    job_id = started_id(job_text)
    if job_id is None:
        # The loser is told at once, with what executes and its id.
        assert "is executing on staging right now" in job_text, job_text
    env_file = bot.env_file()
    for request_id, (key, value) in ((full_id, FULL), (job_id, ONE_JOB)):
        if request_id is None:
            continue
        assert finished(bot, str(request_id)) is Status.SUCCEEDED
        env_file = bot.env_file()
        # Verified means the host holds it: nothing is reported verified that was lost.
        assert read_env_value(env_file, key) == value, (request_id, env_file)
    assert full_id is not None or job_id is not None


def test_a_full_and_a_per_job_rollback_at_once_both_take_or_the_loser_is_told(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(required=0)

    def full() -> str | None:
        text = bot.command(OPERATOR, "rollback staging --reason 'pool at 90%'").json()["text"]
        if started_id(text) is None:
            assert "is executing on staging right now" in text, text
        return started_id(text)

    def one_job() -> str:
        reply = bot.command(OPERATOR_2, "rollback staging LIVE_STATS_SYNC --reason 'sync lag'")
        return str(reply.json()["text"])

    for _ in range(ROUNDS):
        run_round(bot, full, one_job)
    assert bot.store.env_state("staging").disabled_jobs == ("LIVE_STATS_SYNC",)


def test_the_bots_own_rollback_waits_for_a_change_in_flight_and_then_runs(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(required=0)

    def auto_rollback() -> str | None:
        reply = Actions(bot.context).propose_rollback("staging", "trigger fired", auto=True)
        for followup in reply.followups:
            followup()
        return started_id(reply.text)

    def one_job() -> str:
        reply = bot.command(OPERATOR_2, "rollback staging LIVE_STATS_SYNC --reason 'sync lag'")
        return str(reply.json()["text"])

    for _ in range(ROUNDS):
        run_round(bot, auto_rollback, one_job)


def test_a_claim_keeps_its_lease_while_its_first_post_waits_out_a_rate_limit(
    bot_factory: Callable[..., Bot],
) -> None:
    """The lease is kept from the claim on: Slack answering the "Executing" post with a 429
    (Retry-After past the lease) must not let the sweep take the rollback from its owner."""
    bot = bot_factory(required=0, lease_s=2)
    bot.slack.fail_next("chat.postMessage", 429, retry_after=4)

    text = bot.command(OPERATOR, "rollback staging --reason 'pool at 90%'").json()["text"]
    request_id = started_id(text)
    assert request_id is not None, text

    def settled() -> bool:
        recover_orphans.run(bot.context, bot.clock.now())  # the sweep, as often as can be
        return not bot.request(str(request_id)).status.is_open

    wait_until(settled, timeout=60, what="the rollback to finish")
    assert bot.request(request_id).status is Status.SUCCEEDED
    assert read_env_value(bot.env_file(), FULL[0]) == FULL[1]


def test_auto_rollback_runs_a_persons_rollback_still_waiting_for_approvers(
    bot: Bot,
) -> None:
    text = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'").json()["text"]
    pending = bot.request_id_from(text)
    bot.slack.wait_for(lambda call: pending in call.all_text(), method="chat.postMessage")

    reply = Actions(bot.context).propose_rollback("prod", "rollback trigger: pool", auto=True)
    for followup in reply.followups:
        followup()

    assert pending in reply.text and "auto_rollback" in reply.text
    assert finished(bot, pending) is Status.SUCCEEDED
    assert bot.request(pending).decided_by == "auto_rollback"
    assert read_env_value(bot.env_file(), FULL[0]) == FULL[1]
