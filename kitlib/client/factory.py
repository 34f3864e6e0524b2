"""One informer per resource, shared by every controller of a process (client-go's ``SharedInformerFactory``).

kube-controller-manager runs some thirty controllers, and nine of them
care about Pods. Each asking for its own watch would make the API server
send every Pod change nine times, and keep nine copies of every Pod. So
they share: a controller asks the factory for the Pod informer, registers
its own event handlers and indexers on it, and reads the one cache. The
factory makes each informer on first request and starts them all together
once the controllers are built.

    factory = SharedInformerFactory(client, clock=clock, rng=rng)
    pods = factory.informer(("v1", "Pod"))           # the same object for everyone who asks
    pods.add_event_handler(on_add=...)
    factory.start()                                  # every informer not yet running
    ...
    factory.stop()

The rule that makes sharing safe is the one of every informer: never
modify what the cache hands out (objects are frozen, see
:func:`~kitlib.client.indexer.freeze`).

Simplifications:
- One resync period for the whole factory; client-go lets each handler ask
  for its own (``AddEventHandlerWithResyncPeriod``).
- Informers are keyed by resource, namespace and selectors; client-go's
  factory keys by type only and filters with its options.
"""

from __future__ import annotations

import random
import threading
from typing import Mapping

from kitlib.client.indexer import NAMESPACE_INDEX, IndexFunc, namespace_index
from kitlib.client.informer import SharedInformer
from kitlib.client.rest import ALL_NAMESPACES, Client
from kitlib.clock import Clock, RealClock


class SharedInformerFactory:
    """Makes, shares, starts and stops the informers of one process."""

    def __init__(self, client: Client, *, clock: Clock | None = None, rng: random.Random | None = None,
                 resync_period: float = 0.0) -> None:
        self.client = client
        self.clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.resync_period = resync_period
        self._lock = threading.Lock()  # guards _informers and _running
        self._informers: dict[tuple, SharedInformer] = {}
        self._running: set[tuple] = set()

    def informer(self, resource: str | tuple[str, str], namespace: str = ALL_NAMESPACES, *,
                 indexers: Mapping[str, IndexFunc] | None = None, **selectors: str) -> SharedInformer:
        """The informer of ``resource`` (a name the client takes, or ``(apiVersion, kind)``), made on first request.

        Every informer is indexed by namespace. ``indexers`` are added to
        the shared cache; an index of the same name must be the same
        function (two controllers filing Pods by node share the index).
        """
        resources = self.client.resource(*resource) if isinstance(resource, tuple) else self.client.resource(resource)
        described = resources.resource
        ns = namespace if described.namespaced else ALL_NAMESPACES
        key = (described.group, described.version, described.plural, ns, tuple(sorted(selectors.items())))
        wanted = {NAMESPACE_INDEX: namespace_index, **(indexers or {})}
        with self._lock:
            informer = self._informers.get(key)
            if informer is None:
                informer = SharedInformer(resources.list_watch(ns, rng=random.Random(self.rng.getrandbits(64)),
                                                               **selectors),
                                          name=f"shared-{described.plural}", resync_period=self.resync_period,
                                          indexers=wanted, clock=self.clock,
                                          rng=random.Random(self.rng.getrandbits(64)))
                self._informers[key] = informer
                return informer
        for name, func in wanted.items():
            existing = informer.indexer.indexers().get(name)
            if existing is None:
                informer.indexer.add_indexers({name: func})
            elif existing is not func:
                raise ValueError(f"the shared {described.plural} informer already has an index {name!r} "
                                 f"with another function: name yours differently")
        return informer

    def start(self) -> None:
        """Run every informer not running yet (client-go's ``Start``); safe to call again."""
        with self._lock:
            starting = [(key, inf) for key, inf in self._informers.items() if key not in self._running]
            self._running.update(key for key, _ in starting)
        for _, informer in starting:
            informer.run()

    def informers(self) -> list[SharedInformer]:
        with self._lock:
            return list(self._informers.values())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every informer (their caches stay readable)."""
        for informer in self.informers():
            informer.stop(timeout)
