"""The controllers: loops that make the cluster's actual state match what its objects ask for.

Each controller watches objects through informers, and reconciles one key
at a time through the API server only, as in kube-controller-manager:

- :mod:`kitlib.controllers.base`: :class:`~kitlib.controllers.base.Controller`,
  the one skeleton (informers, work queue, workers,
  ``process_next_work_item`` -> abstract ``sync(key)``);
- :mod:`kitlib.controllers.expectations`: creations and deletions a
  controller waits to see before it acts again;
- :mod:`kitlib.controllers.controller_utils`: Pod helpers shared by the
  workload controllers (active, ready, available, which to delete first,
  Pods from templates, slow-start batches);
- :mod:`kitlib.controllers.ref_manager`: adopting and releasing Pods by
  controller reference;
- :mod:`kitlib.controllers.replicaset`: the ReplicaSet controller;
- :mod:`kitlib.controllers.manager`: the controller manager, which runs
  them while it holds the ``kube-controller-manager`` Lease.

Simplifications: see each module.
"""

from kitlib.controllers.base import Controller
from kitlib.controllers.expectations import ControllerExpectations
from kitlib.controllers.manager import CONTROLLERS, ControllerContext, ControllerManager
from kitlib.controllers.replicaset import ReplicaSetController

__all__ = ["CONTROLLERS", "Controller", "ControllerContext", "ControllerExpectations", "ControllerManager",
           "ReplicaSetController"]
