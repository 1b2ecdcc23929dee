"""Service governance (服务治理) in the style of Meituan's OCTO, simplified.

- :mod:`~dslab.governance.mns`: MNS, the naming service: registry, pushes, heartbeat expiry;
- :mod:`~dslab.governance.agent`: SgAgent, one per host: registers for providers, caches lists;
- :mod:`~dslab.governance.scanner`: Scanner, central health checks with a double check and
  self-protection;
- :mod:`~dslab.governance.weights`: the Scanner lowering a sick provider's weight (权重) in steps;
- :mod:`~dslab.governance.rooms`: one Scanner per machine room (机房) with cross-room takeover;
- :mod:`~dslab.governance.controller`: MNS-Controller, the tier that takes the registry's reads
  and pushes;
- :mod:`~dslab.governance.provider`: a provider (which may be slow or flaky for a while);
- :mod:`~dslab.governance.scenarios` (runs returning Results; ``build(sim, n, node_cls)``),
  :mod:`~dslab.governance.analysis` (pure functions of their frames and histories) and
  :mod:`~dslab.governance.experiments` (the facade the chapter imports),
  :mod:`~dslab.governance.plots`, :mod:`~dslab.governance.widgets`; the same split in
  ``evolution_scenarios`` / ``evolution_analysis`` / ``evolution`` and
  :mod:`~dslab.governance.evolution_plots` for weights, rooms, the controller tier and the
  CP-to-AP registry move (which reuses :mod:`dslab.cap.registry`).

Not modelled: MSGP (the portal), Watt (metrics), and OCTO 2.0's service mesh.
"""

from dslab.governance.agent import SgAgent
from dslab.governance.controller import MnsController
from dslab.governance.mns import MODES, NamingService
from dslab.governance.provider import Provider
from dslab.governance.rooms import RoomScanner
from dslab.governance.scanner import Scanner
from dslab.governance.weights import WeightScanner

__all__ = ["MODES", "MnsController", "NamingService", "Provider", "RoomScanner", "Scanner",
           "SgAgent", "WeightScanner"]
