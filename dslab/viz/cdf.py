"""Empirical cumulative distribution functions: how latencies (or any samples) spread out.

A CDF shows, for each x, the fraction of samples at most x. It shows the whole distribution at
once: the median is where the curve crosses 0.5, the 99th percentile where it crosses 0.99, and a
heavy tail is a curve that creeps towards 1 far to the right (a log x axis makes tails visible).
Curves are drawn with ``gid="cdf"``; markers (published or analytic values) with ``gid="marker"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from dslab._validate import check_number, check_type
from dslab.viz.style import MESSAGE_PALETTE, empty_note, legend_outside, new_axes

_MARKER_STYLES = ("--", ":", "-.")


def _samples(data: Any, by: str | None, value: str | None) -> tuple[dict[str, np.ndarray], Any]:
    """Named samples and the seed found in a DataFrame's ``attrs``."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        seed = data.attrs.get("seed")
        if by is not None or value is not None:
            for name, col in (("by", by), ("value", value)):
                if col is None or col not in data.columns:
                    raise ValueError(
                        f"{name}={col!r} is not a column of the DataFrame; "
                        f"columns: {list(data.columns)}"
                    )
            groups = {
                str(k): g[value].to_numpy(dtype=float) for k, g in data.groupby(by, sort=False)
            }
            return groups, seed
        numeric = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
        return {str(c): data[c].dropna().to_numpy(dtype=float) for c in numeric}, seed
    if isinstance(data, pd.Series):
        name = str(data.name or "sample")
        return {name: data.dropna().to_numpy(dtype=float)}, data.attrs.get("seed")
    if isinstance(data, Mapping):
        out = {}
        for k, v in data.items():
            out[str(k)] = _array(f"values_or_dict[{k!r}]", v)
        return out, None
    return {"sample": _array("values_or_dict", data)}, None


def _array(name: str, v: Any) -> np.ndarray:
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise TypeError(f"{name}={v!r} must be a sequence of numbers")
    try:
        arr = np.asarray(list(v), dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must contain only numbers; got {list(v)[:5]!r}...") from None
    return arr[~np.isnan(arr)]


def cdf(
    values_or_dict: Any,
    ax: Any = None,
    *,
    xlabel: str = "latency (ms)",
    ylabel: str | None = None,
    log_x: bool = False,
    xlim: tuple[float, float] | None = None,
    complementary: bool = False,
    title: str = "Empirical CDF",
    seed: Any = None,
    markers: Mapping[str, float] | None = None,
    means: bool = False,
    by: str | None = None,
    value: str | None = None,
):
    """Draw the empirical CDF of one or several named samples; return the Figure.

    ``values_or_dict``: a sequence of numbers, a ``{name: values}`` dict, a Series, or a DataFrame
    (each numeric column a sample, or long format with ``by=`` naming the group column and
    ``value=`` the value column; ``attrs["seed"]`` is used when ``seed`` is not given).
    ``log_x``: logarithmic x axis (non-positive values cannot be shown and are left out).
    ``xlim``: the x range to show, ``(low, high)`` (default: every sample).
    ``complementary``: plot the fraction of samples at least x on a log y axis instead, which
    makes tails (p99, p99.9...) visible: the 99th percentile is where the curve crosses 0.01.
    ``markers``: ``{label: x}`` vertical reference lines (published values, SLOs...).
    ``means``: put a dot on each curve at the sample mean and give the mean in the legend.
    """
    check_type("log_x", log_x, bool)
    check_type("means", means, bool)
    check_type("complementary", complementary, bool)
    if xlim is not None:
        if not isinstance(xlim, (tuple, list)) or len(xlim) != 2:
            raise TypeError(f"xlim={xlim!r} must be a pair (low, high)")
        check_number("xlim[0]", xlim[0], min=0 if log_x else None, min_inclusive=not log_x)
        check_number("xlim[1]", xlim[1], min=xlim[0], min_inclusive=False)
    if ylabel is None:
        ylabel = "fraction of samples ≥ x" if complementary else "fraction of samples ≤ x"
    samples, found_seed = _samples(values_or_dict, by, value)
    seed = found_seed if seed is None else seed
    if markers is not None and not isinstance(markers, Mapping):
        raise TypeError(f"markers={markers!r} must be a dict {{label: x}}")
    fig, ax = new_axes(title, seed=seed, xlabel=xlabel, ylabel=ylabel, ax=ax, figsize=(8.0, 4.0))
    handles = []
    drawn = 0
    for i, (name, arr) in enumerate(samples.items()):
        colour = MESSAGE_PALETTE[i % len(MESSAGE_PALETTE)]
        xs = np.sort(arr[arr > 0] if log_x else arr)
        if xs.size == 0:
            continue
        ys = np.arange(1, xs.size + 1) / xs.size
        if complementary:
            ys = 1.0 - ys + 1.0 / xs.size  # P(X >= x): from 1 down to 1/n, never 0 on a log axis
        label = name
        if means:
            m = float(np.mean(arr))
            label = f"{name}  (mean {m:.3g})"
        where = "pre" if complementary else "post"
        (line,) = ax.step(xs, ys, where=where, color=colour, lw=1.4, label=label, gid="cdf")
        drawn += 1
        if means and (m > 0 or not log_x):
            frac = float(np.searchsorted(xs, m, side="right")) / xs.size
            if complementary:
                frac = 1.0 - float(np.searchsorted(xs, m, side="left")) / xs.size
            ax.plot([m], [frac], marker="o", ms=5, color=colour, mec="white", zorder=4)
        handles.append(line)
    for j, (label, x) in enumerate((markers or {}).items()):
        if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
            raise TypeError(f"markers[{label!r}]={x!r} must be a finite number")
        if log_x and x <= 0:
            raise ValueError(f"markers[{label!r}]={x!r} cannot be shown on a log x axis; use x > 0")
        handles.append(ax.axvline(x, color="#424242", lw=1.0, ls=_MARKER_STYLES[j % 3],
                                  label=f"{label} = {x:.3g}", gid="marker"))
    if log_x and (drawn or markers):
        ax.set_xscale("log")
    if complementary:
        ax.set_yscale("log")
        smallest = min((1.0 / a.size for a in samples.values() if a.size), default=0.1)
        ax.set_ylim(smallest / 2, 1.5)
    else:
        ax.set_ylim(0.0, 1.02)
    if xlim is not None:
        ax.set_xlim(*xlim)
    if not drawn:
        empty_note(ax, "no samples")
    legend_outside(ax, handles)
    return fig
