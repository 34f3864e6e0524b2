"""The API server: the cluster's one door. Every component reads and writes cluster state through it, as Kubernetes REST resources; only it touches the store."""
