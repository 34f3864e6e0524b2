"""Pictures of the live engine for the book and the lab: tables, widgets, graphs.

Every picture is drawn from a running component (a store, later a cluster)
at the moment it is asked for, never from a copy kept on the side, so what a
reader sees is what the engine holds. One module per component, named after
it: :mod:`kitlib.viz.store` draws the store, :mod:`kitlib.viz.scheduling` a Pod's
way through the scheduler, :mod:`kitlib.viz.rollout` a Deployment's rollout.

The layer rule (``DESIGN.md``, checked by import-linter): ``viz`` sits on top
of the engine and may import any of it; nothing in the engine imports
``viz``. Its optional dependencies (``ipywidgets``, ``graphviz``) are
imported only by the functions that need them, so ``import kitlib.viz``
works without them.

Simplifications:
- Pictures are static snapshots; a widget does not follow the store as it
  changes (build a new one to see newer revisions).
"""

from __future__ import annotations

__all__ = ["cluster", "dot", "rollout", "scheduling", "store"]
