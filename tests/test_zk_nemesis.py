"""Seed sweeps of ZAB under a mixed nemesis: partitions, crashes with quick restarts, pauses and
duplicated messages (issue 7, bug 4: a stale leader kept "leading" by followers of a newer epoch,
an election storm with no write committing after the heal).

Each run must satisfy the rules of :mod:`dslab.zk.nemesis`: a write commits after the heal, the
number of elections after the heal stays small, no epoch has two established leaders, no committed
transaction is truncated, and the servers end with the same tree holding every acknowledged write.
A failure says ``replay with seed=N``.
"""

from __future__ import annotations

import pytest

from dslab.zk.nemesis import check_nemesis_run, mixed_nemesis_run


def _sweep(seeds: range, servers: int, observers: int = 0) -> None:
    for seed in seeds:
        run = mixed_nemesis_run(seed, servers, observers=observers)
        problems = check_nemesis_run(run)
        assert not problems, (f"{'; '.join(problems)}; replay with seed={seed} "
                              f"(servers={servers}, observers={observers})")


def test_zab_recovers_from_a_mixed_nemesis_in_every_seed():
    _sweep(range(200), servers=3)


def test_zab_recovers_from_a_mixed_nemesis_with_five_servers():
    _sweep(range(60), servers=5)


def test_observers_never_break_the_nemesis_checks():
    """Observers are crashed, paused and cut off like the voters, and serve the client's writes;
    every rule still holds, and no observer ever leads, follows, acks or votes."""
    _sweep(range(100), servers=3, observers=2)


@pytest.mark.slow
def test_observers_never_break_the_nemesis_checks_in_thousands_of_seeds():
    _sweep(range(100, 2000), servers=3, observers=2)


@pytest.mark.slow
def test_zab_recovers_from_a_mixed_nemesis_in_thousands_of_seeds():
    _sweep(range(200, 3000), servers=3)


def test_the_nemesis_really_injects_every_kind_of_fault():
    """The sweep means something only if its faults happen: each kind shows up in the history,
    messages are duplicated, and writes are acknowledged before the heal."""
    kinds: set[str] = set()
    duplicated = 0
    for seed in range(10):
        run = mixed_nemesis_run(seed)
        kinds |= {f.verb for f in run.history.faults}
        duplicated += sum(1 for m in run.history.messages if m.duplicate)
        assert len(run.acked) > 5, f"too few writes acknowledged; replay with seed={seed}"
    assert {"partition", "crash", "restart", "pause", "heal"} <= kinds
    assert duplicated > 0


def test_the_checker_reports_an_election_storm_and_two_leaders_in_one_epoch():
    run = mixed_nemesis_run(0)
    assert check_nemesis_run(run) == []
    run.elections_after_heal = 500
    run.leaders_by_epoch[9] = ["s1", "s2"]
    problems = check_nemesis_run(run)
    assert any("election storm" in p for p in problems)
    assert any("epoch 9 has 2 established leaders" in p for p in problems)


def test_same_seed_same_nemesis_history():
    a = mixed_nemesis_run(11).history.to_json()
    b = mixed_nemesis_run(11).history.to_json()
    assert a == b
