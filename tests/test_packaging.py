"""`pip install .` (not editable) is a whole stagger-bot: the wheel holds every package
and the data the CLI reads, so the installed command rehearses from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the build reads: the project's metadata and the packages it lists.
SOURCES = ("pyproject.toml", "README.md", "stagger.example.toml", "bot", "commands", "jobs")


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"{command}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


def build_wheel(tmp_path: Path) -> Path:
    """Built from a copy of the checkout, so the build's own files stay out of it; nothing
    is downloaded (`--no-index`, the machine's setuptools)."""
    source = tmp_path / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name, follow_symlinks=False)
    wheels = tmp_path / "wheels"
    run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--no-index", "--wheel-dir", wheels, source, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = wheels.glob("stagger_bot-*.whl")
    return wheel


def make_venv(tmp_path: Path) -> Path:
    """A venv that sees the machine's packages (the bot's dependencies, pip) but holds its
    own stagger-bot."""
    venv = tmp_path / "venv"
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot create a venv on this machine: {made.stderr.strip()}")
    return venv


def test_the_installed_wheel_rehearses_with_its_own_example_spec_from_any_folder(
    tmp_path: Path,
) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        packaged = archive.read("bot/stagger.example.toml")
    assert packaged == (ROOT / "stagger.example.toml").read_bytes()

    venv = make_venv(tmp_path)
    python, command = venv / "bin" / "python", venv / "bin" / "stagger-bot"
    # --ignore-installed: the machine may have this very version installed (editable).
    run(
        python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--ignore-installed",
        wheel, cwd=tmp_path,
    )  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "tmp").mkdir(parents=True)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "STAGGER_", "PYTHON")) and not key.endswith("DATABASE_URL")
    }
    environment["TMPDIR"] = str(elsewhere / "tmp")  # where the rehearsal keeps its store

    imported = run(python, "-c", "import bot; print(bot.__file__)", cwd=elsewhere, env=environment)
    assert Path(imported.strip()).is_relative_to(venv), "the checkout's bot ran, not the wheel's"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert run(command, "--version", cwd=elsewhere, env=environment).strip() == (
        f"stagger-bot {version}"
    )
    run(command, "rehearse", "--scenario", "collision", cwd=elsewhere, env=environment)
