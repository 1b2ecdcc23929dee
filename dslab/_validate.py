"""Argument checks shared by every public constructor and verb.

Each raises at once with a message naming the parameter, the value received and what is allowed,
so a bad argument never surfaces as a traceback deep inside SimPy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def check_type(name: str, value: Any, types: type | tuple[type, ...]) -> Any:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
        allowed = " or ".join(t.__name__ for t in _as_tuple(types))
        raise TypeError(f"{name}={value!r} has type {type(value).__name__}; expected {allowed}")
    return value


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def check_number(
    name: str,
    value: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    min_inclusive: bool = True,
    integer: bool = False,
) -> float:
    """A finite real number (or an int if ``integer``) within the given bounds."""
    if integer:
        check_type(name, value, int)
    else:
        check_type(name, value, (int, float))
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number")
    if min is not None and (value < min or (not min_inclusive and value == min)):
        op = ">=" if min_inclusive else ">"
        raise ValueError(f"{name}={value!r} is not allowed; it must be {op} {min}")
    if max is not None and value > max:
        raise ValueError(f"{name}={value!r} is not allowed; it must be <= {max}")
    return value


def check_probability(name: str, value: Any) -> float:
    check_type(name, value, (int, float))
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"{name}={value!r} is not a probability; it must be in [0, 1]")
    return float(value)


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {allowed}")
    return value


def check_seed(value: Any) -> int:
    check_type("seed", value, int)
    if value < 0:
        raise ValueError(f"seed={value!r} must be a non-negative integer")
    return value
