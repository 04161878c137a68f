from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.core.errors import SpecError
from bot.core.spec import load_spec, parse_spec

EXAMPLE = Path("stagger.example.toml")


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    return caught.value.problems


def test_example_spec_encodes_the_runbook() -> None:
    spec = load_spec(EXAMPLE)
    assert set(spec.environments) == {"staging", "prod"}
    assert [phase.name for phase in spec.phases] == [
        "staging-baseline",
        "staging-stagger",
        "prod-baseline",
        "prod-stagger",
    ]
    assert [(phase.stagger, phase.min_duration_h) for phase in spec.phases] == [
        (False, 24),
        (True, 72),
        (False, 6),
        (True, 168),
    ]
    offsets = {job.name: (job.interval_s, job.offset_s) for job in spec.jobs}
    assert offsets == {
        "Referral Tier 2 Processor": (60, 0),
        "Referral Tier 3 Processor": (60, 15),
        "Scheduled Notifications": (60, 30),
        "Live Stats Sync": (60, 45),
        "Badge Auto-Unlock": (300, 5),
        "Prediction Matcher": (300, 25),
        "Stuck Match Finisher": (600, 10),
        "Telegram Settlement": (600, 40),
    }
    assert spec.kpis["pool_util_max"].alert == "> 70"
    assert len(spec.rollback_triggers) == 6
    assert spec.environments["prod"].approvals.allow_self is False


def test_every_problem_is_named_by_its_key_path() -> None:
    data = example()
    data["environments"]["prod"]["approvals"]["required"] = "two"
    data["environments"]["prod"]["hosts"] = ["prod.example.com"]
    data["environments"]["staging"]["app_dir"] = "relative/dir"
    data["chanel"] = "C0TYPO"
    problems = problems_of(data)
    joined = "\n".join(problems)
    assert "environments.prod.approvals.required:" in joined
    assert "environments.prod.hosts:" in joined and "prod.example.com" in joined
    assert "environments.staging.app_dir: must be an absolute path" in joined
    assert "chanel: unknown key" in joined


def test_more_required_approvals_than_approvers_is_refused() -> None:
    data = example()
    data["environments"]["prod"]["approvals"]["required"] = 3
    assert any("only 2 approver(s)" in problem for problem in problems_of(data))


def test_colliding_offsets_are_refused_unless_allowed() -> None:
    data = example()
    data["jobs"][1]["offset_s"] = 0  # Referral Tier 3 now starts with Tier 2
    assert any(
        "REFERRAL_TIER2 and REFERRAL_TIER3 start in the same second" in problem
        for problem in problems_of(data)
    )
    data["allow_offset_collisions"] = True
    assert parse_spec(data).jobs[1].offset_s == 0


def test_a_five_minute_job_colliding_with_a_minute_job_is_found() -> None:
    data = example()
    data["jobs"][4]["offset_s"] = 15  # Badge Auto-Unlock onto Referral Tier 3's second
    assert any("REFERRAL_TIER3 and BADGE_AUTO_UNLOCK" in p for p in problems_of(data))


def test_unknown_phase_environment_and_trigger_kpi_are_named() -> None:
    data = example()
    data["phases"][0]["env"] = "qa"
    data["rollback_triggers"][0]["kpi"] = "nope"
    env, kpi = problems_of(data)
    assert env == (
        "phases[0] (staging-baseline).env: unknown environment 'qa' (known: staging, prod)"
    )
    assert kpi.startswith(
        "rollback_triggers[0] (Job error rate increases by >5%).kpi: unknown KPI 'nope' "
        "(known: pool_util_avg, pool_util_max, "
    )


def test_a_bad_threshold_condition_is_explained() -> None:
    data = example()
    data["kpis"]["pool_util_avg"]["alert"] = "above sixty"
    assert any("'above sixty' is not a condition" in p for p in problems_of(data))


def test_check_config_prints_problems_and_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "stagger.toml"
    broken.write_text(EXAMPLE.read_text().replace('channel = "C0ROLLOUT"', 'channel = "general"'))
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "channel: must be a Slack channel ID like C0123ABCD, not a #name" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_accepts_the_example(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "2 environment(s), 8 job(s), 4 phase(s)" in result.stdout


def test_unreadable_and_invalid_toml_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the file"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("channel = \n")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)


def test_phase_success_criteria_name_measured_kpis_and_valid_conditions() -> None:
    data = example()
    data["phases"][1]["success"] = {"pool_util": "< 50", "error_rate": "about the same"}
    joined = "\n".join(problems_of(data))
    assert "phases[1] (staging-stagger).success: unknown KPI 'pool_util'" in joined
    data["phases"][1]["success"] = {"error_rate": "about the same"}
    assert "'about the same' is not a condition" in "\n".join(problems_of(data))


def test_validation_minutes_must_ascend() -> None:
    data = example()
    data["validation"]["checks_after_min"] = [15, 5]
    assert "validation.checks_after_min: must be positive minutes in ascending order" in (
        "\n".join(problems_of(data))
    )


def test_host_in_app_dir_stands_for_each_hosts_name() -> None:
    data = example()
    data["environments"]["prod"]["app_dir"] = "/srv/{host}/goalgpt"
    data["environments"]["prod"]["hosts"] = [
        "root@web-1.example.com",
        "root@web-2.example.com:2222",
    ]
    prod = parse_spec(data).environments["prod"]
    assert [prod.env_file_on(host) for host in prod.host_addresses] == [
        "/srv/web-1.example.com/goalgpt/.env",
        "/srv/web-2.example.com/goalgpt/.env",
    ]
    data["environments"]["prod"]["app_dir"] = "/srv/{user}/goalgpt"
    assert "the only placeholder allowed is {host}" in "\n".join(problems_of(data))


def test_a_misspelt_key_is_answered_with_the_nearest_known_one() -> None:
    data = example()
    data["ssh"]["key_fle"] = data["ssh"].pop("key_file")
    data["environments"]["prod"]["approvals"]["alow_self"] = False
    data["checkpoints"]["channel"] = "C0CHECKS"
    problems = problems_of(data)
    assert "ssh.key_fle: unknown key; did you mean 'key_file'?" in problems
    assert "environments.prod.approvals.alow_self: unknown key; did you mean 'allow_self'?" in (
        problems
    )
    assert "checkpoints.channel: unknown key (known here: cron, grace_min, " in (
        "\n".join(problems)
    )


def test_a_misspelt_kpi_in_success_criteria_suggests_the_measured_one() -> None:
    data = example()
    data["phases"][3]["success"] = {"eror_rate": "< 1"}
    (problem,) = problems_of(data)
    assert problem.startswith(
        "phases[3] (prod-stagger).success: unknown KPI 'eror_rate'; did you mean 'error_rate'?"
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("operators", ["@ops"]),
         "operators[0]: must be a Slack user ID like U0123ABCD, not a @name (got '@ops')"),
        (("ssh.connect_timeout_s", "ten"), "ssh.connect_timeout_s: must be a number (got 'ten')"),
        (("ssh.command_timeout_s", 900), "ssh.command_timeout_s: must be at most 600 (got 900)"),
        (("logs.format", "xml"), "logs.format: must be 'text' or 'json' (got 'xml')"),
        (("alerts.every_min", 1.5), "alerts.every_min: must be a whole number (got 1.5)"),
        (("environments.prod.auto_rollback", "maybe"),
         "environments.prod.auto_rollback: must be true or false (got 'maybe')"),
        (("environments.prod.hosts", []), "environments.prod.hosts: must list at least 1 item"),
        (("environments.prod.database_url_env", "prod-db"),
         "environments.prod.database_url_env: must be an environment variable's name like "
         "PROD_DATABASE_URL (got 'prod-db')"),
        (("flag.enabled_line", ""), "flag.enabled_line: must not be empty"),
        (("validation", "often"), "validation: must be a table, like [validation] (got 'often')"),
        (("jobs", []), "jobs: must list at least 1 item"),
    ],
)  # fmt: skip
def test_a_wrong_value_is_answered_with_what_it_must_be(
    change: tuple[str, object], problem: str
) -> None:
    path, value = change
    data = example()
    *parents, key = path.split(".")
    section = data
    for parent in parents:
        section = section[parent]
    section[key] = value
    assert problem in problems_of(data)


def test_the_example_spec_users_copy_is_the_one_the_package_ships() -> None:
    """The root file is what README step 3 copies; the packaged one is what a bare
    `stagger-bot rehearse` reads after `pip install .`: one text, kept as two real files
    (a symlink breaks `cp -a` and checkouts without symlinks)."""
    root = Path(__file__).resolve().parents[2]
    shipped = root / "bot" / "stagger.example.toml"
    assert not (root / "stagger.example.toml").is_symlink()
    assert (root / "stagger.example.toml").read_bytes() == shipped.read_bytes()


def test_a_trigger_on_a_measured_kpi_needs_no_threshold_row() -> None:
    data = example()
    del data["kpis"]["offset_misses"]
    trigger = parse_spec(data).rollback_triggers[2]
    assert (trigger.kpi, trigger.condition) == ("offset_misses", "> 0")


def test_colliding_offsets_are_named_along_with_a_wrong_field() -> None:
    data = example()
    data["jobs"][1]["offset_s"] = 0
    data["channel"] = "general"
    problems = problems_of(data)
    assert problems[0].startswith("channel: must be a Slack channel ID")
    assert any("REFERRAL_TIER2 and REFERRAL_TIER3 start in the same second" in p for p in problems)
    data["allow_offset_collisions"] = "true"
    assert not any("start in the same second" in p for p in problems_of(data))
