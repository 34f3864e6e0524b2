"""The client layer: the only door from a component to the API server.

The scheduler, the controllers and the kubelet never import the API server
or the store; they reach the cluster through this package, as Kubernetes
components do through client-go:

- :mod:`kitlib.client.workqueue`: the work queue a controller's event
  handlers fill with ``"namespace/name"`` keys and its workers drain
  (de-duplicated, delayed on the clock, rate-limited retries);
- :mod:`kitlib.client.ratelimiter`: how long a failed key waits before its
  next try (per-key exponential back-off, an overall token bucket);
- :mod:`kitlib.client.reflector`: list + watch from a :class:`ListWatch`,
  resumed after a broken watch, listed again after ``410 Gone``;
- :mod:`kitlib.client.indexer`: the local, read-only cache with indexes
  that the reflector fills;
- :mod:`kitlib.client.informer`: the SharedInformer that runs a reflector
  into an indexer, and the event handlers that tell a controller what
  changed;
- :mod:`kitlib.client.kubeconfig`: where the API server is, how to trust
  it and who we are, read from a kubeconfig file;
- :mod:`kitlib.client.transport`: how a request reaches the API server:
  over HTTPS (TLS verified against the cluster CA), or in-process straight
  into its handler, still authenticated and authorised;
- :mod:`kitlib.client.rest`: the :class:`~kitlib.client.rest.Client`:
  get, list, create, update, patch, delete, watch and scale on plain dicts,
  failures raised as :mod:`kitlib.api.errors`, and the
  :class:`~kitlib.client.reflector.ListWatch` an informer runs on.

    client = Client.from_kubeconfig(path)                  # or Client(InProcessTransport(handler, user))
    informer = SharedInformer(client.pods(ALL_NAMESPACES).list_watch(), name="pods")

Simplifications: see each module.
"""

from kitlib.client.indexer import (
    NAMESPACE_INDEX,
    NODE_NAME_INDEX,
    DeletedFinalStateUnknown,
    Indexer,
    ReadOnlyObject,
    deletion_handling_key,
    freeze,
    namespace_index,
    node_name_index,
)
from kitlib.client.informer import (
    ResourceEventHandler,
    ResourceEventHandlerFuncs,
    SharedInformer,
    wait_for_cache_sync,
)
from kitlib.client.kubeconfig import KubeConfig, load_kubeconfig
from kitlib.client.ratelimiter import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)
from kitlib.client.reflector import Backoff, ListWatch, Reflector, WatchStream
from kitlib.client.rest import ALL_NAMESPACES, Client, ResourceClient, ResourceListWatch, Watch
from kitlib.client.transport import HTTPSTransport, InProcessTransport, RawResponse, ServerUnreachable, Transport
from kitlib.client.workqueue import (
    DelayingQueue,
    Empty,
    QueueMetrics,
    RateLimitingQueue,
    WorkQueue,
    WorkQueueError,
)

__all__ = [
    # reflector
    "Backoff", "ListWatch", "Reflector", "WatchStream",
    # indexer
    "NAMESPACE_INDEX", "NODE_NAME_INDEX", "DeletedFinalStateUnknown", "Indexer", "ReadOnlyObject",
    "deletion_handling_key", "freeze", "namespace_index", "node_name_index",
    # informer
    "ResourceEventHandler", "ResourceEventHandlerFuncs", "SharedInformer", "wait_for_cache_sync",
    # workqueue
    "DelayingQueue", "Empty", "QueueMetrics", "RateLimitingQueue", "WorkQueue", "WorkQueueError",
    # rest and transport
    "ALL_NAMESPACES", "Client", "ResourceClient", "ResourceListWatch", "Watch",
    "HTTPSTransport", "InProcessTransport", "KubeConfig", "RawResponse", "ServerUnreachable", "Transport",
    "load_kubeconfig",
    # ratelimiter
    "BucketRateLimiter", "ItemExponentialFailureRateLimiter", "MaxOfRateLimiter", "RateLimiter",
    "default_controller_rate_limiter",
]
