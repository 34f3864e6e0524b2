"""The in-tree plugins, one module per plugin, each with its ``NAME`` and a class.

- :mod:`.node_unschedulable`, :mod:`.node_name`, :mod:`.taint_toleration`,
  :mod:`.node_affinity`, :mod:`.node_resources_fit`, :mod:`.pod_topology_spread`:
  Filter (and, for some, Score);
- :mod:`.balanced_allocation`: Score;
- :mod:`.default_preemption`: PostFilter;
- :mod:`.default_binder`: Bind;
- :mod:`.registry`: the registry of all of them and kube's default profile;
- :mod:`.helper`: taints and tolerations, and ``DefaultNormalizeScore``.

Simplifications: kube's default profile also has NodePorts, InterPodAffinity,
ImageLocality and the volume plugins; they are not written yet (see
:mod:`.registry`).
"""
