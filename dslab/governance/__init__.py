"""Service governance (服务治理) in the style of Meituan's OCTO, simplified.

- :mod:`~dslab.governance.mns`: MNS, the naming service: registry, pushes, heartbeat expiry;
- :mod:`~dslab.governance.agent`: SgAgent, one per host: registers for providers, caches lists;
- :mod:`~dslab.governance.scanner`: Scanner, central health checks with a double check and
  self-protection;
- :mod:`~dslab.governance.provider`: a provider;
- :mod:`~dslab.governance.experiments`, :mod:`~dslab.governance.plots`,
  :mod:`~dslab.governance.widgets`.

Not modelled: MSGP (the portal), Watt (metrics), the weights Scanner lowers instead of removing,
per-machine-room scanners, and OCTO 2.0's service mesh.
"""

from dslab.governance.agent import SgAgent
from dslab.governance.mns import MODES, NamingService
from dslab.governance.provider import Provider
from dslab.governance.scanner import Scanner

__all__ = ["MODES", "NamingService", "Provider", "Scanner", "SgAgent"]
