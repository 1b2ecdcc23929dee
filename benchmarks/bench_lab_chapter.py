"""How long the lab chapter takes to execute, beside a kernel start-up baseline from the same run.

- ``baseline``: execute a one-cell notebook (``1 + 1``) with nbclient: starting a kernel, running a
  cell and shutting the kernel down. Whatever a chapter costs on top of this is its own work.
- ``chapters/lab.ipynb``: execute the whole chapter the same way (in memory: the committed
  notebook is never rewritten), then list its slowest cells.

The chapter's budget is 30 s on a 2-core laptop (DESIGN: "well under a minute"). Run:
``python benchmarks/bench_lab_chapter.py`` (``--repeat R`` for R timed runs of each; the best run
is reported, the least disturbed by other load on the machine).
"""

from __future__ import annotations

import argparse
import copy
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "chapters" / "lab.ipynb"
BUDGET_S = 30.0


def execute(nb: nbformat.NotebookNode, cwd: Path) -> tuple[float, nbformat.NotebookNode]:
    """Wall seconds to execute ``nb`` in a fresh ``python3`` kernel, and the executed copy."""
    nb = copy.deepcopy(nb)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start, nb


def cell_seconds(nb: nbformat.NotebookNode) -> list[tuple[float, int, str]]:
    """``(seconds, index, first line)`` of each code cell, from nbclient's timing metadata."""
    out = []
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        a, b = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type == "code" and a and b:
            secs = (datetime.fromisoformat(b.replace("Z", "+00:00"))
                    - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            out.append((secs, i, first[:60]))
    return sorted(out, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each (best is kept)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat={args.repeat} must be >= 1")

    trivial = new_notebook(cells=[new_code_cell("1 + 1")])
    trivial.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}
    chapter = nbformat.read(CHAPTER, as_version=4)

    baseline = min(execute(trivial, ROOT)[0] for _ in range(args.repeat))
    runs = [execute(chapter, CHAPTER.parent) for _ in range(args.repeat)]
    best, executed = min(runs, key=lambda r: r[0])

    n_code = sum(1 for c in chapter.cells if c.cell_type == "code")
    print(f"{'notebook':34s} {'wall s':>8s}")
    print(f"{'baseline (1 cell: kernel start-up)':34s} {baseline:8.2f}")
    print(f"{'chapters/lab.ipynb (' + str(n_code) + ' code cells)':34s} {best:8.2f}")
    print(f"chapter work beyond start-up: {best - baseline:.2f} s "
          f"({best / baseline:.1f}x the baseline); budget {BUDGET_S:.0f} s: "
          f"{'OK' if best <= BUDGET_S else 'OVER'}")
    print("slowest cells:")
    for secs, i, first in cell_seconds(executed)[:5]:
        print(f"  cell {i:2d}  {secs:6.2f} s  {first}")


if __name__ == "__main__":
    main()
