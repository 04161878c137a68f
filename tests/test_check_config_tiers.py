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
