"""kitlib: the engine of a textbook about Kubernetes that runs.

One package per Kubernetes component, layered as in ``DESIGN.md`` (checked by
import-linter): ``api`` at the bottom, then ``store``, ``apiserver``,
``client``, the node machinery, the control loops, and ``viz``,
``exercises`` and ``cli`` on top.

Logging: every module logs to ``logging.getLogger(__name__)`` and the
package adds only a ``NullHandler``, as a library should, so the engine's
retries and warnings do not spill into a notebook's output. To watch them,
configure logging yourself: ``logging.basicConfig(level=logging.INFO)``.
The ``kit`` command configures it for its own processes.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
