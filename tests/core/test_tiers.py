"""Host tiers: the canary first, the rest in spec order in batches of `max_parallel`, and
the spec's words when a key is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.errors import SpecError
from bot.core.spec import parse_spec
from bot.core.tiers import ALL_HOSTS, Tier, batch_size, plan_tiers, restricted
from tests.support.spec_data import spec_data

HOSTS = [f"deploy@web-{n}" for n in range(1, 8)]


def prod_with(**keys: Any) -> dict[str, Any]:
    data = spec_data(HOSTS, "/srv/app", known_hosts=Path("/k"), key_file=Path("/k"))
    data["environments"]["prod"].update(keys)
    return data


def test_without_a_canary_and_with_the_default_every_host_goes_at_once_as_before() -> None:
    environment = parse_spec(prod_with()).environments["prod"]
    assert environment.tiers == (Tier(ALL_HOSTS, tuple(HOSTS)),)
    assert environment.rollback_tiers() == (Tier(ALL_HOSTS, tuple(HOSTS)),)


def test_the_canary_goes_first_then_the_rest_in_spec_order_in_batches() -> None:
    tiers = plan_tiers(HOSTS, ["deploy@web-3"], 2)
    assert [tier.label() for tier in tiers] == [
        "canary (deploy@web-3)",
        "batch 2 (deploy@web-1, deploy@web-2)",
        "batch 3 (deploy@web-4, deploy@web-5)",
        "batch 4 (deploy@web-6, deploy@web-7)",
    ]


@pytest.mark.parametrize(
    ("max_parallel", "hosts", "size"),
    [("25%", 6, 2), ("25%", 4, 1), ("1%", 3, 1), ("100%", 6, 6), ("34%", 3, 2), (3, 2, 3)],
)
def test_a_percentage_rounds_up_and_a_batch_is_never_empty(
    max_parallel: int | str, hosts: int, size: int
) -> None:
    assert batch_size(max_parallel, hosts) == size


def test_batches_without_a_canary_are_numbered_from_one() -> None:
    tiers = plan_tiers(HOSTS[:3], [], "50%")
    assert [tier.name for tier in tiers] == ["batch 1", "batch 2"]
    assert tiers[0].hosts == tuple(HOSTS[:2])


def test_a_retry_keeps_only_its_hosts_in_their_tiers() -> None:
    tiers = plan_tiers(HOSTS[:4], [HOSTS[0]], 1)
    assert restricted(tiers, [HOSTS[2], HOSTS[3]]) == (
        Tier("batch 3", (HOSTS[2],)),
        Tier("batch 4", (HOSTS[3],)),
    )


def test_rollbacks_go_in_tiers_only_when_the_env_asks() -> None:
    keys = {"canary": [HOSTS[0]], "max_parallel": 3}
    at_once = parse_spec(prod_with(**keys)).environments["prod"]
    assert [tier.name for tier in at_once.rollback_tiers()] == [ALL_HOSTS]
    tiered = parse_spec(prod_with(**keys, rollback_in_tiers=True)).environments["prod"]
    assert [tier.name for tier in tiered.rollback_tiers()] == ["canary", "batch 2", "batch 3"]


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        ({"canary": ["deploy@web-9"]}, "environments.prod.canary: 'deploy@web-9' is not one of "
         "the env's hosts (write it exactly as in `hosts`)"),
        ({"canary": ["deploy@web-1:22"]}, "'deploy@web-1:22' is not one of the env's hosts"),
        ({"canary": HOSTS}, "environments.prod.canary: names every host"),
        ({"canary": [HOSTS[0], HOSTS[0]]}, "environments.prod.canary: lists a host twice"),
        ({"max_parallel": 0}, "environments.prod.max_parallel: 0 is not a number of hosts"),
        ({"max_parallel": "0%"}, "environments.prod.max_parallel: '0%': a percentage must be "
         "from 1% to 100%"),
        ({"max_parallel": "150%"}, "a percentage must be from 1% to 100%"),
        ({"max_parallel": "half"}, "environments.prod.max_parallel: 'half' is not a number of "
         "hosts or a percentage like \"25%\""),
        ({"canary_soak_min": -1}, "environments.prod.canary_soak_min"),
        ({"canary_soak_min": 100000}, "environments.prod.canary_soak_min"),
    ],
)  # fmt: skip
def test_a_wrong_tier_key_is_refused_naming_it(keys: dict[str, Any], said: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse_spec(prod_with(**keys))
    assert said in str(refused.value)
