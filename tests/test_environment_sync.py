"""pyproject.toml and environment.yml declare the same dependencies with the same specifiers.

pyproject.toml (runtime dependencies plus the ``book`` and ``test`` extras) is what ``make venv``
installs; environment.yml is what conda and Binder install. If they drift apart, a reader on Binder
runs different code from a student on a laptop. Apart from ``python`` and ``pip`` themselves, and
the local install of this repository (``-e .``), every package must appear in both files with an
identical version specifier.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
ENVIRONMENT = ROOT / "environment.yml"
EXTRAS = ("book", "test")
# Entries of environment.yml that have no counterpart in pyproject.toml by design.
ENV_ONLY = {"python", "pip"}


def _spec(req: Requirement) -> str:
    """The part of a requirement that must match: extras, version specifier and marker."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    spec = ",".join(sorted(str(s) for s in req.specifier))
    marker = f"; {req.marker}" if req.marker else ""
    return f"{extras}{spec}{marker}"


def _add(found: dict[str, str], text: str, where: str, problems: list[str]) -> None:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        problems.append(f"{where}: cannot parse {text!r} as a requirement ({exc})")
        return
    name = canonicalize_name(req.name)
    spec = _spec(req)
    if name in found and found[name] != spec:
        problems.append(
            f"{where}: {req.name} is listed twice with different specifiers: "
            f"{found[name] or '(none)'!r} and {spec or '(none)'!r}"
        )
        return
    found[name] = spec


def pyproject_deps(data: dict, problems: list[str]) -> dict[str, str]:
    """Canonical name -> specifier, over the runtime dependencies and the book and test extras."""
    project = data.get("project", {})
    found: dict[str, str] = {}
    for text in project.get("dependencies", []):
        _add(found, text, "pyproject.toml [project.dependencies]", problems)
    extras = project.get("optional-dependencies", {})
    for extra in EXTRAS:
        if extra not in extras:
            problems.append(f"pyproject.toml has no optional-dependencies extra {extra!r}")
            continue
        for text in extras[extra]:
            _add(found, text, f"pyproject.toml extra {extra!r}", problems)
    return found


def _is_local(text: str) -> bool:
    """A pip line that installs this repository (``-e .``, ``.``) rather than a package."""
    t = text.strip()
    return t.startswith(("-e ", "--editable ", ".", "/", "file:"))


def environment_deps(data: dict, problems: list[str]) -> dict[str, str]:
    """Canonical name -> specifier, over conda dependencies and the pip section."""
    found: dict[str, str] = {}
    deps = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(deps, list):
        problems.append("environment.yml has no 'dependencies' list")
        return found
    for entry in deps:
        if isinstance(entry, dict):
            for text in entry.get("pip", []) or []:
                if not _is_local(str(text)):
                    _add(found, str(text), "environment.yml pip section", problems)
            continue
        text = str(entry).strip()
        name = text.replace("=", " ").replace("<", " ").replace(">", " ").split()[0]
        if canonicalize_name(name) in ENV_ONLY:
            continue
        # conda spells an exact pin "pkg=1.2"; pyproject would say "pkg==1.2" (and mean less).
        _add(found, text, "environment.yml conda dependencies", problems)
    return found


def compare(pyproject: dict[str, str], environment: dict[str, str]) -> list[str]:
    """Every difference between the two dependency sets, one readable line each."""
    lines = []
    for name in sorted(set(pyproject) - set(environment)):
        lines.append(
            f"{name}{pyproject[name]} is in pyproject.toml but missing from environment.yml"
        )
    for name in sorted(set(environment) - set(pyproject) - ENV_ONLY):
        lines.append(
            f"{name}{environment[name]} is in environment.yml but missing from pyproject.toml"
        )
    for name in sorted(set(pyproject) & set(environment)):
        if pyproject[name] != environment[name]:
            lines.append(
                f"{name}: pyproject.toml says {pyproject[name] or '(no specifier)'!r}, "
                f"environment.yml says {environment[name] or '(no specifier)'!r}"
            )
    return lines


def test_environment_yml_matches_pyproject():
    problems: list[str] = []
    pp = pyproject_deps(tomllib.loads(PYPROJECT.read_text(encoding="utf-8")), problems)
    env = environment_deps(yaml.safe_load(ENVIRONMENT.read_text(encoding="utf-8")), problems)
    problems += compare(pp, env)
    assert not problems, "pyproject.toml and environment.yml disagree:\n  " + "\n  ".join(problems)


def test_environment_yml_pins_python_311_and_pip():
    data = yaml.safe_load(ENVIRONMENT.read_text(encoding="utf-8"))
    plain = [str(d).replace(" ", "") for d in data["dependencies"] if not isinstance(d, dict)]
    assert "python=3.11" in plain, f"environment.yml must pin python=3.11, has {plain}"
    assert "pip" in plain, f"environment.yml must list pip, has {plain}"


def test_pyproject_declares_book_and_test_extras():
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert data["project"]["name"] == "dslab-course"
    assert data["project"]["requires-python"] == ">=3.11"
    assert set(EXTRAS) <= set(data["project"]["optional-dependencies"])


# The checker itself: it must name the package that is missing or mismatched.


@pytest.mark.parametrize(
    ("pp", "env", "expected"),
    [
        (
            {"simpy": ">=4.1"},
            {},
            "simpy>=4.1 is in pyproject.toml but missing from environment.yml",
        ),
        ({}, {"tqdm": ""}, "tqdm is in environment.yml but missing from pyproject.toml"),
        (
            {"numpy": ">=1.26"},
            {"numpy": ">=1.25"},
            "numpy: pyproject.toml says '>=1.26', environment.yml says '>=1.25'",
        ),
        (
            {"jupyter-book": "==1.0.4.post1"},
            {"jupyter-book": ""},
            "jupyter-book: pyproject.toml says '==1.0.4.post1', "
            "environment.yml says '(no specifier)'",
        ),
    ],
)
def test_compare_names_the_offending_package(pp, env, expected):
    assert compare(pp, env) == [expected]


def test_specifier_order_and_name_spelling_do_not_matter():
    problems: list[str] = []
    a: dict[str, str] = {}
    b: dict[str, str] = {}
    _add(a, "Sphinx_Proof>=0.2,<1", "a", problems)
    _add(b, "sphinx-proof <1, >=0.2", "b", problems)
    assert not problems
    assert compare(a, b) == []


def test_conflicting_duplicates_are_reported():
    problems: list[str] = []
    found: dict[str, str] = {}
    _add(found, "ipykernel>=6.29", "book", problems)
    _add(found, "ipykernel>=6.0", "test", problems)
    assert len(problems) == 1 and "ipykernel" in problems[0]


def test_local_install_of_the_repo_is_not_a_dependency():
    problems: list[str] = []
    env = environment_deps(
        {"dependencies": ["python=3.11", "pip", {"pip": ["-e .", "simpy>=4.1"]}]}, problems
    )
    assert not problems
    assert env == {"simpy": ">=4.1"}
