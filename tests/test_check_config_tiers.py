"""`stagger-bot check-config` on the host-tier keys: a canary that is not one of the
env's hosts is refused by name, and a soak no validation check watches is warned about."""

from __future__ import annotations

from pathlib import Path

from tests.test_check_config import spec_with, stagger_bot

PROD_HOSTS = 'hosts = ["root@prod.example.com"]'


def test_check_config_refuses_a_canary_that_is_not_one_of_the_envs_hosts(tmp_path: Path) -> None:
    spec = spec_with(
        tmp_path,
        (PROD_HOSTS, 'hosts = ["root@web-1", "root@web-2"]\ncanary = ["root@web-3"]\n'
         'max_parallel = "0%"'),
    )  # fmt: skip
    result = stagger_bot("check-config", str(spec), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "environments.prod.canary: 'root@web-3' is not one of the env's hosts" in result.stderr
    assert "environments.prod.max_parallel: '0%': a percentage must be from 1% to 100%" in (
        result.stderr
    )


def test_check_config_warns_of_a_soak_that_ends_before_the_first_validation_check(
    tmp_path: Path,
) -> None:
    spec = spec_with(
        tmp_path,
        (PROD_HOSTS, 'hosts = ["root@web-1", "root@web-2", "root@web-3"]\n'
         'canary = ["root@web-2"]\nmax_parallel = 1\ncanary_soak_min = 2'),
    )  # fmt: skip
    result = stagger_bot("check-config", str(spec), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "warning: environments.prod.canary_soak_min: the soak (2 min) ends before the first "
        "validation check (+5 min)"
    ) in result.stderr


def test_check_config_refuses_a_boolean_or_a_quoted_number_for_the_tier_keys(
    tmp_path: Path,
) -> None:
    spec = spec_with(
        tmp_path,
        (PROD_HOSTS, 'hosts = ["root@web-1", "root@web-2"]\ncanary = ["root@web-1"]\n'
         'max_parallel = true\ncanary_soak_min = "5"\nrollback_in_tiers = "yes"'),
    )  # fmt: skip
    result = stagger_bot("check-config", str(spec), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "environments.prod.max_parallel: true is not a number of hosts (1 or more) nor a "
        'percentage like "25%"'
    ) in result.stderr
    assert (
        'environments.prod.canary_soak_min: "5" is not a number of minutes: write it unquoted'
    ) in result.stderr
    assert 'environments.prod.rollback_in_tiers: "yes" is neither true nor false' in result.stderr


def test_check_config_refuses_a_number_for_rollback_in_tiers_and_a_boolean_soak(
    tmp_path: Path,
) -> None:
    spec = spec_with(
        tmp_path,
        (PROD_HOSTS, 'hosts = ["root@web-1", "root@web-2"]\ncanary = ["root@web-1"]\n'
         "canary_soak_min = true\nrollback_in_tiers = 1"),
    )  # fmt: skip
    result = stagger_bot("check-config", str(spec), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "environments.prod.canary_soak_min: true is not a number of minutes" in result.stderr
    assert "environments.prod.rollback_in_tiers: 1 is neither true nor false" in result.stderr


def test_check_config_warns_that_a_soak_without_canary_hosts_has_no_effect(
    tmp_path: Path,
) -> None:
    spec = spec_with(
        tmp_path,
        (PROD_HOSTS, 'hosts = ["root@web-1", "root@web-2"]\nmax_parallel = 1\n'
         "canary_soak_min = 10"),
    )  # fmt: skip
    result = stagger_bot("check-config", str(spec), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "warning: environments.prod.canary_soak_min: has no effect without canary hosts"
    ) in result.stderr
    assert "max_parallel" not in result.stderr  # batches work without a canary
