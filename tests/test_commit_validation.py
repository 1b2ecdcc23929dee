"""The commit chapter's checkers on hand-made inputs, its figures, and its argument checks (a bad
argument fails at once, naming the parameter and the value)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dslab.commit import (  # noqa: E402
    ThreePCParticipant,
    TwoPCCoordinator,
    TwoPCParticipant,
    Txn,
    plots,
)
from dslab.commit import experiments as ex  # noqa: E402
from dslab.commit.check import atomicity, blocking, in_doubt  # noqa: E402
from dslab.commit.cluster import build_cluster, transaction  # noqa: E402
from dslab.history import History  # noqa: E402
from dslab.sim import Sim  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# -- the checker --------------------------------------------------------------------------------
def test_atomicity_of_final_states_finds_a_split():
    r = atomicity({"p1": {"t1": "committed", "t2": "aborted"},
                   "p2": {"t1": "aborted", "t2": "aborted"}})
    assert not r.valid and r.splits == [
        {"kind": "split", "tid": "t1", "committed": ["p1"], "aborted": ["p2"]}]
    assert "t1: committed at p1 but aborted at p2" in r.explanation


def test_atomicity_counts_in_doubt_participants_as_blocked_only_when_asked_to():
    states = {"p1": {"t1": "prepared"}, "p2": {"t1": "prepared"}}
    assert atomicity(states).valid
    assert "2 participant(s) still in doubt" in atomicity(states).explanation
    strict = atomicity(states, require_decided=True)
    assert not strict.valid and len(strict.undecided) == 2


def _history(events, ops=()):
    h = History(seed=3)
    for t, node, name, data in events:
        h.event(t, node, name, **data)
    for process, f, value, t0, kind, t1 in ops:
        inv = h.invoke(process, f, value, t0)
        h.complete(inv, kind, value, t1)
    return h


def test_atomicity_catches_a_commit_without_every_yes_vote():
    h = _history([
        (0.0, "co", "begin", {"tid": "t1", "participants": ["p1", "p2"]}),
        (1.0, "p1", "vote", {"tid": "t1", "yes": True}),
        (1.0, "p1", "state", {"tid": "t1", "state": "prepared", "by": "vote_yes"}),
        (3.0, "p1", "state", {"tid": "t1", "state": "committed", "by": "coordinator"}),
    ])
    r = atomicity(h)
    assert [v["kind"] for v in r.violations] == ["commit_without_yes"]
    assert "without a YES vote from p2" in r.explanation and "replay with seed=3" in r.explanation


def test_atomicity_catches_a_client_told_committed_when_a_participant_aborted():
    h = _history([
        (1.0, "p1", "state", {"tid": "t1", "state": "aborted", "by": "lock_timeout"}),
    ], ops=[("c1", "txn", "t1", 0.0, "ok", 5.0)])
    r = atomicity(h)
    assert [v["kind"] for v in r.violations] == ["client_mismatch"]


def test_in_doubt_measures_from_the_yes_vote_to_the_outcome():
    h = _history([
        (1.0, "p1", "state", {"tid": "t1", "state": "prepared", "by": "vote_yes"}),
        (4.5, "p1", "state", {"tid": "t1", "state": "committed", "by": "peer"}),
        (2.0, "p2", "state", {"tid": "t1", "state": "prepared", "by": "vote_yes"}),
        (9.0, "p3", "state", {"tid": "t1", "state": "aborted", "by": "vote_no"}),
    ])
    d = in_doubt(h).set_index("participant")
    assert d.loc["p1", "in_doubt_ms"] == 3.5 and d.loc["p1", "decided_by"] == "peer"
    assert d.loc["p2", "outcome"] == "undecided" and d.loc["p2", "end_ms"] == 9.0
    assert "p3" not in d.index  # it never voted yes: it never held locks in doubt
    b = blocking(h).set_index("participant")
    assert b.loc["p2", "undecided"] == 1 and b.loc["p1", "voted_yes"] == 1


def test_atomicity_rejects_what_it_cannot_read():
    with pytest.raises(TypeError, match="data=42"):
        atomicity(42)
    with pytest.raises(TypeError, match="require_decided='yes'"):
        atomicity({}, require_decided="yes")


# -- figures ------------------------------------------------------------------------------------
def _titles(fig):
    return " ".join(ax.get_title() for ax in fig.axes)


def test_every_figure_carries_its_seed():
    df, hs = ex.compare_happy_paths(4, n_txns=3)
    assert "seed=4" in _titles(plots.plot_happy_paths(hs))
    _, h = ex.coordinator_crash(4, "3pc", "mid_phase2")
    fig = plots.plot_states(h)
    assert "seed=4" in _titles(fig)
    assert any(p.get_gid() == "state:precommitted" for p in fig.axes[0].patches)
    runs = {"2PC": ex.partition_split(4, "2pc")[1], "3PC": ex.partition_split(4, "3pc")[1]}
    assert _titles(plots.plot_state_panels(runs)).count("seed=4") == 2
    m = ex.crash_summary(ex.crash_matrix(4))
    assert "seed=4" in _titles(plots.plot_crash_matrix(m, restart_ms=400.0))
    sweep = ex.contention_sweep(seeds=[4, 5], rates=[0.0], duration_ms=200.0)
    assert "seed=4..5" in _titles(plots.plot_contention(sweep))


def test_state_timeline_marks_the_blocked_and_the_conflicting():
    _, h = ex.partition_split(0, "3pc")
    segs = plots.state_segments(h)
    finals = {s["node"]: s["state"] for s in segs}
    assert finals["p1"] == "committed" and finals["p2"] == "aborted"
    fig = plots.plot_states(h)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "contradicting decision arrives" in labels and "elected backup coordinator" in labels


# -- bad arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize("call, match", [
    (lambda: ex.coordinator_crash(0, "4pc"), "protocol='4pc'"),
    (lambda: ex.coordinator_crash(0, "2pc", "mid_phase3"), "step='mid_phase3'"),
    (lambda: ex.coordinator_crash(0, "2pc", n_participants=1), "n_participants=1"),
    (lambda: ex.coordinator_crash(0, "2pc", restart_after_ms=-5), "restart_after_ms=-5"),
    (lambda: ex.coordinator_crash(0, "3pc", termination="vote"), "termination='vote'"),
    (lambda: ex.coordinator_crash(-1), "seed=-1"),
    (lambda: ex.participant_failure(0, "2pc", "explode"), "fault='explode'"),
    (lambda: ex.participant_failure(0, "2pc", victim="p9"), "victim='p9'"),
    (lambda: ex.partition_split(0, heal_at_ms=2000.0, run_ms=1000.0), "heal_at_ms=2000.0"),
    (lambda: ex.contention(0, crash_rate_per_s=-1.0), "crash_rate_per_s=-1.0"),
    (lambda: ex.contention(0, hot_keys=0), "hot_keys=0"),
    (lambda: ex.contention_sweep(rates=[]), "at least one"),
    (lambda: ex.chaos(0, loss=1.5), "loss=1.5"),
    (lambda: ex.chaos(0, down_ms=(5.0, 1.0)), "down_ms=(5.0, 1.0)"),
    (lambda: ex.chaos(0, down_ms=(-1.0, 1.0)), "down_ms=(-1.0, 1.0)"),
    (lambda: ex.happy_path(0, n_txns=0), "n_txns=0"),
    (lambda: ex.crash_matrix(0, steps=["sideways"]), "steps='sideways'"),
    (lambda: TwoPCParticipant(decision_timeout_ms=0), "decision_timeout_ms=0"),
    (lambda: TwoPCParticipant(no_probability=2), "no_probability=2"),
    (lambda: TwoPCCoordinator(crash_at="lunch"), "crash_at='lunch'"),
    (lambda: ThreePCParticipant(termination="vote"), "termination='vote'"),
    (lambda: ThreePCParticipant(round_ms=15.0, collect_ms=10.0), "round_ms=15.0"),
    (lambda: Txn("", (("p1", "x", 1),)), "tid=''"),
    (lambda: Txn("t1", ()), "writes=()"),
    (lambda: Txn("t1", (("p1", "x", 1),), vote_no=("p2",)), "vote_no"),
])
def test_bad_arguments_raise_at_once_naming_the_parameter_and_value(call, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: ex.coordinator_crash(0, "2pc", cooperative="yes"), "cooperative='yes'"),
    (lambda: ex.crash_matrix(0, progress=1), "progress=1"),
    (lambda: TwoPCParticipant(cooperative=1), "cooperative=1"),
    (lambda: build_cluster(Sim(0), "2pc", participant_options={"nope": 1}), "participant_options"),
    (lambda: plots.plot_contention([1, 2]), "sweep="),
])
def test_bad_types_raise_type_errors_naming_the_parameter(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_a_client_transaction_must_be_a_txn():
    sim = Sim(0)
    cl = build_cluster(sim, "2pc")
    with pytest.raises(TypeError, match="txn="):
        next(transaction(cl.client("c_co"), "co", "t1"))
