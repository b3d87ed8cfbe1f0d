"""The declared environment: pyproject, constraints.txt and environment.yml agree."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers.core.paths import PROJECT_ROOT


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


OPTIONAL_EXTRAS = ("gpu",)  # pinned, but not part of the tested environment (CUDA 12 cuBLAS: GPU machines only)


def _declared(with_optional: bool = False) -> list[Requirement]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    groups = project.get("optional-dependencies", {})
    extras = [dep for name, group in groups.items() if with_optional or name not in OPTIONAL_EXTRAS for dep in group]
    return [Requirement(dep) for dep in project["dependencies"] + extras]


def _conda_pip_section() -> list[str]:
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip section"
    return pip_sections[0]


def test_torch_pins():
    pins = _constraints()
    assert pins["torch"] == "2.14.1"
    assert pins["torchvision"] == "0.29.1"
    declared = {canonicalize_name(r.name): str(r.specifier) for r in _declared()}
    assert declared["torch"] == "==2.14.1"
    assert declared["torchvision"] == "==0.29.1"


def test_every_declared_dependency_is_pinned_and_allowed_by_its_range():
    pins = _constraints()
    for requirement in _declared(with_optional=True):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} violates {requirement}"
        )


def test_environment_yml_matches_pip_environment():
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    entries = _conda_pip_section()
    assert "-c constraints.txt" in entries and "-e ." in entries
    conda_pins = {}
    for entry in entries:
        if not entry.startswith("-"):
            requirement = Requirement(entry)
            conda_pins[canonicalize_name(requirement.name)] = str(requirement.specifier)
    pins = _constraints()
    declared = {canonicalize_name(r.name) for r in _declared()}
    assert set(conda_pins) == declared, "environment.yml and pyproject.toml list different packages"
    for name, specifier in conda_pins.items():
        assert specifier == f"=={pins[name]}", (
            f"environment.yml pins {name}{specifier}, constraints.txt has {pins[name]}"
        )


def test_installed_versions_match_constraints():
    """The running environment is the pinned one (catches a stale .venv)."""
    from importlib.metadata import version

    pins = _constraints()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert version(requirement.name) == pins[name], (
            f"{name}: installed {version(requirement.name)}, pinned {pins[name]}"
        )
