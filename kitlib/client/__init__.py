"""The client layer: the only door from a component to the API server.

The scheduler, the controllers and the kubelet never import the API server
or the store; they reach the cluster through this package, as Kubernetes
components do through client-go:

- :mod:`kitlib.client.workqueue`: the work queue a controller's event
  handlers fill with ``"namespace/name"`` keys and its workers drain
  (de-duplicated, delayed on the clock, rate-limited retries);
- :mod:`kitlib.client.informer`: list + watch kept in a local, read-only
  cache with indexes (the Reflector, the Indexer, the SharedInformer), and
  the event handlers that tell a controller what changed;
- ``kitlib.client.rest`` (to come): the HTTP transport and typed helpers
  that implement :class:`~kitlib.client.informer.ListWatch` against a real
  API server.

Simplifications: see each module.
"""

from kitlib.client.informer import (
    NAMESPACE_INDEX,
    NODE_NAME_INDEX,
    Backoff,
    DeletedFinalStateUnknown,
    Indexer,
    ListWatch,
    ReadOnlyObject,
    Reflector,
    ResourceEventHandler,
    ResourceEventHandlerFuncs,
    SharedInformer,
    WatchStream,
    deletion_handling_key,
    freeze,
    namespace_index,
    node_name_index,
    wait_for_cache_sync,
)
from kitlib.client.workqueue import (
    BucketRateLimiter,
    DelayingQueue,
    Empty,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    QueueMetrics,
    RateLimiter,
    RateLimitingQueue,
    WorkQueue,
    WorkQueueError,
    default_controller_rate_limiter,
)

__all__ = [
    # informer
    "NAMESPACE_INDEX", "NODE_NAME_INDEX", "Backoff", "DeletedFinalStateUnknown", "Indexer", "ListWatch",
    "ReadOnlyObject", "Reflector", "ResourceEventHandler", "ResourceEventHandlerFuncs", "SharedInformer",
    "WatchStream", "deletion_handling_key", "freeze", "namespace_index", "node_name_index", "wait_for_cache_sync",
    # workqueue
    "BucketRateLimiter", "DelayingQueue", "Empty", "ItemExponentialFailureRateLimiter", "MaxOfRateLimiter",
    "QueueMetrics", "RateLimiter", "RateLimitingQueue", "WorkQueue", "WorkQueueError",
    "default_controller_rate_limiter",
]
