"""Grading submitted notebooks (console script ``course-grade``): run in a sandbox, judge outside it.

* :mod:`~course_utils.grading.notebook`: reading a submission and finding its chapter.
* :mod:`~course_utils.grading.sandbox`: the bubblewrap sandbox each submission runs in.
* :mod:`~course_utils.grading.execute`: running the cells and the collection step within time limits.
* :mod:`~course_utils.grading.collect`: the collection step, inside the submission's kernel.
* :mod:`~course_utils.grading.verdict`: the check inputs, and the verdict on the answers.
* :mod:`~course_utils.grading.report`: the printed report, JSON and CSV.
* :mod:`~course_utils.grading.cli`: the command line.
"""
