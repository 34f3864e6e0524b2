"""The autograder's side of an exercise: run a scenario, turn failures into advice.

A test cell of an exercise notebook calls :func:`check` with a scenario (a
plain function from one of this package's modules), the reader's function
and the scenario's parameters. The scenario installs the reader's function
in the engine through its slot (:mod:`kitlib.slots`), drives the real engine,
and raises :class:`AssertionError` with a message that says what went wrong
and what to change. :func:`check` adds three things a student needs:

- an untouched exercise (the function still raises ``NotImplementedError``)
  fails with one line saying so, not with a traceback;
- any other exception from the reader's code becomes one line naming the
  exception and the line of their code it came from;
- tracebacks stay short (IPython's ``Minimal`` mode), so the feedback shows
  the message and never the source of a hidden test.

The watchdog (:class:`Watchdog`) lets a scenario give up on a function that
never returns (a retry loop that can never succeed) without hanging the
notebook: after the scenario's deadline the next call the stuck function
makes into the store, or into ``try_update``, raises :class:`Abandoned`.

Simplifications:
- Nothing is sandboxed: the reader's code runs in the grading process, as in
  any nbgrader course (run the autograder in a container for untrusted code).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from typing import Any, Callable, Iterator

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NotWrittenYet(AssertionError):
    """The reader's function still raises ``NotImplementedError``."""


class Abandoned(BaseException):
    """Raised inside a function the scenario gave up waiting for, to stop it.

    A ``BaseException`` so that a retry loop's ``except Exception`` does not
    swallow it and keep spinning.
    """


def check(scenario: Callable[..., Any], candidate: Callable[..., Any], **params: Any) -> Any:
    """Run ``scenario(candidate, **params)`` and report a failure as one clear line."""
    name = getattr(candidate, "__name__", "your function")
    try:
        return scenario(candidate, **params)
    except NotImplementedError:
        _short_tracebacks()
        raise NotWrittenYet(
            f"{name} is not written yet: replace `raise NotImplementedError()` in its cell "
            f"with your code, run that cell, then run this test cell again."
        ) from None
    except AssertionError as failure:
        _short_tracebacks()
        raise AssertionError(str(failure)) from None
    except Exception as error:  # anything else came from the reader's code or its misuse of the engine
        _short_tracebacks()
        raise AssertionError(f"{name} raised {describe(error)}") from None


def describe(error: BaseException) -> str:
    """``"TypeError: ... (your line 7: `x = kv.value`)"``: the error and where it came from."""
    text = f"{type(error).__name__}: {error}"
    where = _reader_frame(error)
    if where is not None:
        text += f" (at line {where.lineno} of your code: `{(where.line or '').strip()}`)"
    return text


def _reader_frame(error: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame outside kitlib and the standard library: the reader's code."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        filename = os.path.abspath(frame.filename)
        if filename.startswith(_PACKAGE_DIR) or filename.startswith(os.path.dirname(os.__file__)):
            continue
        return frame
    return None


def _short_tracebacks() -> None:
    """Make IPython print only ``Error: message`` (``%xmode Minimal``), if we run in IPython.

    Done right before a failure is raised, so that it holds even if the
    reader's own cell changed the mode: a longer mode would print the failing
    line of the test cell, and for a hidden test that line is the hidden code.
    """
    try:
        from IPython import get_ipython  # type: ignore[import-not-found]
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "InteractiveTB"):
        shell.InteractiveTB.set_mode("Minimal")


class Watchdog:
    """Counts what a scenario's calls do, and stops them once the scenario gives up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.abandoned = False
        self.calls: dict[str, int] = {}

    def tick(self, what: str) -> None:
        """Count one call of ``what``; raise :class:`Abandoned` if the scenario gave up."""
        if self.abandoned:
            raise Abandoned(f"the scenario gave up waiting; {what} was called afterwards")
        with self._lock:
            self.calls[what] = self.calls.get(what, 0) + 1

    def count(self, what: str) -> int:
        with self._lock:
            return self.calls.get(what, 0)

    def abandon(self) -> None:
        self.abandoned = True

    def watch(self, store: Any) -> "WatchedStore":
        return WatchedStore(store, self)


class WatchedStore:
    """A real store seen through a :class:`Watchdog`: every call is counted, then delegated."""

    def __init__(self, store: Any, watchdog: Watchdog) -> None:
        self._store = store
        self._watchdog = watchdog

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr
        watchdog = self._watchdog

        def call(*args: Any, **kwargs: Any) -> Any:
            watchdog.tick(name)
            return attr(*args, **kwargs)

        call.__name__ = name
        call.__doc__ = attr.__doc__
        return call

    def __repr__(self) -> str:
        return repr(self._store)


def run_concurrently(
    jobs: list[Callable[[], Any]], watchdog: Watchdog, timeout: float
) -> list[Any]:
    """Run each job in its own thread, all released at once; return their results in order.

    Raises :class:`TimedOut` if some job is still running after ``timeout``
    seconds (the watchdog then stops it at its next call), or re-raises the
    first exception a job raised.
    """
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def work(index: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = job()
        except Abandoned:
            pass
        except BaseException as error:  # reported to the scenario's thread below
            errors.append(error)
            watchdog.abandon()  # stop the others: the first error is the one to report

    threads = [
        threading.Thread(target=work, args=(i, job), name=f"writer-{i}", daemon=True)
        for i, job in enumerate(jobs)
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if errors:
        for thread in threads:  # give the others a moment to notice, so none writes after we return
            thread.join(1.0)
        raise errors[0]
    if any(thread.is_alive() for thread in threads):
        watchdog.abandon()
        raise TimedOut(timeout)
    return results


def run_alone(job: Callable[[], Any], watchdog: Watchdog, timeout: float) -> Any:
    """Run one job in a thread with a deadline (see :func:`run_concurrently`)."""
    return run_concurrently([job], watchdog, timeout)[0]


class TimedOut(AssertionError):
    """A scenario's calls did not all return before its deadline."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(f"did not finish within {timeout:g} s")


class Recorder:
    """The reader's function as a controller calls it, from the controller's own threads.

    Every call's arguments and answer are kept (``calls``) for the advice;
    the first exception the function raised is kept too (``error``), since a
    controller only logs it and retries: :meth:`raise_error` raises it again
    in the scenario's thread, where :func:`check` reports it.
    """

    def __init__(self, candidate: Callable[..., Any]) -> None:
        self.candidate = candidate
        self.__name__ = getattr(candidate, "__name__", "your function")
        self._lock = threading.Lock()
        self.calls: list[tuple[tuple[Any, ...], Any]] = []
        self.error: BaseException | None = None
        self._judged = 0  # calls judge_calls has looked at

    def __call__(self, *args: Any) -> Any:
        try:
            result = self.candidate(*args)
        except BaseException as error:
            with self._lock:
                self.error = self.error or error
            raise
        with self._lock:
            self.calls.append((args, result))
        return result

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def judge_calls(self, judge: Callable[..., str | None], prefix: str) -> None:
        """Raise the reader's error, or ``prefix`` + the advice ``judge(args, answer)`` gives the first wrong answer.

        Calls already judged by an earlier look are not judged again.
        """
        self.raise_error()
        while self._judged < len(self.calls):
            args, answer = self.calls[self._judged]
            self._judged += 1
            problem = judge(args, answer)
            if problem is not None:
                raise AssertionError(prefix + problem)


@contextlib.contextmanager
def quiet_engine() -> Iterator[None]:
    """Keep the engine's warnings (a controller retrying after the reader's error) out of the notebook."""
    logger = logging.getLogger("kitlib")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
