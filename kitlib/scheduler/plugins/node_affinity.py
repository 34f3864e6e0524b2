"""NodeAffinity: a Pod's ``nodeSelector`` and node affinity decide which Nodes it may, or would like to, run on.

Filter (required): the Node's labels must match every ``spec.nodeSelector``
entry, and at least one of the terms of
``affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution``
(terms are ORed; the expressions inside a term are ANDed). Operators:
``In``, ``NotIn``, ``Exists``, ``DoesNotExist``, and ``Gt``/``Lt`` comparing a
label's value as an integer. ``matchFields`` may name the Node itself
(``metadata.name``). A term with no expression matches nothing. A failure
is UnschedulableAndUnresolvable ("node(s) didn't match Pod's node
affinity/selector"): evicting Pods does not change a Node's labels.

PreFilter: if every required term names Nodes by ``metadata.name In``, only
those Nodes are worth filtering; the framework skips the rest.

Score (preferred): the sum of the weights of the
``preferredDuringSchedulingIgnoredDuringExecution`` terms the Node matches,
normalised so the best Node gets 100 (``DefaultNormalizeScore``).

The matching follows ``k8s.io/component-helpers/scheduling/corev1/nodeaffinity``
and ``pkg/scheduler/framework/plugins/nodeaffinity``.

Simplifications:
- No ``addedAffinity`` (scheduler-enforced affinity from the plugin's args).
- A term whose expressions do not parse simply does not match (kube also
  collects the parse errors, and ignores them in Filter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from kitlib.api.errors import InvalidSelector
from kitlib.api.selectors import DOES_NOT_EXIST, EXISTS, GREATER_THAN, IN, LESS_THAN, NOT_IN, Requirement, \
    Selector, new_requirement, selector_from_set
from kitlib.scheduler.framework import MAX_NODE_SCORE, Code, CycleState, Handle, NodeScore, PreFilterResult, \
    Status
from kitlib.scheduler.nodeinfo import NodeInfo
from kitlib.scheduler.plugins.helper import default_normalize_score

NAME = "NodeAffinity"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"

OBJECT_NAME_FIELD = "metadata.name"
_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST,
              "Gt": GREATER_THAN, "Lt": LESS_THAN}


@dataclass
class NodeSelectorTerm:
    """One parsed ``NodeSelectorTerm``; ``None`` parts were not given, ``errors`` did not parse."""

    labels: Selector | None = None
    fields: list[tuple[str, str]] | None = None  # (operator, node name)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, term: Mapping[str, Any]) -> "NodeSelectorTerm":
        parsed = cls()
        expressions = term.get("matchExpressions") or []
        if expressions:
            requirements: list[Requirement] = []
            for expr in expressions:
                operator = _OPERATORS.get(expr.get("operator"))
                if operator is None:
                    parsed.errors.append(f"Unsupported value: {expr.get('operator')!r}")
                    continue
                try:
                    requirements.append(new_requirement(expr.get("key") or "", operator, expr.get("values")))
                except InvalidSelector as err:
                    parsed.errors.append(str(err))
            parsed.labels = Selector(tuple(requirements))
        fields = term.get("matchFields") or []
        if fields:
            parsed.fields = []
            for expr in fields:
                values = expr.get("values") or []
                if expr.get("key") != OBJECT_NAME_FIELD:
                    parsed.errors.append(f"{expr.get('key')!r} is not a valid field selector key")
                elif len(values) != 1:
                    parsed.errors.append("must have one element")
                elif expr.get("operator") not in ("In", "NotIn"):
                    parsed.errors.append(f"Unsupported value: {expr.get('operator')!r}")
                else:
                    parsed.fields.append((expr["operator"], values[0]))
        return parsed

    def matches(self, node_info: NodeInfo) -> bool:
        """``nodeSelectorTerm.match``: an empty term selects nothing; a term that did not parse neither."""
        if self.errors or (self.labels is None and self.fields is None):
            return False
        if self.labels is not None and not self.labels.matches(node_info.labels):
            return False
        if self.fields is not None and node_info.name:
            for operator, value in self.fields:
                if (node_info.name == value) != (operator == "In"):
                    return False
        return True


@dataclass
class RequiredNodeAffinity:
    """``spec.nodeSelector`` AND (any required term) (``nodeaffinity.GetRequiredNodeAffinity``)."""

    node_selector: Selector | None = None
    terms: list[NodeSelectorTerm] | None = None

    @classmethod
    def of(cls, pod: Mapping[str, Any]) -> "RequiredNodeAffinity":
        spec = pod.get("spec") or {}
        node_selector = spec.get("nodeSelector") or {}
        required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        terms = None
        if required is not None:
            terms = [NodeSelectorTerm.parse(term) for term in required.get("nodeSelectorTerms") or []]
        return cls(selector_from_set(node_selector) if node_selector else None, terms)

    def matches(self, node_info: NodeInfo) -> bool:
        if self.node_selector is not None and not self.node_selector.matches(node_info.labels):
            return False
        if self.terms is not None:
            return any(term.matches(node_info) for term in self.terms)
        return True


def _node_affinity(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


def preferred_terms(pod: Mapping[str, Any]) -> list[tuple[int, NodeSelectorTerm]] | str:
    """The weighted preferred terms (zero weights and empty terms dropped), or a parse error message."""
    terms, errors = [], []
    for term in _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        preference = term.get("preference") or {}
        if not term.get("weight") or not (preference.get("matchExpressions") or preference.get("matchFields")):
            continue
        parsed = NodeSelectorTerm.parse(preference)
        if parsed.errors:
            errors.extend(parsed.errors)
        else:
            terms.append((int(term["weight"]), parsed))
    return "; ".join(errors) if errors else terms


class NodeAffinity:
    """PreFilter + Filter on required affinity and nodeSelector; PreScore + Score on preferred terms."""

    NAME = NAME

    def __init__(self, args: Mapping[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def pre_filter(self, state: CycleState, pod: dict,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        if required is None and not (pod.get("spec") or {}).get("nodeSelector"):
            return None, Status.new(Code.Skip)  # nothing for Filter to check
        state.write(PRE_FILTER_STATE_KEY, RequiredNodeAffinity.of(pod))
        if not required or not required.get("nodeSelectorTerms"):
            return None, None
        # Terms naming Nodes (metadata.name In [...]) narrow the search; a term that names none means all Nodes.
        node_names: set[str] | None = None
        for term in required["nodeSelectorTerms"]:
            term_names: set[str] | None = None
            for expr in term.get("matchFields") or []:
                if expr.get("key") == OBJECT_NAME_FIELD and expr.get("operator") == "In":
                    values = set(expr.get("values") or [])
                    term_names = values if term_names is None else term_names & values
            if term_names is None:
                return None, None
            node_names = term_names if node_names is None else node_names | term_names
        if not node_names:
            return None, Status.new(Code.UnschedulableAndUnresolvable, ERR_REASON_CONFLICT)
        return PreFilterResult(frozenset(node_names)), None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        required = state.get(PRE_FILTER_STATE_KEY)
        if required is None:  # PreFilter did not run (or skipped): compute here, as kube's fallback does
            required = RequiredNodeAffinity.of(pod)
        if not required.matches(node_info):
            return Status.new(Code.UnschedulableAndUnresolvable, ERR_REASON_POD)
        return None

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        if not nodes:
            return None
        terms = preferred_terms(pod)
        if isinstance(terms, str):
            return Status.as_error(terms)
        if not terms:
            return Status.new(Code.Skip)  # no preference: every Node would score 0
        state.write(PRE_SCORE_STATE_KEY, terms)
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        terms = state.get(PRE_SCORE_STATE_KEY)
        if terms is None:
            terms = preferred_terms(pod)
            if isinstance(terms, str):
                return 0, Status.as_error(terms)
        return sum(weight for weight, term in terms if term.matches(node_info)), None

    def score_extensions(self) -> "NodeAffinity":
        return self

    def normalize_score(self, state: CycleState, pod: dict, scores: list[NodeScore]) -> Status | None:
        default_normalize_score(MAX_NODE_SCORE, False, scores)
        return None
