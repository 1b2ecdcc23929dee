"""dslab: distributed-systems mechanisms on a deterministic, simulated network.

The package behind the dslab course. Layers (imports point down only):

- :mod:`dslab.sim` -- the world: simulated time, network, faults, clocks, durable storage.
- :mod:`dslab.core` -- what a protocol handler sees of the world (a context; no SimPy).
- :mod:`dslab.history` and :mod:`dslab.check` -- one history per run, and checkers over it.
- :mod:`dslab.viz` -- figures from histories and data frames.
"""

__version__ = "0.1.0"
