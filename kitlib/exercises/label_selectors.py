"""Grading scenarios for the exercise ``label-selectors``: which objects a selector picks.

The reader writes ``matches(requirements, labels)``, the rule of
:func:`kitlib.api.selectors.reference_label_selector_matches`: whether a
label dict satisfies every :class:`~kitlib.api.selectors.Requirement` of a
selector. Each scenario installs the reader's function in the engine through
the slot :data:`kitlib.api.selectors.label_selector_matches` and then asks
the engine, never the function alone: a parsed selector's
:meth:`~kitlib.api.selectors.Selector.matches`, the API server registry's
``list`` (``kubectl get pods -l ...``) and its ``watch``, where a label
change moves a Pod into or out of the selection. The expected answers come
from the reference rule; a failure names the selector, the labels and the
requirement that was judged wrong, with the rule for its operator.

The notebook's test cells call these through :func:`kitlib.exercises.check`;
:data:`CASES` lists the same calls (visible and hidden) for the test suite,
which runs them against the reference and against known-wrong versions.

Simplifications:
- Selectors are given in the string syntax of ``kubectl -l``; the structured
  ``matchLabels``/``matchExpressions`` form becomes the same requirements
  (:func:`kitlib.api.selectors.selector_from_label_selector`), so it tests
  nothing more. The ``gt``/``lt`` operators are not graded.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Sequence

from kitlib.api.selectors import (
    DOES_NOT_EXIST,
    DOUBLE_EQUALS,
    EQUALS,
    EXISTS,
    IN,
    NOT_EQUALS,
    NOT_IN,
    Requirement,
    label_selector_matches,
    parse_label_selector,
    reference_label_selector_matches,
)
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import lookup
from kitlib.clock import FakeClock
from kitlib.store import open_store

PODS = lookup("", "v1", "pods")
NAMESPACE = "default"
# How long a watch waits for an event that should come, and for one that should not.
EVENT_WAIT = 2.0
QUIET_WAIT = 0.2

Labels = Mapping[str, str]


def _name(candidate: Callable[..., Any]) -> str:
    return getattr(candidate, "__name__", "your function")


# ---- advice ----------------------------------------------------------------------------------------------

def _rule(req: Requirement, labels: Labels) -> str:
    """The rule of ``req``'s operator, said for this very case."""
    key, op, values = req.key, req.operator, req.values
    absent = key not in labels
    if op in (EQUALS, DOUBLE_EQUALS):
        text = (f"`{req}` matches when the label {key!r} exists and its value is {values[0]!r} "
                f"(`=` and `==` mean the same)")
        return text + ("; here the label is absent, so it does not match" if absent else "")
    if op == NOT_EQUALS:
        if absent:
            return (f"`{req}` also matches an object with no {key!r} label at all: absent is not {values[0]!r} "
                    f"(look the label up with labels.get or `in`, not labels[key])")
        return f"`{req}` matches when the label {key!r} is absent or its value is not {values[0]!r}"
    if op == IN:
        text = (f"`{req}` matches when the label {key!r} exists and its value is one of {list(values)} "
                f"(the requirement's `values`, a tuple)")
        return text + ("; here the label is absent, so it does not match" if absent else "")
    if op == NOT_IN:
        if absent:
            return (f"`{req}` also matches an object with no {key!r} label at all: absent is none of "
                    f"{list(values)}")
        return f"`{req}` matches when the label {key!r} is absent or its value is none of {list(values)}"
    if op == EXISTS:
        return (f"`{req}` (operator 'exists') matches when the label {key!r} is present, whatever its value, "
                f"even the empty string: test `key in labels`, not the value's truth")
    if op == DOES_NOT_EXIST:
        return (f"`{req}` (operator '!') matches when the label {key!r} is absent, whatever value it would "
                f"have: test `key not in labels`")
    return f"`{req}`: see the operator's rule above the exercise"


def _diagnose(candidate: Callable[..., Any], requirements: Sequence[Requirement], labels: Labels) -> str:
    """Why the candidate judged this case wrong: the first requirement it gets wrong alone, or the AND."""
    got = candidate(list(requirements), dict(labels))
    if not isinstance(got, bool):
        return f"for these labels your function returned {got!r:.60}: return True or False"
    if not requirements:
        return ("a selector with no requirements (the empty selector, `kubectl get pods` without -l) "
                "matches every object: with nothing to check, return True")
    for req in requirements:
        want = reference_label_selector_matches([req], labels)
        got = candidate([req], dict(labels))
        if bool(got) != want:
            return (f"alone, {req!r} {'matches' if want else 'does not match'} these labels, and your "
                    f"function said {got!r}: {_rule(req, labels)}")
    return ("each requirement alone is judged right, but together they are not: a selector matches only "
            "when EVERY requirement holds (an AND), so return False as soon as one fails, and True only "
            "after checking them all")


def _judge(candidate: Callable[..., Any], text: str, labels: Labels) -> str | None:
    """Advice if the candidate judges ``labels`` against selector ``text`` otherwise than the reference."""
    selector = parse_label_selector(text)
    want = reference_label_selector_matches(selector.requirements, labels)
    with label_selector_matches.installed(candidate):
        if selector.matches(dict(labels)) == want:
            return None
    return (f"the selector `{text}` {'matches' if want else 'does not match'} the labels {dict(labels)}, "
            f"but with your function it {'does not' if want else 'does'}: "
            f"{_diagnose(candidate, selector.requirements, labels)}")


def _first_misjudged(candidate: Callable[..., Any], text: str, label_sets: Sequence[Labels]) -> str:
    for labels in label_sets:
        advice = _judge(candidate, text, labels)
        if advice is not None:
            return advice
    return ("every label set here is judged right when asked one at a time, so look for state your "
            "function keeps between calls, or for changes it makes to the labels it is given")


# ---- scenarios ---------------------------------------------------------------------------------------------

def selector_matches(candidate: Callable[..., Any], *, selectors: Sequence[str],
                     label_sets: Sequence[Labels]) -> None:
    """Each selector (``kubectl -l`` syntax) against each label set, through ``Selector.matches``.

    Also checks that the function answers with a bool and leaves the labels
    it is given as they were.
    """
    with label_selector_matches.installed(candidate):
        for text in selectors:
            selector = parse_label_selector(text)
            for labels in label_sets:
                given = dict(labels)
                got = candidate(selector.requirements, given)
                assert isinstance(got, bool), (
                    f"{_name(candidate)}({list(selector.requirements)!r}, {dict(labels)!r}) returned "
                    f"{got!r:.60}: return True or False"
                )
                assert given == dict(labels), (
                    f"{_name(candidate)} changed the labels it was given (from {dict(labels)} to {given}): "
                    f"they are the object's own labels, so only read them"
                )
                advice = _judge(candidate, text, labels)
                assert advice is None, advice


@contextmanager
def _registry(candidate: Callable[..., Any]) -> Iterator[Registry]:
    """A real API server registry on a fresh store, with the candidate installed as the selector rule."""
    store = open_store("memory://", lessor=False)
    try:
        with label_selector_matches.installed(candidate):
            yield Registry(store, clock=FakeClock(wall_start=1_795_000_000), rng=random.Random(1))
    finally:
        store.close()


def _pod(name: str, labels: Labels) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def _kubectl(text: str) -> str:
    return f"kubectl get pods -l '{text}'" if text else "kubectl get pods"


def registry_list(candidate: Callable[..., Any], *, pods: Mapping[str, Labels], selectors: Sequence[str]) -> None:
    """Pods with these labels in the API server; each selector lists exactly the Pods it selects."""
    with _registry(candidate) as registry:
        for name, labels in pods.items():
            registry.create(PODS, _pod(name, labels), NAMESPACE)
        for text in selectors:
            selector = parse_label_selector(text)
            listed = registry.list(PODS, NAMESPACE, label_selector=selector)
            got = [item["metadata"]["name"] for item in listed["items"]]
            want = sorted(n for n, labels in pods.items()
                          if reference_label_selector_matches(selector.requirements, labels))
            assert got == want, (
                f"`{_kubectl(text)}` should list {want}, but with your function the API server listed "
                f"{got}: {_first_misjudged(candidate, text, list(pods.values()))}"
            )


def _expected_events(selector: str, existing: Mapping[str, Labels],
                     changes: Sequence[tuple[str, Labels | None]]) -> list[tuple[str, str, dict[str, str]]]:
    """What a watch from now sees: the selected Pods as ADDED, then each change as its watcher sees it."""
    reqs = parse_label_selector(selector).requirements
    sees = lambda labels: labels is not None and reference_label_selector_matches(reqs, labels)  # noqa: E731
    events = [("ADDED", name, dict(existing[name])) for name in sorted(existing) if sees(existing[name])]
    current: dict[str, Labels | None] = dict(existing)
    for name, labels in changes:
        old = current.get(name)
        was, now = sees(old), sees(labels)
        if labels is None:
            if was:
                events.append(("DELETED", name, dict(old or {})))
        elif now:
            events.append(("MODIFIED" if was else "ADDED", name, dict(labels)))
        elif was:
            # Leaving the selection is, for this watcher, a deletion (it carries the new labels).
            events.append(("DELETED", name, dict(labels)))
        current[name] = labels
    return events


def _describe(events: Sequence[tuple[str, str, Mapping[str, str]]]) -> str:
    return "[" + ", ".join(f"{kind} {name} {dict(labels)}" for kind, name, labels in events) + "]" if events else "nothing"


def watch_selection(candidate: Callable[..., Any], *, selector: str, existing: Mapping[str, Labels] | None = None,
                    changes: Sequence[tuple[str, Labels | None]] = ()) -> None:
    """A watch with a selector while Pods are created, relabelled and deleted.

    ``existing`` Pods are there before the watch starts (the selected ones
    arrive first, as ADDED). Each change is ``(name, labels)``: a Pod that
    does not exist yet is created, one that does gets these labels, and
    ``None`` deletes it. A Pod whose new labels bring it into the selection
    is ADDED for this watcher, one whose labels take it out is DELETED.
    """
    existing = existing or {}
    want = _expected_events(selector, existing, changes)
    with _registry(candidate) as registry:
        for name, labels in existing.items():
            registry.create(PODS, _pod(name, labels), NAMESPACE)
        watch = registry.watch(PODS, NAMESPACE, label_selector=parse_label_selector(selector))
        try:
            live: set[str] = set(existing)
            for name, labels in changes:
                if labels is None:
                    registry.delete(PODS, NAMESPACE, name)
                    live.discard(name)
                elif name in live:
                    current = registry.get(PODS, NAMESPACE, name)
                    current["metadata"]["labels"] = dict(labels)
                    registry.update(PODS, NAMESPACE, name, current)
                else:
                    registry.create(PODS, _pod(name, labels), NAMESPACE)
                    live.add(name)
            got = []
            while len(got) <= len(want):
                event = watch.get(timeout=EVENT_WAIT if len(got) < len(want) else QUIET_WAIT)
                if event is None:
                    break
                got.append((event.type, event.object["metadata"]["name"],
                            dict(event.object["metadata"].get("labels") or {})))
        finally:
            watch.cancel()
    if got != want:
        seen = [dict(labels) for labels in existing.values()] + [dict(labels) for _, labels in changes if labels is not None]
        raise AssertionError(
            f"a watch on Pods with `-l '{selector}'` should see {_describe(want)}, but with your function it "
            f"saw {_describe(got)}: {_first_misjudged(candidate, selector, seen)}"
        )


# The notebook's test cells, as data: test cell -> [(scenario, parameters, hidden)].
# The notebook spells the same calls out; tests/exercises runs this table.
CASES: dict[str, list[tuple[Callable[..., None], dict[str, Any], bool]]] = {
    "test-equality": [
        (selector_matches, {
            "selectors": ["app=web", "app==web", "app!=web"],
            "label_sets": [{"app": "web"}, {"app": "db"}, {"tier": "front"}, {}],
        }, False),
        (selector_matches, {
            "selectors": ["example.com/tier=db", "tier!=db", "tier=", "tier!="],
            "label_sets": [{"example.com/tier": "db", "tier": "cache"}, {"tier": "db"}, {"tier": ""}, {"app": "db"}],
        }, True),
    ],
    "test-set-based": [
        (selector_matches, {
            "selectors": ["env in (prod,staging)", "env notin (dev)", "canary", "!canary"],
            "label_sets": [{"env": "prod"}, {"env": "dev", "canary": "true"}, {"canary": "false"}, {}],
        }, False),
        (selector_matches, {
            "selectors": ["zone in (a)", "zone notin (a,b)", "gpu", "!gpu"],
            "label_sets": [{"zone": "a", "gpu": ""}, {"zone": "c"}, {"zone": "b"}, {"gpu": "nvidia"}, {"z": "a"}],
        }, True),
    ],
    "test-and-empty": [
        (selector_matches, {
            "selectors": ["app=web,env in (prod)", "app=web,!canary", ""],
            "label_sets": [{"app": "web", "env": "prod"}, {"app": "web", "canary": "true"}, {"app": "db"}, {}],
        }, False),
        (selector_matches, {
            "selectors": ["app=web,app!=web", "env notin (dev),tier", "a,b,!c"],
            "label_sets": [{"app": "web", "tier": "x"}, {"a": "1", "b": "2"}, {"a": "1", "b": "2", "c": "3"},
                           {"env": "dev", "tier": "x"}, {}],
        }, True),
    ],
    "test-registry-list": [
        (registry_list, {
            "pods": {"web-1": {"app": "web", "env": "prod"}, "web-2": {"app": "web", "env": "dev"},
                     "db-1": {"app": "db", "env": "prod"}, "job-1": {}},
            "selectors": ["", "app=web", "env!=prod", "env in (dev,prod),app notin (db)"],
        }, False),
        (registry_list, {
            "pods": {"a": {"track": "canary", "app": "api"}, "b": {"app": "api"}, "c": {"track": ""}, "d": {}},
            "selectors": ["track", "!track", "track notin (canary)", "app=api,track!=canary"],
        }, True),
    ],
    "test-registry-watch": [
        (watch_selection, {
            "selector": "app=web",
            "changes": [("p", {"app": "db"}), ("p", {"app": "web"}), ("p", {"app": "web", "v": "2"}),
                        ("p", {"app": "db"})],
        }, False),
        (watch_selection, {
            "selector": "env notin (dev),!canary",
            "existing": {"a": {"env": "prod"}, "b": {"env": "dev"}, "c": {}},
            "changes": [("b", {"env": "prod"}), ("c", {"canary": "yes"}), ("a", None), ("d", {"env": "qa"}),
                        ("c", {}), ("b", None)],
        }, True),
    ],
}
