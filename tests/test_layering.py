"""Layering and determinism rules, checked on the source with ``ast`` (DESIGN: Determinism rules).

1. Protocol cores are sans-I/O: no module under ``dslab/`` imports ``simpy``, except the world
   itself (``dslab/sim/``), plots (``dslab/viz/``), checkers (``dslab/check/``) and the scenario
   runners (``experiments.py``, ``harness.py``).
2. Nothing under ``dslab/`` calls the global ``random`` functions (``random.Random(...)`` is the
   allowed way to own a stream), reads or sleeps on the wall clock, makes OS-random or
   clock-based uuids, or calls the builtin ``hash()`` (salted per process for strings).

Each failure names the offending ``file:line``.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "dslab"

SIMPY_ALLOWED_DIRS = ("sim", "viz", "check")
SIMPY_ALLOWED_FILES = ("experiments.py", "harness.py")

RANDOM_ALLOWED = {"Random"}  # every other attribute of `random` is global state or OS entropy
BANNED = {
    "time.time",
    "time.time_ns",
    "time.monotonic",
    "time.monotonic_ns",
    "time.sleep",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "uuid.uuid1",
    "uuid.uuid4",
    "os.urandom",
}


def modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if ".ipynb_checkpoints" not in p.parts)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def simpy_imports(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(n == "simpy" or n.startswith("simpy.") for n in names):
            lines.append(node.lineno)
    return lines


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> fully qualified name, from every import in the module."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    out[top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _dotted(expr: ast.AST) -> str | None:
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def banned_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every banned call in ``tree``."""
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        dotted = _dotted(node.func)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        if head == "hash" and not rest and head not in aliases:
            found.append((node.lineno, "hash()"))
            continue
        if head not in aliases:
            continue
        qual = aliases[head] + ("." + rest if rest else "")
        mod, _, attr = qual.partition(".")
        if mod == "random" and attr and attr not in RANDOM_ALLOWED:
            found.append((node.lineno, qual))
        elif qual in BANNED:
            found.append((node.lineno, qual))
    return found


def parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def is_protocol_layer(path: Path) -> bool:
    parts = path.relative_to(PKG).parts
    return parts[0] not in SIMPY_ALLOWED_DIRS and path.name not in SIMPY_ALLOWED_FILES


# --- the rules over the package ---------------------------------------------------------------
def test_the_scan_covers_the_package():
    names = {rel(p) for p in modules()}
    assert {"dslab/core.py", "dslab/history.py", "dslab/sim/world.py"} <= names
    assert "dslab/core.py" in {rel(p) for p in modules() if is_protocol_layer(p)}


def test_protocol_cores_import_no_simpy():
    offenders = [
        f"{rel(p)}:{line}"
        for p in modules()
        if is_protocol_layer(p)
        for line in simpy_imports(parse(p))
    ]
    assert offenders == [], f"sans-I/O layers must not import simpy: {offenders}"


def test_no_module_makes_a_banned_nondeterministic_call():
    offenders = [
        f"{rel(p)}:{line} {what}" for p in modules() for line, what in banned_calls(parse(p))
    ]
    assert offenders == [], f"banned calls (see DESIGN.md, Determinism rules): {offenders}"


# --- the checker itself catches what it should (so a green run means something) ---------------
@pytest.mark.parametrize(
    "src, what",
    [
        ("import random\nrandom.random()", "random.random"),
        ("import random\nrandom.shuffle(xs)", "random.shuffle"),
        ("import random as r\nr.choice(xs)", "random.choice"),
        ("from random import randint\nrandint(1, 6)", "random.randint"),
        ("from random import gauss as g\ng(0, 1)", "random.gauss"),
        ("import random\nrandom.seed(1)", "random.seed"),
        ("import random\nrandom.SystemRandom().random()", "random.SystemRandom"),
        ("import time\ntime.time()", "time.time"),
        ("from time import monotonic\nmonotonic()", "time.monotonic"),
        ("import time\ntime.sleep(1)", "time.sleep"),
        ("import datetime\ndatetime.datetime.now()", "datetime.datetime.now"),
        ("from datetime import datetime\ndatetime.now()", "datetime.datetime.now"),
        ("import uuid\nuuid.uuid4()", "uuid.uuid4"),
        ("from uuid import uuid1\nuuid1()", "uuid.uuid1"),
        ("import os\nos.urandom(8)", "os.urandom"),
        ("x = hash('key')", "hash()"),
    ],
)
def test_the_checker_flags_each_banned_call(src, what):
    assert banned_calls(ast.parse(src)) == [(len(src.splitlines()), what)]


@pytest.mark.parametrize(
    "src",
    [
        "import random\nrng = random.Random(7)\nrng.random()",
        "from random import Random\nRandom('n1').shuffle(xs)",
        "import time\ntime.perf_counter()",
        "import hashlib\nhashlib.sha256(b'x')",
        "def f(rng):\n    return rng.choice([1, 2])",
        "import datetime\ndatetime.timedelta(seconds=1)",
    ],
)
def test_the_checker_allows_streams_and_harmless_calls(src):
    assert banned_calls(ast.parse(src)) == []


def test_the_checker_finds_simpy_imports_in_every_form():
    src = textwrap.dedent(
        """
        import simpy
        import simpy.events as ev
        from simpy import Environment
        from simpy.resources import store
        import simpyish
        """
    )
    assert simpy_imports(ast.parse(src)) == [2, 3, 4, 5]
