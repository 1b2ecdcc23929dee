"""What the book embeds for figures and live controls (dslab.viz.style.book_png, dslab.viz.live)."""

from __future__ import annotations

import struct

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dslab.viz.live import LiveControls, describe_control  # noqa: E402
from dslab.viz.style import COLUMN_PX, PIXEL_RATIO, book_png  # noqa: E402


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("width_in", [4.0, 8.0, 12.0, 16.0])
def test_a_figure_is_shown_no_wider_than_the_column_with_twice_the_pixels(width_in):
    fig, ax = plt.subplots(figsize=(width_in, 3.0), layout="constrained")
    ax.plot([0, 1], [0, 1])
    ax.set_title("a title")
    data, meta = book_png(fig)
    w, h = _png_size(data)
    assert meta["width"] <= COLUMN_PX
    assert abs(w - PIXEL_RATIO * meta["width"]) <= PIXEL_RATIO
    assert abs(h - PIXEL_RATIO * meta["height"]) <= PIXEL_RATIO
    plt.close(fig)


def test_a_narrow_figure_keeps_its_size_and_the_figure_is_restored():
    fig, ax = plt.subplots(figsize=(4.0, 3.0), layout="constrained")
    ax.plot([0, 1], [0, 1])
    _, meta = book_png(fig)
    assert 380 <= meta["width"] <= 420  # 4 in at 100 dpi, tight
    wide, _ = plt.subplots(figsize=(12.0, 3.0), layout="constrained")
    book_png(wide)
    assert tuple(wide.get_size_inches()) == (12.0, 3.0)
    plt.close("all")


def test_book_png_rejects_what_is_not_a_figure():
    with pytest.raises(TypeError, match="fig="):
        book_png("not a figure")


def test_live_controls_note_lists_each_control_and_holds_no_widget_id():
    from ipywidgets import Checkbox, Dropdown, FloatLogSlider, IntSlider, interactive

    w = interactive(
        lambda n, log, on, kind: None,
        n=IntSlider(value=5, min=3, max=9, step=2),
        log=FloatLogSlider(value=100.0, base=10, min=1, max=3),
        on=Checkbox(value=False),
        kind=Dropdown(options=["a", "b"], value="b"),
    )
    bundle = LiveControls(w, "They re-run the experiment.")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # live front ends get controls
    note = bundle["text/html"]
    for line in ("n: 3 to 9 in steps of 2 (default 5)", "log: 10 to 1000, log scale (default 100)",
                 "on: on or off (default off)", "kind: one of a, b (default b)"):
        assert line in note and line in bundle["text/plain"]
    assert w.model_id not in note and w.model_id not in bundle["text/plain"]
    assert describe_control(IntSlider(value=1, min=0, max=4, description="k")) == \
        "k: 0 to 4 (default 1)"
