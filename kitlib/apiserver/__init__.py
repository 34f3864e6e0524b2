"""The API server: the cluster's one door. Every component reads and writes cluster state through it, as
Kubernetes REST resources; only it touches the store.

In the order a request travels:

- :mod:`~kitlib.apiserver.server`: HTTPS, and :class:`~kitlib.apiserver.server.APIServer`, which puts the
  pieces together; :mod:`~kitlib.apiserver.pki` makes the certificates;
- :mod:`~kitlib.apiserver.request` (bodies, including :mod:`~kitlib.apiserver.protobuf`) and
  :mod:`~kitlib.apiserver.handler` (routing): transport-free, shared with the in-process client;
- :mod:`~kitlib.apiserver.authn`, :mod:`~kitlib.apiserver.requestinfo`, :mod:`~kitlib.apiserver.rbac` (with
  :mod:`~kitlib.apiserver.bootstrappolicy`): who, what, and whether they may;
- :mod:`~kitlib.apiserver.discovery`, :mod:`~kitlib.apiserver.openapi`: what is served, and its schemas;
- :mod:`~kitlib.apiserver.endpoints`: the verbs, in kube's order: :mod:`~kitlib.apiserver.schema` (decoding,
  fieldValidation), :mod:`~kitlib.apiserver.defaults`, :mod:`~kitlib.apiserver.fieldmanager` (managedFields
  and server-side apply, over :mod:`~kitlib.apiserver.fieldpath`), :mod:`~kitlib.apiserver.admission` (with
  :mod:`~kitlib.apiserver.service_allocation` over :mod:`~kitlib.apiserver.allocator`), validation
  (:mod:`kitlib.api.validate`), then the registry;
- :mod:`~kitlib.apiserver.patch` and :mod:`~kitlib.apiserver.strategic`: the patch formats;
- :mod:`~kitlib.apiserver.registry`: objects in the store, by compare-and-swap, and their watches;
  :mod:`~kitlib.apiserver.resources` is the table of what is served;
- subresources: :mod:`~kitlib.apiserver.scale`, :mod:`~kitlib.apiserver.pods` (binding, log),
  :mod:`~kitlib.apiserver.namespaces` (deletion);
- answers: :mod:`~kitlib.apiserver.table` and :mod:`~kitlib.apiserver.printers` (kubectl's columns).
"""
