"""Install and first run (issue 17, item 8): the README quick start in a fresh virtual environment
without developer tools, the examples shipped as package data, shell completion, packaging
metadata."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import watchpost
from tests.conftest import PROJECT
from watchpost.cli import main
from watchpost.commands.examples import examples_folder

PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE = Path(watchpost.__file__).resolve().parent


def test_hunt_examples_runs_from_any_folder_on_the_shipped_examples(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["hunt", "--examples", "-f", "jsonl", "-q"], catch_exceptions=False)
    assert result.exit_code == 0
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    products = {alert["events"][0]["origin"]["path"].split(os.sep)[-3] for alert in alerts}
    assert {"windows", "linux", "macos", "cloud"} <= products
    assert examples_folder().is_relative_to(PACKAGE)


def test_the_repository_examples_folder_is_the_shipped_one() -> None:
    assert (PROJECT / "examples").resolve() == examples_folder()


def test_hunt_without_inputs_says_what_to_give() -> None:
    result = CliRunner().invoke(main, ["hunt"])
    assert result.exit_code == 2 and "--examples" in result.stderr


def test_shell_completion_offers_file_names_for_hunt_inputs() -> None:
    def complete(words: str) -> list[str]:
        env = {"_WATCHPOST_COMPLETE": "bash_complete", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - 1)}
        result = CliRunner().invoke(main, [], env=env, prog_name="watchpost")
        return result.output.splitlines()

    assert complete("watchpost hunt logs/x") == ["file,logs/x"]  # the shell lists the files
    assert complete("watchpost hunt -r rul") == ["file,rul"]
    assert "plain,--exclude-tag" in complete("watchpost hunt --exclude")
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert "_WATCHPOST_COMPLETE=bash_source watchpost" in readme


def test_packaging_metadata() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"  # an SPDX expression, not the old table form
    click = next(dep for dep in project["dependencies"] if dep.startswith("click"))
    assert "<9" in click.replace(" ", "")  # click 9 removes get_text_stream
    assert any(req.startswith("setuptools>=") and int(req.split(">=")[1].split(".")[0]) >= 77
               for req in PYPROJECT["build-system"]["requires"])
    names = {re.split(r"[<>=\[ ]", dependency)[0] for dependency in project["dependencies"]}
    assert not {"pytest", "mypy", "ruff", "hypothesis"} & names


def test_package_data_covers_the_examples_and_the_noisy_list() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["watchpost"]
    shipped = {p for pattern in patterns for p in PACKAGE.glob(pattern) if p.is_file()}
    for needed in [*examples_folder().rglob("*"), PACKAGE / "rules" / "noisy_rules.txt"]:
        if needed.is_file():
            assert needed in shipped, needed


def test_the_readme_documents_the_rule_cache_and_its_switch() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert "WATCHPOST_RULE_CACHE=0" in readme and "~/.cache/watchpost" in readme


def quick_start_command() -> str:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```", 1)[0]


@pytest.mark.slow
def test_the_readme_quick_start_works_in_a_fresh_venv_without_developer_tools(tmp_path: Path) -> None:
    """The README's first command, verbatim, in a copy of the project: a venv, `pip install .`,
    `watchpost hunt --examples`. Needs pip to reach an index (or a local wheel house)."""
    command = quick_start_command()
    assert "python3 -m venv" in command and "pip install ." in command and "hunt --examples" in command
    copy = tmp_path / "watchpost"
    shutil.copytree(PROJECT, copy, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(["sh", "-c", command], cwd=copy, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "alerts" in done.stderr and "Net Use" in done.stdout
    venv_python = copy / ".venv" / "bin" / "python3"
    probe = subprocess.run([str(venv_python), "-c", "import watchpost, importlib.util as u; "
                            "print(watchpost.__file__, u.find_spec('pytest') is None)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    location, no_pytest = probe.stdout.split()
    assert ".venv" in location and no_pytest == "True"
