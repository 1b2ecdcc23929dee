"""Interactive version of the ZooKeeper chapter's paused-lock-holder experiment (ipywidgets).

:func:`pause_view` runs :func:`~dslab.zk.experiments.lock_with_pause` and draws who believed it
held the lock (what the static book shows for the default); :func:`pause_widget` puts sliders in
front of it in a live notebook.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from dslab.viz.live import live_interact
from dslab.zk import experiments as ex
from dslab.zk.plots import plot_holds

#: What the controls of :func:`pause_widget` re-run, for readers of the static book.
_WHAT_PAUSE_WIDGET = (
    "They re-run the paused-lock-holder experiment with another pause, session timeout and "
    "number of clients; the figure above is the default run."
)


def pause_view(
    pause_ms: float = 600.0, session_timeout_ms: float = 300.0, clients: int = 3, seed: int = 0
):
    """The holds of ``clients`` clients when the first holder pauses for ``pause_ms``."""
    df, _ = ex.lock_with_pause(seed, clients, pause_ms, session_timeout_ms)
    verdict = "mutual exclusion held" if df.attrs["ok"] else "two holders at once"
    return plot_holds(
        df, title=f"Pause {pause_ms:g} ms, session timeout {session_timeout_ms:g} ms: {verdict}"
    )


def pause_widget() -> Any:
    """Sliders for the pause, the session timeout and the number of clients."""
    from ipywidgets import IntSlider

    def show(pause_ms: int, session_timeout_ms: int, clients: int) -> None:
        pause_view(pause_ms, session_timeout_ms, clients)
        plt.show()

    return live_interact(
        show,
        _WHAT_PAUSE_WIDGET,
        pause_ms=IntSlider(value=600, min=0, max=2000, step=50),
        session_timeout_ms=IntSlider(value=300, min=100, max=1500, step=50),
        clients=IntSlider(value=3, min=2, max=8, step=1),
    )
