"""Interactive controls that also read well where no kernel runs (the static book).

A chapter's "try it yourself" cell shows ipywidgets controls in front of an experiment. In a live
notebook (JupyterLab, Binder) they re-run it; in the HTML book there is no kernel, so sliders
would move and do nothing. :func:`live_interact` therefore displays one output with two faces:

- ``application/vnd.jupyter.widget-view+json``: the controls, which every Jupyter front end
  prefers when it can render widgets;
- ``text/html`` and ``text/plain``: a note that lists each control with its range and default and
  says how to run the chapter live. The book's build drops the widget view (``_config.yml``,
  ``nb_mime_priority_overrides``), so this note is what a reader of the book sees.

The note is built from the controls themselves, so it cannot drift from them, and it contains no
widget model id, so ``pytest --nbval`` checks it like any other output.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

#: Where the book explains how to run a chapter live (relative to a chapter's page).
RUN_LIVE_HREF = "intro.html#run-a-chapter-live"


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def describe_control(w: Any) -> str:
    """One line for a control: its range or choices and its default (plain text)."""
    name = getattr(w, "description", "") or type(w).__name__
    value = getattr(w, "value", None)
    if hasattr(w, "options") and getattr(w, "options", None) is not None:
        labels = getattr(w, "_options_labels", None) or [str(o) for o in w.options]
        return f"{name}: one of {', '.join(map(str, labels))} (default {value})"
    if isinstance(value, bool):
        return f"{name}: on or off (default {'on' if value else 'off'})"
    if hasattr(w, "min") and hasattr(w, "max"):
        if hasattr(w, "base"):  # FloatLogSlider: min and max are exponents
            lo, hi = w.base**w.min, w.base**w.max
            return f"{name}: {_num(round(lo, 3))} to {_num(round(hi, 3))}, log scale " \
                   f"(default {_num(value)})"
        step = getattr(w, "step", None)
        by = f" in steps of {_num(step)}" if step not in (None, 1) else ""
        return f"{name}: {_num(w.min)} to {_num(w.max)}{by} (default {_num(value)})"
    return f"{name} (default {value!r})"


class LiveControls:
    """The displayable pair: ipywidgets ``controls`` for a kernel, a note for everything else."""

    def __init__(self, controls: Any, what: str) -> None:
        self.controls = controls
        self.what = what

    def lines(self) -> list[str]:
        children = getattr(self.controls, "kwargs_widgets", None) or []
        return [describe_control(w) for w in children]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        data = dict(self.controls._repr_mimebundle_() or {})
        lines = self.lines()
        data["text/plain"] = "\n".join(
            ["Live controls (they need a running Jupyter kernel): " + self.what]
            + ["  - " + line for line in lines]
            + ["Run the chapter in Jupyter to use them (see 'Run a chapter live')."]
        )
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        data["text/html"] = (
            '<div class="dslab-live-note"><p><strong>Live controls.</strong> '
            f"{html.escape(self.what)} They need a running Jupyter kernel, which this page does "
            "not have:</p>"
            f"<ul>{items}</ul>"
            f'<p>To use them, <a href="{RUN_LIVE_HREF}">run this chapter live</a> '
            "(JupyterLab on your machine, or Binder).</p></div>"
        )
        return data


def live_interact(function: Callable[..., Any], what: str, **controls: Any) -> Any:
    """Display ipywidgets controls for ``function`` with a static note (see the module doc).

    ``what`` says in a sentence what moving the controls re-runs, and what the book shows instead
    (for example "the figure above is the default run."). Returns the ``interactive`` widget.
    """
    if not isinstance(what, str) or not what.strip():
        raise ValueError(f"what={what!r} must be a sentence saying what the controls re-run")
    from IPython.display import display
    from ipywidgets import interactive

    widget = interactive(function, **controls)
    display(LiveControls(widget, what.strip()))
    return widget
