"""Exercises: the reader writes one piece of the engine, and the real engine runs it.

Each exercise fills a slot (:mod:`kitlib.slots`) with the reader's function.
The notebook's test cells call :func:`check` with a scenario from this
package (one module per exercise, e.g. :mod:`kitlib.exercises.store_update`);
the scenario installs the function in the engine, runs, and checks the
outcome, never the source text. Failures read as one line of advice.

Nothing in the engine imports this package (import-linter enforces it).
"""

from kitlib.exercises.grading import NotWrittenYet, check

__all__ = ["NotWrittenYet", "check"]
