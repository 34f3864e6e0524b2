"""Clusters: the control plane in one object, and the ``kit init`` / ``kit down`` pair that runs it in the background.

- :mod:`kitlib.cluster.controlplane`: :class:`ControlPlane`, the store and
  the API server started and stopped together; :func:`start` is the one
  line a notebook needs.
- :mod:`kitlib.cluster.kubeadm`: ``kit init``, ``kit status``, ``kit down``:
  the same control plane in a background process, as kubeadm leaves one
  running on a machine.
"""

from kitlib.cluster.controlplane import DEFAULT_PORT, ControlPlane, start

__all__ = ["DEFAULT_PORT", "ControlPlane", "start"]
