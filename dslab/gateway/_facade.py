"""How the gateway's ``experiments`` facades turn a scenario's Result back into the tables the
chapter has always read (the notebooks call the facades; tests and graders may call either)."""

from __future__ import annotations

from dslab.sim.scenario import as_tables as tables

__all__ = ["tables"]
