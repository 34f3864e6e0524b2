"""kitlib: the engine of a textbook about Kubernetes that runs.

One package per Kubernetes component, layered as in ``DESIGN.md`` (checked by
import-linter): ``api`` at the bottom, then ``store``, ``apiserver``,
``client``, the node machinery, the control loops, and ``viz``,
``exercises`` and ``cli`` on top. This first slice holds the store.
"""

__version__ = "0.1.0"
