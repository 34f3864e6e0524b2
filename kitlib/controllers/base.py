"""The controller skeleton: informers fill a work queue with keys, workers drain it into ``sync(key)``.

Every controller in kube-controller-manager has the same shape (client-go's
sample-controller): informers watch the objects it cares about; their
event handlers only put ``"namespace/name"`` keys on a rate-limited work
queue; worker threads take a key, call ``sync(key)``, which reads the
newest state from the informers' caches and makes the world match it
through the API server; a failed sync puts the key back with a growing
delay. :class:`Controller` is that shape, once; a controller is a subclass
that declares its informers and handlers in ``__init__`` and writes
``sync``::

    from kitlib.api.meta import labels, name, namespace

    class ConfigMapLabeler(Controller):
        name = "labeler"

        def __init__(self, client, **options):
            super().__init__(client, **options)
            self.configmaps = self.informer("configmaps")
            self.configmaps.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))

        def sync(self, key):
            cm = self.configmaps.indexer.get_by_key(key)
            if cm is None or labels(cm).get("seen") == "true":
                return                                   # gone, or nothing to do
            patch = {"metadata": {"labels": {"seen": "true"}}}
            self.client.resource("configmaps").patch(name(cm), patch, namespace=namespace(cm))

    labeler = ConfigMapLabeler(client, clock=clock, rng=rng).run(workers=2)
    ...
    labeler.stop()

``sync`` returns nothing when the world matches, and raises to be retried
(rate-limited; after ``max_retries`` the key is dropped and logged). It
must never modify an object from a cache: ``deep_copy`` it first.

Informers: given ``informers=`` (a
:class:`~kitlib.client.factory.SharedInformerFactory`, as the controller
manager passes), a controller shares one informer per resource with the
other controllers, as in kube-controller-manager; alone (a test, a
notebook), it makes, runs and stops its own.

Simplifications:
- ``run`` returns at once (client-go's ``Run`` blocks until its context is
  cancelled); the caches sync and the workers start on a background thread.
- No Events are recorded (``record.EventRecorder``); controllers log instead.
- No metrics, no ``HandleCrash`` panics: a sync that raises is logged and
  retried like any failure.
"""

from __future__ import annotations

import abc
import logging
import random
import threading
import time as _real_time
from typing import Any, Hashable

from kitlib.api.errors import AlreadyExists, Conflict
from kitlib.api.meta import controller_of, key_of, namespace, uid
from kitlib.client.factory import SharedInformerFactory
from kitlib.client.indexer import NAMESPACE_INDEX, DeletedFinalStateUnknown, deletion_handling_key, namespace_index
from kitlib.client.informer import SharedInformer, wait_for_cache_sync
from kitlib.client.ratelimiter import RateLimiter, default_controller_rate_limiter
from kitlib.client.rest import ALL_NAMESPACES, Client
from kitlib.client.workqueue import RateLimitingQueue
from kitlib.clock import Clock, RealClock

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# As kube's endpoints and service controllers (maxRetries = 15): with the
# default 5 ms doubling back-off, the last retry comes ~82 s after the first
# failure; past that a key is dropped until its next event or resync.
DEFAULT_MAX_RETRIES = 15


def unwrap(obj: Obj | DeletedFinalStateUnknown) -> Obj:
    """The object inside a tombstone, or the object itself (what every ``on_delete`` does first)."""
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


class Controller(abc.ABC):
    """Informers, a rate-limited work queue, workers, and the ``sync(key)`` a subclass writes.

    ``kind`` and ``api_version`` name the objects this controller manages
    (the primary informer's); :meth:`enqueue_owner` resolves a dependent's
    controller reference to them. Keys are ``"namespace/name"`` strings.

    Fields a worker relies on:

    - ``queue``: get a key, ``sync`` it, then ``forget`` (success) or
      ``add_rate_limited`` (failure), and ALWAYS ``done``, or the key is
      never handed out again (:meth:`process_next_work_item` does this);
    - ``informers``: started by :meth:`run`; workers start only once all of
      them have synced, or ``sync`` would take "not in the cache yet" for
      "does not exist".
    """

    name = "controller"
    kind = ""
    api_version = ""
    workers = 1  # how many workers run() starts by default (kube: --concurrent-*-syncs)

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        namespace: str = ALL_NAMESPACES,
        resync_period: float = 0.0,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        rate_limiter: RateLimiter | None = None,
        informers: SharedInformerFactory | None = None,
    ) -> None:
        """``informers``: the process's shared factory (a controller manager's); without one, the
        controller makes, runs and stops informers of its own."""
        self.client = client
        self.factory = informers
        self.clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.namespace = namespace  # ALL_NAMESPACES, or one namespace to watch (tests, tenants)
        self.resync_period = resync_period
        self.max_retries = max_retries  # None: retry forever, as the ReplicaSet controller does upstream
        self.queue = RateLimitingQueue(self.name, clock=self.clock,
                                       rate_limiter=rate_limiter or default_controller_rate_limiter(self.clock))
        self.informers: list[SharedInformer] = []  # every informer this controller reads (waited for at start)
        self._owned: list[SharedInformer] = []  # the ones it runs and stops itself (no factory)
        self.primary: SharedInformer | None = None  # the informer of `kind`, for enqueue_owner
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopping = threading.Event()
        self._synced = threading.Event()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.queue!r}>"

    # -- informers -----------------------------------------------------------------------

    def informer(self, resource: str | tuple[str, str], namespace: str | None = None, *, primary: bool = False,
                 indexers: dict | None = None, **selectors: str) -> SharedInformer:
        """A SharedInformer this controller owns, on ``client.resource(resource).list_watch()``.

        ``resource`` is any name the client takes (``"pods"``) or an
        ``(apiVersion, kind)`` pair; ``namespace`` defaults to the
        controller's; ``selectors`` are ``label_selector=`` and
        ``field_selector=``. Every informer indexes by namespace
        (:data:`~kitlib.client.indexer.NAMESPACE_INDEX`). ``primary=True``
        marks the informer of the objects this controller manages.
        """
        ns = self.namespace if namespace is None else namespace
        if self.factory is not None:  # shared with the other controllers of the manager
            informer = self.factory.informer(resource, ns, indexers=indexers, **selectors)
            self.informers.append(informer)
            if primary:
                self.primary = informer
            return informer
        resources = self.client.resource(*resource) if isinstance(resource, tuple) else self.client.resource(resource)
        informer = SharedInformer(
            resources.list_watch(ns, rng=self.rng, **selectors),
            name=f"{self.name}-{resources.resource.plural}",
            resync_period=self.resync_period,
            indexers={NAMESPACE_INDEX: namespace_index, **(indexers or {})},
            clock=self.clock,
            rng=self.rng,
        )
        self.informers.append(informer)
        self._owned.append(informer)
        if primary:
            self.primary = informer
        return informer

    # -- event handler helpers ----------------------------------------------------------

    def enqueue(self, obj: Obj | DeletedFinalStateUnknown | str) -> None:
        """Queue an object's key (objects, tombstones and keys alike): the handler every informer can use."""
        self.queue.add(obj if isinstance(obj, str) else deletion_handling_key(obj))

    def enqueue_after(self, obj: Obj | DeletedFinalStateUnknown | str, delay: float) -> None:
        """Queue the key after ``delay`` seconds on the controller's clock (a ``minReadySeconds`` recheck)."""
        self.queue.add_after(obj if isinstance(obj, str) else deletion_handling_key(obj), delay)

    def resolve_controller_ref(self, ns: str, ref: Obj | None) -> Obj | None:
        """The cached object a controller reference names, if it is of our kind and still that object.

        As kube's ``resolveControllerRef``: the kind must match, and since
        the cache is looked up by name, the UID must match too (a
        ReplicaSet deleted and created again under the same name is not
        the owner any more).
        """
        if ref is None or ref.get("kind") != self.kind:
            return None
        if ref.get("apiVersion", "").rpartition("/")[0] != self.api_version.rpartition("/")[0]:
            return None  # the same kind in another API group ("apps" of "apps/v1") is another kind
        if self.primary is None:
            raise TypeError(f"{type(self).__name__}: resolving owners needs a primary informer "
                            "(informer(..., primary=True))")
        owner = self.primary.indexer.get_by_key(f"{ns}/{ref.get('name', '')}" if ns else ref.get("name", ""))
        if owner is None or uid(owner) != ref.get("uid"):
            return None
        return owner

    def enqueue_owner(self, obj: Obj | DeletedFinalStateUnknown) -> str | None:
        """Queue the key of the object that controls ``obj`` (a Pod's ReplicaSet); the key, or None.

        For informers of dependents: an event on a Pod means its owner may
        need a sync. Orphans and objects controlled by another kind are
        ignored.
        """
        obj = unwrap(obj)
        owner = self.resolve_controller_ref(namespace(obj), controller_of(obj))
        if owner is None:
            return None
        key = key_of(owner)
        self.queue.add(key)
        return key

    # -- running -----------------------------------------------------------------------------

    def run(self, workers: int | None = None, *, sync_timeout: float | None = None) -> "Controller":
        """Start the informers, then (once they have synced) ``workers`` worker threads; returns at once."""
        if self._started:
            log.warning("%s: controller already started", self.name)
            return self
        self._started = True
        count = self.workers if workers is None else workers
        log.info("starting %s controller", self.name)
        for informer in self._owned:
            informer.run()
        if self.factory is not None:
            self.factory.start()  # the shared ones this controller asked for (those running already stay so)
        starter = threading.Thread(target=self._start_workers, args=(count, sync_timeout),
                                   name=f"kit-{self.name}-start", daemon=True)
        self._threads.append(starter)
        starter.start()
        return self

    def _start_workers(self, count: int, sync_timeout: float | None) -> None:
        if not wait_for_cache_sync(*self.informers, timeout=sync_timeout):
            if not self._stopping.is_set():
                log.error("%s: caches did not sync; not starting workers", self.name)
            return
        if self._stopping.is_set():
            return
        self._synced.set()
        for i in range(count):
            worker = threading.Thread(target=self._worker, name=f"kit-{self.name}-worker-{i}", daemon=True)
            self._threads.append(worker)
            worker.start()

    def has_synced(self) -> bool:
        """Whether the caches synced and the workers started."""
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float = 10.0) -> bool:
        """Block until :meth:`has_synced` (``timeout`` real seconds at most)."""
        return self._synced.wait(timeout)

    def _worker(self) -> None:
        while self.process_next_work_item():
            pass

    def process_next_work_item(self) -> bool:
        """Take one key and sync it; False once the queue is shut down (the worker then returns).

        The contract of the queue, in order: ``get``; ``sync``; ``forget``
        on success (reset the back-off) or ``add_rate_limited`` on failure
        (try again later, later each time, until ``max_retries``); and
        ``done`` in every case, or the key stays "processing" forever.
        """
        key, shutdown = self.queue.get()
        if shutdown:
            return False
        try:
            if self._stopping.is_set():
                return False  # stopping: leave the rest of the queue alone
            self._sync_and_handle_error(key)
        finally:
            self.queue.done(key)
        return True

    def _sync_and_handle_error(self, key: Hashable) -> None:
        started = _real_time.monotonic()
        try:
            self.sync(str(key))
        except Exception as err:  # noqa: BLE001 (any failure of a sync is retried, never fatal to the worker)
            retries = self.queue.num_requeues(key)
            if self.max_retries is not None and retries >= self.max_retries:
                log.error("%s: dropping %s out of the queue after %d retries: %s", self.name, key, retries, err,
                          exc_info=log.isEnabledFor(logging.DEBUG))
                self.queue.forget(key)
                return
            # A Conflict is the expected race of a write from a cache one event behind (the optimistic
            # concurrency every controller lives with): the retry reads the newer object. Not a warning.
            level = logging.INFO if isinstance(err, (Conflict, AlreadyExists)) else logging.WARNING
            log.log(level, "%s: error syncing %s (retry %d): %s", self.name, key, retries + 1, err,
                    exc_info=log.isEnabledFor(logging.DEBUG))
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
        finally:
            log.debug("%s: finished syncing %s (%.1f ms)", self.name, key, (_real_time.monotonic() - started) * 1000)

    @abc.abstractmethod
    def sync(self, key: str) -> None:
        """Make the world match the object ``key`` names, reading it from the cache; raise to be retried.

        It is called for objects that were added, changed or deleted (then
        the cache no longer has it), and again at every resync. It must be
        idempotent: acting twice on the same state must change nothing more.
        """

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the workers (a sync in progress finishes) and the informers; wait ``timeout`` real seconds."""
        self._stopping.set()
        self.queue.shut_down()
        for informer in self._owned:  # shared informers are the factory's to stop
            informer.stop(timeout)
        deadline = _real_time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - _real_time.monotonic()))
                if thread.is_alive():
                    log.warning("%s: thread %s did not stop within %s s", self.name, thread.name, timeout)
        log.info("stopped %s controller", self.name)

    def stopped(self) -> bool:
        return self._stopping.is_set()

    def idle(self) -> bool:
        """Nothing to do now: no key queued or being synced (keys waiting for a later time may remain)."""
        metrics = self.queue.metrics()
        return metrics.depth == 0 and metrics.processing == 0
