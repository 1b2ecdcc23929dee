"""Figures of the ZooKeeper chapter. Each returns a matplotlib Figure with labelled axes (units)
and the seed in its title."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dslab._validate import check_type
from dslab.viz import cdf, spacetime
from dslab.viz.style import new_axes, title_with_seed

STATE_COLORS = {
    "leading": "#2a9d8f",
    "following": "#8ab6d6",
    "looking": "#e9c46a",
    "crashed": "#bbbbbb",
}


def _frame(df: Any, name: str = "df") -> pd.DataFrame:
    return check_type(name, df, pd.DataFrame)


def plot_election(df: pd.DataFrame, title: str = "Who wins the election after the leader crashes"):
    """One bar per server: its last zxid's counter (the label: epoch:counter, myid), coloured
    by its state after the election."""
    df = _frame(df)
    fig, ax = new_axes(
        title,
        seed=df.attrs.get("seed"),
        xlabel="server (myid)",
        ylabel="last zxid before the crash (counter)",
        figsize=(7.0, 3.6),
    )
    counters = [int(z) & 0xFFFFFFFF for z in df["zxid"]]
    colors = [STATE_COLORS.get(s, "#999999") for s in df["state"]]
    ax.bar(
        [f"{s} ({i})" for s, i in zip(df["server"], df["myid"], strict=True)],
        counters,
        color=colors,
        edgecolor="black",
    )
    for x, (c, z, st) in enumerate(zip(counters, df["last_zxid"], df["state"], strict=True)):
        ax.text(x, c + 0.1, f"{z}\n{st}", ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, max(counters + [1]) * 1.45)
    return fig


def plot_recovery(df: pd.DataFrame, title: str = "Time to replace a crashed leader"):
    """Empirical CDF of the time from the leader's crash to an established new leader."""
    df = _frame(df)
    return cdf(
        {"recovery": list(df["recovery_ms"])},
        xlabel="crash to established leader (ms)",
        title=title,
        seed=df.attrs.get("seed"),
    )


def plot_write_path(history: Any, window: tuple[float, float], nodes: list[str] | None = None):
    """The space-time diagram of one write: Request, Forward, Proposal, Ack, Commit, Response."""
    return spacetime(
        history,
        nodes=nodes,
        t0=window[0],
        t1=window[1],
        labels=True,
        title="One write: PROPOSAL, ACK from a quorum, COMMIT",
    )


def plot_stale_reads(df: pd.DataFrame, title: str = "Reads from a lagging follower"):
    """Per write: the value written, what the follower returned at once, and after ``sync``."""
    df = _frame(df)
    fig, ax = new_axes(
        title,
        seed=df.attrs.get("seed"),
        xlabel="write number",
        ylabel="value of /x",
        figsize=(7.0, 3.6),
    )
    ax.plot(df["written"], df["written"], "k-", lw=1, label="value written (acknowledged)")
    ax.plot(df["written"], df["read"], "o", color="#e76f51", label="read right after the write")
    ax.plot(
        df["written"], df["read_after_sync"], "x", color="#264653", ms=9, label="read after sync"
    )
    ax.legend(loc="upper left")
    return fig


def plot_session(df: pd.DataFrame, title: str = "A silent client's session expires"):
    """The expiry timeline: one marker per step, on true time."""
    df = _frame(df)
    fig, ax = new_axes(
        title, seed=df.attrs.get("seed"), xlabel="time (ms)", ylabel="", figsize=(8.0, 3.4)
    )
    ys = list(range(len(df)))[::-1]
    ax.scatter(df["time_ms"], ys, color="#264653", zorder=3)
    for y, (what, t) in zip(ys, zip(df["what"], df["time_ms"], strict=True), strict=True):
        ax.annotate(
            f"{what}  ({t:.0f} ms)",
            (t, y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    timeout = df.attrs.get("session_timeout_ms")
    ax.set_yticks([])
    ax.set_ylim(-0.7, len(df) - 0.3)
    ax.set_xlim(0, df["time_ms"].max() * 1.7)
    if timeout:
        last = df["time_ms"].iloc[1]
        ax.axvspan(
            last,
            last + timeout,
            color="#e9c46a",
            alpha=0.3,
            label=f"session timeout ({timeout:g} ms) after the last ping",
        )
        ax.legend(loc="upper right")
    return fig


def plot_herd(df: pd.DataFrame, title: str = "Watch notifications per lock release"):
    """Notifications sent by the first release (the worst one) and on average, against the
    number of clients, for the herd recipe and the predecessor recipe."""
    df = _frame(df)
    fig, ax = new_axes(
        title,
        seed=df.attrs.get("seed"),
        xlabel="clients contending for the lock",
        ylabel="notifications per release",
        figsize=(7.0, 3.8),
    )
    for mode, color in (("herd", "#e76f51"), ("predecessor", "#2a9d8f")):
        d = df[df["mode"] == mode]
        ax.plot(
            d["clients"], d["per_release_max"], "o-", color=color, label=f"{mode}: worst release"
        )
        ax.plot(
            d["clients"],
            d["per_release_mean"],
            "s--",
            color=color,
            alpha=0.7,
            label=f"{mode}: mean",
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(df["clients"].unique()), [str(c) for c in df["clients"].unique()])
    ax.legend(loc="upper left")
    return fig


def plot_holds(df: pd.DataFrame, title: str = "Who believes it holds the lock (true time)"):
    """One bar per hold, labelled with its fencing token; overlaps are shaded red, the pause
    (``attrs["paused"]``) hatched."""
    df = _frame(df)
    fig, ax = new_axes(
        title, seed=df.attrs.get("seed"), xlabel="time (ms)", ylabel="client", figsize=(8.0, 3.6)
    )
    holders = sorted(df["holder"].unique())
    for _, r in df.iterrows():
        y = holders.index(r["holder"])
        ax.barh(
            y,
            r["end_ms"] - r["start_ms"],
            left=r["start_ms"],
            height=0.5,
            color="#8ab6d6",
            edgecolor="black",
        )
        ax.text(r["start_ms"], y + 0.3, f"token {r['token_zxid']}", va="bottom", fontsize=9)
    rows = df.sort_values("start_ms").to_dict("records")
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            lo, hi = max(a["start_ms"], b["start_ms"]), min(a["end_ms"], b["end_ms"])
            if hi > lo:
                ax.axvspan(lo, hi, color="#e63946", alpha=0.2)
    paused = df.attrs.get("paused")
    if paused:
        who, lo, hi = paused
        ax.barh(
            holders.index(who),
            hi - lo,
            left=lo,
            height=0.5,
            fill=False,
            hatch="//",
            edgecolor="#555555",
            label=f"{who} paused (GC)",
        )
        ax.legend(loc="upper right")
    ax.set_yticks(range(len(holders)), holders)
    ax.set_ylim(-0.6, len(holders) - 0.1)
    ax.set_xlim(left=0)
    return fig


def plot_boot(df: pd.DataFrame, title: str = "Servers powered on one after another"):
    """One row per server: its state over time (off, looking, following, leading)."""
    df = _frame(df)
    fig, ax = new_axes(
        title,
        seed=df.attrs.get("seed"),
        xlabel="time (ms)",
        ylabel="server (myid)",
        figsize=(8.0, 3.2),
    )
    servers = sorted(df["server"].unique(), key=lambda s: int(s[1:]))
    colors = {**STATE_COLORS, "off": "#eeeeee"}
    for _, r in df.iterrows():
        ax.barh(
            servers.index(r["server"]),
            r["end_ms"] - r["start_ms"],
            left=r["start_ms"],
            height=0.6,
            color=colors.get(r["state"], "#999999"),
            edgecolor="black",
        )
    for state in ("off", "looking", "following", "leading"):
        ax.barh(0, 0, color=colors[state], edgecolor="black", label=state)
    est = df.attrs.get("established_ms")
    if est == est:  # not NaN
        ax.axvline(est, color="black", ls="--", lw=1, label=f"leader established ({est:.0f} ms)")
    ax.set_yticks(range(len(servers)), [f"{s} ({s[1:]})" for s in servers])
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return fig


def plot_split_brain(df: pd.DataFrame, title: str = "Writes acknowledged on each side of a split"):
    """For each split case, the writes acknowledged (and refused or timed out) on each side."""
    df = _frame(df)
    fig, ax = new_axes(
        title,
        seed=df.attrs.get("seed"),
        xlabel="split (servers = side A + side B)",
        ylabel="writes during the split",
        figsize=(8.0, 3.8),
    )
    cases = list(dict.fromkeys(df["case"]))
    width = 0.38
    for k, side in enumerate(("A", "B")):
        d = df[df["side"] == side].set_index("case").reindex(cases)
        xs = [i + (k - 0.5) * width for i in range(len(cases))]
        bottom = [0] * len(cases)
        for col, color, label in (
            ("ok", "#2a9d8f", "acknowledged"),
            ("fail", "#e76f51", "refused (definitely not done)"),
            ("unknown", "#e9c46a", "timed out (unknown)"),
        ):
            ax.bar(
                xs,
                d[col],
                width,
                bottom=bottom,
                color=color,
                edgecolor="black",
                label=label if k == 0 else None,
            )
            bottom = [b + v for b, v in zip(bottom, d[col], strict=True)]
        for x, size, top in zip(xs, d["size"], bottom, strict=True):
            ax.text(x, top + 0.5, f"{side}: {size}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(cases)), cases)
    ax.set_ylim(0, df[["ok", "fail", "unknown"]].sum(axis=1).max() * 1.25)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return fig


def plot_fault_tolerance(df: pd.DataFrame, title: str = "Crashes an ensemble survives"):
    """Largest number of crashed servers after which a write still commits, per ensemble size,
    each bar labelled with the size of a majority quorum."""
    df = _frame(df)
    tolerated = df.attrs["tolerated"]
    fig, ax = new_axes(
        title,
        seed=df.attrs.get("seed"),
        xlabel="servers in the ensemble",
        ylabel="crashed servers tolerated",
        figsize=(7.0, 3.6),
    )
    ns = sorted(tolerated)
    quorum = df.groupby("servers")["quorum"].first()
    for parity, color, label in ((1, "#2a9d8f", "odd: 2N+1 servers"), (0, "#e9c46a", "even: 2N+2")):
        sel = [n for n in ns if n % 2 == parity]
        ax.bar(sel, [tolerated[n] for n in sel], color=color, edgecolor="black", label=label)
    for n in ns:
        ax.text(n, tolerated[n] + 0.05, f"quorum {quorum[n]}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(ns)
    ax.set_yticks(range(0, max(tolerated.values()) + 2))
    ax.legend(loc="upper left")
    return fig


def plot_config(df: pd.DataFrame, title: str = "What each subscriber of /config sees"):
    """Per subscriber, the value it has read over time (a step line, one marker per read), and
    the moments the publisher's writes were acknowledged."""
    df = _frame(df)
    fig, ax = new_axes(
        title,
        seed=df.attrs.get("seed"),
        xlabel="time (ms)",
        ylabel="value of /config",
        figsize=(8.0, 3.8),
    )
    published = df.attrs.get("published", {})
    ax.plot(
        list(published.values()),
        list(published.keys()),
        "k_",
        ms=12,
        mew=2,
        label="write acknowledged to the publisher",
    )
    for who, d in df.groupby("subscriber"):
        ax.step(d["time_ms"], d["value"], where="post", marker="o", ms=4, label=f"{who} reads")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return fig


def plot_config_sweep(df: pd.DataFrame, title: str = "Versions a subscriber sees"):
    """Share of the published versions a subscriber read, against the publishing interval."""
    df = _frame(df)
    fig, ax = new_axes(
        title,
        seed=df.attrs.get("seed"),
        xlabel="interval between writes (ms)",
        ylabel="share of versions read",
        figsize=(7.0, 3.4),
    )
    ax.plot(df["interval_ms"], df["seen_share"], "o-", color="#264653")
    ax.set_xscale("log")
    ax.set_xticks(list(df["interval_ms"]), [f"{v:g}" for v in df["interval_ms"]])
    ax.set_ylim(0, 1.05)
    return fig


def plot_group(df: pd.DataFrame, title: str = "Group membership: the monitor's view and the truth"):
    """Number of members over time: who is really alive (truth) and what the monitor's child
    watch has shown it (view); the clean leave and the crash are marked."""
    df = _frame(df)
    fig, ax = new_axes(
        title,
        seed=df.attrs.get("seed"),
        xlabel="time (ms)",
        ylabel="members",
        figsize=(8.0, 3.6),
    )
    end = df["time_ms"].max() * 1.05
    for kind, style in (("truth", dict(color="black", lw=2)), ("view", dict(color="#e76f51"))):
        d = df[df["kind"] == kind]
        xs, ys = list(d["time_ms"]) + [end], list(d["count"]) + [d["count"].iloc[-1]]
        label = "alive (truth)" if kind == "truth" else "monitor's view"
        ax.step(xs, ys, where="post", label=label, **style)
    for key, text in (("leave_ms", "clean leave"), ("crash_ms", "crash")):
        t = df.attrs.get(key)
        if t is not None:
            ax.axvline(t, color="#555555", ls=":", lw=1)
            ax.text(t, df["count"].max() + 0.3, text, ha="center", fontsize=9)
    ax.set_ylim(0, df["count"].max() + 1)
    ax.legend(loc="lower left")
    return fig


WRITE_COLORS = {0.0: "#2a9d8f", 0.1: "#e9c46a", 1.0: "#e76f51"}


def plot_scaling(
    by_servers: pd.DataFrame,
    by_observers: pd.DataFrame,
    title: str = "Throughput of a saturated ensemble",
):
    """Two panels, operations per second (log scale) for each write fraction: against the
    number of voting servers (left), and against observers added to three voters (right)."""
    import matplotlib.pyplot as plt

    by_servers = _frame(by_servers, "by_servers")
    by_observers = _frame(by_observers, "by_observers")
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0), sharey=True, layout="constrained")
    seed = by_servers.attrs.get("seed")
    panels = (
        (axes[0], by_servers, "servers", "voting servers (followers + leader), no observers"),
        (axes[1], by_observers, "observers", "observers added to 3 voting servers"),
    )
    for ax, df, col, xlabel in panels:
        for frac, d in df.groupby("write_fraction"):
            color = WRITE_COLORS.get(float(frac), None)
            ax.plot(d[col], d["ops_per_s"], "o-", color=color, label=f"{frac:.0%} writes")
        ax.set_xlabel(xlabel)
        ax.set_xticks(sorted(df[col].unique()))
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("throughput (operations / s, simulated time)")
    axes[1].legend(loc="center right")
    fig.suptitle(title_with_seed(title, seed))
    return fig


def plot_truncation(
    df: pd.DataFrame, title: str = "Synchronisation truncates an uncommitted proposal"
):
    """Each server's log before the heal and after synchronisation (:func:`truncation_demo`):
    one box per entry, labelled with its zxid (epoch:counter) and path, coloured by epoch; the
    proposal that synchronisation drops is hatched red."""
    import matplotlib.pyplot as plt

    df = _frame(df)
    phases = list(dict.fromkeys(df["phase"]))
    servers = sorted(set(df["server"]))
    fig, axes = plt.subplots(1, len(phases), figsize=(10.0, 3.6), layout="constrained", sharey=True)
    axes = [axes] if len(phases) == 1 else list(axes)
    epoch_colors = ["#8ab6d6", "#2a9d8f", "#e9c46a", "#b392ac"]
    width = max(df["pos"]) + 1
    for ax, phase in zip(axes, phases, strict=True):
        part = df[df["phase"] == phase]
        for _, r in part.iterrows():
            y = servers.index(r["server"])
            dropped = bool(r["dropped"])
            ax.add_patch(
                plt.Rectangle(
                    (r["pos"] + 0.05, y - 0.35),
                    0.9,
                    0.7,
                    facecolor="#f4a3a3" if dropped else epoch_colors[(r["epoch"] - 1) % 4],
                    edgecolor="#c1121f" if dropped else "black",
                    hatch="//" if dropped else None,
                    linewidth=2 if dropped else 1,
                )
            )
            what = r["op"].split(" ")[-1] if " " in r["op"] else r["op"].replace("Create", "")
            label = f"{r['zxid']}\n{what.lower() if what == 'Session' else what}"
            ax.text(r["pos"] + 0.5, y, label, ha="center", va="center", fontsize=8)
        for s in servers:
            state = part.loc[part["server"] == s, "state"]
            if len(state):
                ax.text(width + 0.1, servers.index(s), state.iloc[0], va="center", fontsize=8)
        ax.set_xlim(0, width + 1.2)
        ax.set_ylim(-0.6, len(servers) - 0.4)
        ax.set_xticks([p + 0.5 for p in range(width)], [str(p) for p in range(width)])
        ax.set_yticks(range(len(servers)), servers)
        ax.set_xlabel("position in the log (entries)")
        ax.set_title(phase)
    axes[0].set_ylabel("server")
    epochs = sorted(set(df["epoch"]))
    handles = [
        plt.Rectangle((0, 0), 1, 1, facecolor=epoch_colors[(e - 1) % 4], edgecolor="black")
        for e in epochs
    ] + [plt.Rectangle((0, 0), 1, 1, facecolor="#f4a3a3", edgecolor="#c1121f", hatch="//")]
    fig.legend(
        handles,
        [f"epoch {e}" for e in epochs] + ["dropped by synchronisation"],
        loc="outside lower center",
        ncol=len(handles),
        fontsize=8,
    )
    fig.suptitle(title_with_seed(title, df.attrs.get("seed")))
    return fig
