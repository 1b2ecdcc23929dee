"""Same seed, same figures: a chapter's plot rendered twice from the same seed is byte-identical.

nbval compares a notebook's text outputs but not its PNGs, so this checks the pictures directly.
"""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dslab.check import linearizable  # noqa: E402
from dslab.lab import broken_register, partition_demo  # noqa: E402
from dslab.viz import history_timeline, spacetime  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _partition(seed):
    return spacetime(partition_demo(seed)[1])


def _register_timeline(seed):
    return history_timeline(broken_register(seed=seed)[1])


def _register_verdict(seed):
    return linearizable(broken_register(seed=seed)[1], "register").plot()


@pytest.mark.parametrize("draw", [_partition, _register_timeline, _register_verdict])
def test_same_seed_draws_the_same_png(draw):
    assert _png(draw(3)) == _png(draw(3)), f"{draw.__name__}: replay with seed=3"


def test_another_seed_draws_another_png():
    assert _png(_partition(3)) != _png(_partition(4))
