"""The grading pipeline, end to end, through the real nbgrader command line.

In a temporary copy of the course (nbgrader_config.py and solutions/), this
runs what an instructor runs: ``generate_assignment`` for every assignment,
then ``autograde`` on submissions (the solution itself, the untouched
release, deliberately wrong answers), then ``generate_feedback``. It proves:

- exercises/ is what nbgrader generates from solutions/ today;
- every solution earns full marks, every untouched release earns zero with
  the clear "not written yet" message, a wrong answer earns partial marks;
- the feedback a student receives never shows the hidden tests, although
  autograding ran them.

nbgrader runs as ``python -m nbgrader`` with this interpreter, so it is the
one pinned in the kit's environment, and its kernel imports this checkout's
kitlib (PYTHONPATH).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and not p.name.startswith("."))

# Wrong on purpose, one per assignment at least: the source that replaces the
# answer cell, and which graded cells it must still pass (the rest must fail).
WRONG_ANSWERS: dict[str, dict[str, tuple[str, set[str]]]] = {
    "store-update": {
        # One read, one compare-and-swap, no retry: right until another writer interferes.
        "no-retry": (
            '''def update_with_retry(store, key, try_update):
    current = store.get(key)
    seen = current.mod_revision if current is not None else 0
    new_value = try_update(current.value if current is not None else None)
    result = store.txn(compare=[Compare.mod_revision(key, "=", seen)], success=[Op.put(key, new_value)])
    return result.revision
''',
            {"test-single-update", "test-create-missing", "test-refusal"},
        ),
    },
    "scheduler-score": {
        # No cap at 1: right until a Node's Pods already request more than it has.
        "no-cap": (
            '''def balanced_resource_scorer(requested, allocatable):
    fractions = [req / alloc for req, alloc in zip(requested, allocatable) if alloc != 0]
    std = 0.0
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = (sum((f - mean) ** 2 for f in fractions) / len(fractions)) ** 0.5
    return int((1 - std) * 100)
''',
            {"test-two-resources", "test-more-resources", "test-missing-resources", "test-placement"},
        ),
    },
    "scheduler-filter": {
        # Resources only, taints ignored: every verdict about cpu and memory is right.
        "resources-only": (
            '''def filter_node(pod, node_info):
    request = pod_resource(pod)
    reasons, unresolvable = [], False
    for name, want, used, total in (
            ("cpu", request.milli_cpu, node_info.requested.milli_cpu, node_info.allocatable.milli_cpu),
            ("memory", request.memory, node_info.requested.memory, node_info.allocatable.memory)):
        if want > 0 and want > total - used:
            reasons.append(f"Insufficient {name}")
            unresolvable = unresolvable or want > total
    if not reasons:
        return None
    return Status.new(Code.UnschedulableAndUnresolvable if unresolvable else Code.Unschedulable, *reasons)
''',
            {"test-fit"},
        ),
    },
    "replicaset-sync": {
        # The difference and the deletion order right, but no burst cap: fine until a scale exceeds the burst.
        "no-burst-cap": (
            '''def manage_replicas(replicaset, pods, burst_replicas, related_pods, now):
    diff = replicaset["spec"]["replicas"] - len(pods)
    if diff >= 0:
        return diff, []
    order = {"Pending": 0, "Unknown": 1, "Running": 2}
    def rank(pod):
        return (bool(pod["spec"].get("nodeName")), order.get((pod.get("status") or {}).get("phase"), 0),
                is_pod_ready(pod))
    return 0, sorted(pods, key=rank)[:-diff]
''',
            {"test-scale-down-order", "test-self-healing"},
        ),
    },
    "rolling-update": {
        # maxSurge rounded down like maxUnavailable: right with whole numbers, wrong with percentages.
        "surge-rounded-down": (
            '''def rolling_step(replicas, max_surge, max_unavailable, new_replicas, old_replicas, available):
    def resolve(value):
        return int(value[:-1]) * replicas // 100 if isinstance(value, str) else value
    surge, unavailable = resolve(max_surge), resolve(max_unavailable)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    unavailable = min(unavailable, replicas)
    scale_up = max(0, min(replicas + surge - new_replicas - old_replicas, replicas - new_replicas))
    return scale_up, max(0, min(old_replicas, available - (replicas - unavailable)))
''',
            {"test-step", "test-rollout-no-unavailable", "test-rollout-no-surge"},
        ),
    },
    "hpa-formula": {
        # The formula without the tolerance: right whenever the load is far from the target.
        "no-tolerance": (
            '''def desired_replicas(current_replicas, current_utilisation, target_utilisation, tolerance):
    return math.ceil(current_replicas * current_utilisation / target_utilisation)
''',
            {"test-formula", "test-scale-up", "test-scale-down"},
        ),
    },
    "label-selectors": {
        # Equality only: `=`, `==` and `!=` right (absent keys included), set-based operators never match.
        "equality-only": (
            '''def matches(requirements, labels):
    for requirement in requirements:
        if requirement.operator in ("=", "=="):
            ok = labels.get(requirement.key) == requirement.values[0]
        elif requirement.operator == "!=":
            ok = labels.get(requirement.key) != requirement.values[0]
        else:
            ok = False
        if not ok:
            return False
    return True
''',
            {"test-equality"},
        ),
    },
}

NOT_WRITTEN = "is not written yet: replace `raise NotImplementedError()`"
HIDDEN = re.compile(r"^[ \t]*#+ *BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*#+ *END HIDDEN TESTS", re.S | re.M)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # nbgrader's gradebook shells out to `alembic`, found on PATH next to this python.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    env.pop("NBGRADER_EXECUTION", None)
    return env


def nbgrader(course: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=_env(),
        capture_output=True, text=True, timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "| ERROR]" not in log, (
        f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{log[-4000:]}"
    )
    return log


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _answer_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")]


def _grade_cells(nb: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cells = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            cells[meta["grade_id"]] = cell
    return cells


def _source(cell: dict[str, Any]) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _outputs_text(cell: dict[str, Any]) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
            parts.extend(out.get("traceback", []))
        elif "text" in out:
            parts.append(out["text"] if isinstance(out["text"], str) else "".join(out["text"]))
    return "\n".join(parts)


def _visible_text(html_text: str) -> str:
    """What a student reads in the feedback page: tags stripped (code is split into spans), entities decoded."""
    text = re.sub(r"<style.*?</style>|<script.*?</script>", "", html_text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _hidden_lines(source_nb: dict[str, Any]) -> dict[str, list[str]]:
    """grade_id -> the code lines of its hidden tests (each distinctive enough to search for)."""
    hidden = {}
    for grade_id, cell in _grade_cells(source_nb).items():
        lines = [line.strip() for block in HIDDEN.findall(_source(cell)) for line in block.splitlines()]
        hidden[grade_id] = [line for line in lines if line and not line.startswith("#")]
    return hidden


def _submissions(assignment: str) -> dict[str, Path | tuple[Path, str]]:
    """student id -> what they hand in: a notebook as is, or the release with an answer."""
    subs: dict[str, Path | tuple[Path, str]] = {"solution": ROOT / "solutions" / assignment, "untouched": ROOT / "exercises" / assignment}
    for name, (code, _) in WRONG_ANSWERS.get(assignment, {}).items():
        subs[f"wrong-{name}"] = (ROOT / "exercises" / assignment, code)
    return subs


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graded course: generated, submitted, autograded and fed back, once for all tests."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    for assignment in ASSIGNMENTS:
        nbgrader(course, "generate_assignment", assignment)
        for student, what in _submissions(assignment).items():
            target = course / "submitted" / student / assignment
            source, code = (what, None) if isinstance(what, Path) else what
            shutil.copytree(source, target)
            if code is not None:
                for path in target.glob("*.ipynb"):
                    nb = _load(path)
                    (answer,) = _answer_cells(nb)
                    answer["source"] = code
                    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
        nbgrader(course, "autograde", assignment)
        nbgrader(course, "generate_feedback", assignment)
    return course


def _scores(course: Path, assignment: str, student: str) -> tuple[float, float, dict[str, float]]:
    from nbgrader.api import Gradebook

    old_path = os.environ.get("PATH", "")
    os.environ["PATH"] = _env()["PATH"]  # the gradebook checks its schema with `alembic`
    try:
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            sub = gb.find_submission(assignment, student)
            cells = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            return sub.score, sub.max_score, cells
    finally:
        os.environ["PATH"] = old_path


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercises_are_generated_from_solutions(course, assignment):
    fresh = course / "exercises" / assignment
    committed = ROOT / "exercises" / assignment
    fix = f"regenerate with `make grade` (nbgrader generate_assignment {assignment}) and commit exercises/{assignment}"
    assert committed.is_dir(), f"exercises/{assignment} is missing: {fix}"
    fresh_files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert committed_files == fresh_files, f"exercises/{assignment} holds other files than nbgrader generates: {fix}"
    for name in fresh_files:
        if name.suffix == ".ipynb":
            assert _load(committed / name) == _load(fresh / name), f"exercises/{assignment}/{name} is stale: {fix}"
        else:
            assert (committed / name).read_bytes() == (fresh / name).read_bytes(), f"exercises/{assignment}/{name} is stale: {fix}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_earns_full_marks(course, assignment):
    score, max_score, cells = _scores(course, assignment, "solution")
    assert max_score > 0
    assert score == max_score, f"the solution of {assignment} lost points: {cells}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_earns_zero_with_a_clear_message(course, assignment):
    score, max_score, cells = _scores(course, assignment, "untouched")
    assert score == 0, f"an untouched {assignment} earned points: {cells}"
    for path in (course / "autograded" / "untouched" / assignment).glob("*.ipynb"):
        for grade_id, cell in _grade_cells(_load(path)).items():
            text = _outputs_text(cell)
            assert NOT_WRITTEN in text, f"{grade_id} does not say the exercise is not written yet:\n{text}"
            assert "Traceback" not in text and len(text.splitlines()) <= 3, f"{grade_id} shows a traceback:\n{text}"
    for path in (course / "feedback" / "untouched" / assignment).glob("*.html"):
        assert NOT_WRITTEN in _visible_text(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "assignment,wrong", [(a, w) for a in ASSIGNMENTS for w in WRONG_ANSWERS.get(a, {})] or [pytest.param(None, None, marks=pytest.mark.skip)]
)
def test_wrong_answer_earns_partial_marks(course, assignment, wrong):
    score, max_score, cells = _scores(course, assignment, f"wrong-{wrong}")
    assert 0 < score < max_score, f"{wrong} earned {score}/{max_score}: {cells}"
    should_pass = WRONG_ANSWERS[assignment][wrong][1]
    assert {name for name, got in cells.items() if got} == should_pass, cells


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_hides_hidden_tests_but_reports_results(course, assignment):
    hidden_by_cell = {}
    for source in (ROOT / "solutions" / assignment).glob("*.ipynb"):
        hidden_by_cell.update(_hidden_lines(_load(source)))
    hidden = [line for lines in hidden_by_cell.values() for line in lines]
    assert hidden, f"{assignment} has no hidden tests"
    students = list(_submissions(assignment))
    for student in students:
        autograded = "\n".join(p.read_text(encoding="utf-8") for p in (course / "autograded" / student / assignment).glob("*.ipynb"))
        pages = list((course / "feedback" / student / assignment).glob("*.html"))
        assert pages, f"no feedback for {student}"
        for page in pages:
            text = _visible_text(page.read_text(encoding="utf-8"))
            # The hidden tests ran (autograde restored them)...
            for line in hidden:
                assert json.dumps(line)[1:-1] in autograded, f"autograde did not run the hidden test {line!r}"
            # ...but the student's feedback shows none of them.
            leaked = [line for line in hidden if line in text]
            assert not leaked, f"the feedback of {student} shows hidden tests: {leaked}"
            # The visible tests and the scores are still there.
            nb = _load(next((course / "autograded" / student / assignment).glob(page.stem + ".ipynb")))
            for grade_id, cell in _grade_cells(nb).items():
                visible = [line.strip() for line in HIDDEN.sub("", _source(cell)).splitlines() if line.strip()]
                assert all(line in text for line in visible), f"the feedback of {student} lost the visible test {grade_id}"
                assert grade_id in text, f"the feedback of {student} does not report {grade_id}"
    wrong = [s for s in students if s.startswith("wrong-")]
    for student in wrong:
        text = "\n".join(_visible_text(p.read_text(encoding="utf-8")) for p in (course / "feedback" / student / assignment).glob("*.html"))
        assert "AssertionError" in text, f"the feedback of {student} does not say why it lost points"
