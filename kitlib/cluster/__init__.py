"""Clusters: the control plane in one object, and the ``kit init`` / ``kit down`` pair that runs it in the background.

- :mod:`kitlib.cluster.controlplane`: :class:`ControlPlane`, the store and
  the API server started and stopped together; :func:`start` is the one
  line a notebook needs.
- :mod:`kitlib.cluster.local`: :class:`LocalCluster`, a whole cluster
  (control plane, scheduler, controller manager, simulated nodes);
  :func:`up` is its one line;
- :mod:`kitlib.cluster.sim` and :mod:`kitlib.cluster.hollow`: the simulated
  nodes (hollow kubelets);
- :mod:`kitlib.cluster.kubeadm`: ``kit init``, ``kit up``, ``kit status``,
  ``kit down``: the same in a background process, as kubeadm leaves a
  control plane running on a machine.
"""

from kitlib.cluster.controlplane import DEFAULT_PORT, ControlPlane, start
from kitlib.cluster.local import LocalCluster, up

__all__ = ["DEFAULT_PORT", "ControlPlane", "LocalCluster", "start", "up"]
