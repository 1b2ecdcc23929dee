"""The practice figures: deterministic, labelled with units, the seed in the title."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dslab.commit import practice_experiments as px  # noqa: E402
from dslab.commit import practice_plots as pp  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _costs(seed):
    kw = {"n_txns": 10, "patterns": ("2pc", "saga")}
    return pp.plot_pattern_costs({"calm": px.compare_sweep([seed], crashes=False, **kw),
                                  "faults": px.compare_sweep([seed], **kw)})


def _reader(seed):
    return pp.plot_reader(px.isolation_table(seed, patterns=("2pc", "saga"))[1])


@pytest.mark.parametrize("draw", [_costs, _reader])
def test_same_seed_draws_the_same_png(draw):
    assert _png(draw(3)) == _png(draw(3)), f"{draw.__name__}: replay with seed=3"


def test_costs_axes_have_units_and_the_seed():
    fig = _costs(3)
    assert "(seed=3)" in fig.get_suptitle()
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert "(ms)" in fig.axes[0].get_ylabel()
    plt.close(fig)


def test_reader_title_has_the_seed_and_time_in_ms():
    fig = _reader(3)
    assert "(seed=3)" in fig.axes[0].get_title()
    assert "time (ms)" in fig.axes[-1].get_xlabel()
    plt.close(fig)


def test_plots_reject_empty_input():
    with pytest.raises(ValueError, match="runs"):
        pp.plot_pattern_costs({})
    with pytest.raises(ValueError, match="reads"):
        pp.plot_reader({})
