"""One execution per env, decided in one transaction, owned under a lease: the claims,
renewals, owner-checked finishes and lapses of `bot.store.executions`."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.approvals import Status
from bot.store.executions import Claim, Executions
from bot.store.store import EnvState
from tests.store.test_store import pending
from tests.support.executions import claim_elsewhere
from tests.support.store_backends import StoreFactory

SOON = timedelta(minutes=1)


def now() -> datetime:
    return datetime.now(UTC)


def claim_all_at_once(executions: Executions, request_ids: list[str]) -> list[Claim]:
    results: list[Claim] = []
    barrier = threading.Barrier(len(request_ids))

    def claim(request_id: str) -> None:
        barrier.wait()
        results.append(executions.claim(request_id, (Status.PENDING,), lease_until=now() + SOON))

    threads = [threading.Thread(target=claim, args=(rid,)) for rid in request_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_only_one_of_many_concurrent_claims_of_a_request_wins(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.add_request(pending())

    results = claim_all_at_once(Executions(store), ["RABCDE"] * 8)

    assert sorted(claim.claimed for claim in results) == [False] * 7 + [True]
    assert store.request("RABCDE").status is Status.EXECUTING  # type: ignore[union-attr]


def test_of_requests_on_one_env_claimed_at_once_one_runs_and_the_others_learn_which(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    ids = [f"R{n}AAAA" for n in range(6)]
    for request_id in ids:
        store.add_request(pending(request_id))

    results = claim_all_at_once(Executions(store), ids)

    winners = [claim for claim in results if claim.claimed]
    assert len(winners) == 1
    [running] = Executions(store).running("prod")
    losers = [claim for claim in results if not claim.claimed]
    assert all(claim.busy and claim.busy.request.id == running.request.id for claim in losers)
    assert sorted(r.status for r in store.open_requests("prod")) == sorted(
        [Status.EXECUTING] + [Status.PENDING] * 5
    )


def test_an_execution_on_another_env_does_not_block(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.add_request(pending("RPROD1"))
    store.add_request(replace(pending("RSTAG1"), env="staging"))
    executions = Executions(store)

    assert executions.claim("RPROD1", (Status.PENDING,), lease_until=now() + SOON).claimed
    assert executions.claim("RSTAG1", (Status.PENDING,), lease_until=now() + SOON).claimed


def test_finishing_writes_the_outcome_and_the_env_state_together(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.set_env_state(EnvState("prod", "prod-stagger", True, None, ("BADGE_AUTO_UNLOCK",)))
    store.add_request(pending())
    executions = Executions(store)
    assert executions.claim("RABCDE", (Status.PENDING,), lease_until=now() + SOON).claimed

    finished = executions.finish(
        "RABCDE",
        Status.SUCCEEDED,
        "verified on all 1 host(s)",
        lambda state: replace(
            state, disabled_jobs=tuple(sorted({*state.disabled_jobs, "LIVE_STATS_SYNC"}))
        ),
    )

    assert finished
    assert store.request("RABCDE").status is Status.SUCCEEDED  # type: ignore[union-attr]
    assert store.env_state("prod").disabled_jobs == ("BADGE_AUTO_UNLOCK", "LIVE_STATS_SYNC")


def test_a_process_cannot_finish_or_renew_what_another_process_owns(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.add_request(pending())
    claim_elsewhere(store, "RABCDE", lease_left_s=3600)
    executions = Executions(store)

    assert not executions.renew("RABCDE", now() + SOON)
    assert not executions.finish(
        "RABCDE", Status.SUCCEEDED, "done", lambda state: replace(state, note="mine")
    )
    assert store.request("RABCDE").status is Status.EXECUTING  # type: ignore[union-attr]
    assert store.env_state("prod").note == ""


def test_an_execution_is_interrupted_only_once_its_lease_lapsed(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.add_request(pending())
    executions = Executions(store)
    assert executions.claim("RABCDE", (Status.PENDING,), lease_until=now() + SOON).claimed

    assert not executions.interrupt_if_lapsed("RABCDE", now(), "gone")
    assert executions.interrupt_if_lapsed("RABCDE", now() + 2 * SOON, "gone")

    request = store.request("RABCDE")
    assert request is not None and request.status is Status.INTERRUPTED
    assert request.outcome == "gone"
    # Its owner can no longer finish it: the env's state is left to whoever acts next.
    assert not executions.finish("RABCDE", Status.SUCCEEDED, "late")
