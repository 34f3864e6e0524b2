"""The scheduler: pending Pods in, Bindings out (kube-scheduler)."""
