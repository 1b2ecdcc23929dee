"""Interactive versions of two of the chapter's experiments (ipywidgets ``interact``).

``pbs_view`` / ``convergence_view`` draw one run for given parameters and are what the static book
shows; ``pbs_widget`` / ``convergence_widget`` put sliders in front of them in a live notebook.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from dslab.eventual import experiments as ex
from dslab.eventual.pbs import DISTRIBUTIONS, pbs
from dslab.eventual.plots import plot_divergence
from dslab.viz.live import live_interact
from dslab.viz.style import new_axes

#: What the controls of :func:`pbs_widget` re-run, for readers of the static book.
_WHAT_PBS_WIDGET = (
    "They re-run the staleness experiment for other N, R, W and latency distributions; the "
    "figure above is the default run (N=3, R=1, W=1, LNKD-DISK)."
)


#: What the controls of :func:`convergence_widget` re-run, for readers of the static book.
_WHAT_CONVERGENCE_WIDGET = (
    "They re-run the divergence experiment for another anti-entropy interval, with read "
    "repair on or off; the figure above is the default run."
)


def pbs_view(
    N: int = 3, R: int = 1, W: int = 1, dist: str = "LNKD-DISK", trials: int = 50_000, seed: int = 0
):
    """P(consistent read) against t for one setting; R or W above N is explained, not raised."""
    title = f"PBS, {dist}: N={N}, R={R}, W={W}"
    fig, ax = new_axes(title, seed=seed, xlabel="t after the write commits (ms)",
                       ylabel="P(consistent read)")
    if R > N or W > N:
        ax.text(0.5, 0.5, f"R={R} or W={W} is larger than N={N}: no such quorum",
                transform=ax.transAxes, ha="center", va="center")
        return fig
    df = pbs(N, R, W, dist, trials, seed)
    t999 = df.attrs["t_999_ms"]
    ax.step(df["t_ms"], df["p_consistent"], where="post", lw=1.8,
            label=f"99.9% consistent after {t999:.3g} ms")
    ax.axhline(0.999, color="#424242", ls="--", lw=0.8)
    ax.set_ylim(min(0.95, float(df["p_consistent"].min())) - 0.02, 1.005)
    ax.legend(loc="lower right")
    return fig


def convergence_view(anti_entropy_ms: float = 200.0, read_repair: bool = True, seed: int = 0):
    """Divergence over time after a partition heals, for one anti-entropy interval."""
    label = f"anti-entropy every {anti_entropy_ms:g} ms" + (" + read repair" if read_repair else "")
    df, _ = ex.convergence_run(anti_entropy_ms=anti_entropy_ms, read_repair=read_repair, seed=seed)
    return plot_divergence({label: df})


def pbs_widget() -> Any:
    """Sliders for N, R, W and the distribution in front of :func:`pbs_view`."""
    from ipywidgets import Dropdown, IntSlider

    def show(N: int, R: int, W: int, dist: str) -> None:
        pbs_view(N, R, W, dist)
        plt.show()

    return live_interact(
        show,
        _WHAT_PBS_WIDGET,
        N=IntSlider(value=3, min=1, max=7),
        R=IntSlider(value=1, min=1, max=7),
        W=IntSlider(value=1, min=1, max=7),
        dist=Dropdown(options=list(DISTRIBUTIONS), value="LNKD-DISK"),
    )


def convergence_widget() -> Any:
    """A slider for the anti-entropy interval and a read-repair switch."""
    from ipywidgets import Checkbox, FloatLogSlider

    def show(anti_entropy_ms: float, read_repair: bool) -> None:
        convergence_view(anti_entropy_ms, read_repair)
        plt.show()

    return live_interact(
        show,
        _WHAT_CONVERGENCE_WIDGET,
        anti_entropy_ms=FloatLogSlider(value=200.0, base=10, min=1.5, max=3.3, step=0.1),
        read_repair=Checkbox(value=True),
    )
