"""Packaging can't drift: the two conda env files list the same dependencies (and never the project
itself), every setting of every service is documented in the README, and mini_kernel's public names
are pinned (DESIGN §5.8, §5.9, §6 "Installs")."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

import mini_kernel
from services.supervisor import catalog

ROOT = Path(__file__).resolve().parents[2]

# The public surface of mini_kernel.  Change it on purpose: add the name here with the code.
MINI_KERNEL_ALL: list[str] = []


def env_dependencies(path: Path) -> tuple[list[str], list[str]]:
    """(conda dependencies, pip dependencies) of an environment file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    conda, pip = [], []
    for dep in doc["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep.get("pip", []))
        else:
            conda.append(dep)
    return conda, pip


def test_binder_env_lists_the_same_dependencies_as_the_root_env():
    assert env_dependencies(ROOT / "binder" / "environment.yml") == env_dependencies(ROOT / "environment.yml")


def test_env_file_lists_the_runtime_dependencies_of_pyproject():
    """A conda/Binder user gets what `pip install .` would install (extras aside)."""
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert env_dependencies(ROOT / "environment.yml")[1] == runtime


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_env_files_list_dependencies_only(path):
    conda, pip = env_dependencies(ROOT / path)
    assert any(dep.startswith("python") for dep in conda)
    for dep in pip:
        assert not dep.startswith(("-e", ".", "/")), f"{path}: {dep!r} installs a path (postBuild runs pip install -e .)"


def test_binder_scripts():
    post_build = (ROOT / "binder" / "postBuild").read_text()
    start = (ROOT / "binder" / "start").read_text()
    assert "pip install" in post_build and "-e ." in post_build
    assert "mini up --detach" in start and 'exec "$@"' in start
    for script in ("postBuild", "start"):
        assert (ROOT / "binder" / script).stat().st_mode & 0o111, f"binder/{script} is not executable"


def test_ci_only_runs_make_test():
    lines = [l for l in (ROOT / ".ci" / "run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines == ["set -euo pipefail", "make test"]


def test_console_script_and_pytest_plugin_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["mini"] == "services.supervisor.cli:main"
    assert project["entry-points"]["pytest11"]["mini"] == "mini_kernel.pytest_plugin"


def test_every_setting_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = []
    for package, setting in catalog.all_settings():
        assert setting.help.strip(), f"{package}: {setting.key} has no help text"
        if f"`{setting.key}`" not in readme:
            missing.append(f"{package}: {setting.key}")
    assert not missing, ("settings missing from README.md's settings tables (`mini settings --markdown PACKAGE` "
                         "prints the rows):\n" + "\n".join(missing))


def test_mini_kernel_public_names_are_pinned():
    assert sorted(mini_kernel.__all__) == sorted(MINI_KERNEL_ALL)
    for name in mini_kernel.__all__:
        assert hasattr(mini_kernel, name), name
