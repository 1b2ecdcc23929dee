"""Interactive version of the GC-pause experiment (ipywidgets ``interact``).

:func:`pause_view` draws one run for a pause length and a ttl (what the static book shows for the
defaults); :func:`pause_widget` puts sliders in front of it in a live notebook.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from dslab.locks import experiments as ex
from dslab.locks.plots import plot_holds
from dslab.viz.live import live_interact

#: What the controls of :func:`pause_widget` re-run, for readers of the static book.
_WHAT_PAUSE_WIDGET = (
    "They re-run the GC-pause experiment with another pause, ttl and fencing setting; the "
    "figure above is the default run."
)


def pause_view(pause_ms: float = 300.0, ttl_ms: float = 100.0, fencing: bool = False,
               seed: int = 1):
    """Two clients with the watchdog on; c1 is paused for ``pause_ms`` at 50 ms."""
    label = f"ttl {ttl_ms:g} ms, c1 paused {pause_ms:g} ms, fencing {'on' if fencing else 'off'}"
    holds, history = ex.run_locks(
        seed, ttl_ms=ttl_ms, watchdog=True, fencing=fencing, work_ms=250.0, start_ms=[0.0, 20.0],
        duration_ms=700.0,
        faults=[{"verb": "pause_client", "client": "c1", "at": 50.0, "duration_ms": pause_ms}])
    return plot_holds({label: (holds, history)})


def pause_widget() -> Any:
    """Sliders for the pause, the ttl and fencing in front of :func:`pause_view`."""
    from ipywidgets import Checkbox, FloatSlider

    def show(pause_ms: float, ttl_ms: float, fencing: bool) -> None:
        pause_view(pause_ms, ttl_ms, fencing)
        plt.show()

    return live_interact(
        show,
        _WHAT_PAUSE_WIDGET,
        pause_ms=FloatSlider(value=300.0, min=0.0, max=600.0, step=10.0, description="pause ms"),
        ttl_ms=FloatSlider(value=100.0, min=20.0, max=500.0, step=10.0, description="ttl ms"),
        fencing=Checkbox(value=False, description="fencing tokens"),
    )
