"""nbgrader's view of the kit: a course whose source is solutions/ and whose release is exercises/.

`make grade` runs `nbgrader generate_assignment <name>` for every folder of
solutions/, which writes the student version to exercises/<name>/ (solutions
replaced by `raise NotImplementedError()`, hidden tests removed). An
instructor runs collect / autograde / generate_feedback from this directory
as in any nbgrader course; the gradebook and the submitted/, autograded/ and
feedback/ folders are never committed. tests/grading/ runs that whole
pipeline in a temporary copy of this layout.
"""

import os

c = get_config()  # noqa: F821 (nbgrader provides it)

# The course lives beside this file, wherever nbgrader is started from.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "kit"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# Scenarios stop themselves after 10 s each; a test cell runs at most four.
c.Execute.timeout = 120

# Feedback must not reveal hidden tests. `nbgrader autograde` puts the full
# test cells back from the gradebook (hidden parts included), and
# `generate_feedback` renders the autograded notebook as it is; adding
# ClearHiddenTests to its preprocessors removes every BEGIN/END HIDDEN TESTS
# region from the feedback while keeping the cells' outputs and scores. The
# cells' error outputs never show test source either: kitlib.exercises.check
# keeps IPython's tracebacks in Minimal mode (message only).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
