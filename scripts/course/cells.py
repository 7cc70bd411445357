"""The kinds of cell a notebook of the course is made of.

`md` is prose and `code` is code a learner runs. An exercise is three cells: `exercise` (the task, with a stub the
learner fills in), a `code` cell that checks it against the library with `gptlite.course.check`, and `solution`,
which is folded in JupyterLab and checks the worked answer strictly, so that every run of the course proves the
check passes on a right answer.
"""

import nbformat


def md(text):
    return nbformat.v4.new_markdown_cell(text.strip())


def code(text):
    return nbformat.v4.new_code_cell(text.strip())


def exercise(text):
    cell = code(text)
    cell.metadata["tags"] = ["exercise"]
    return cell


def solution(text):
    cell = code(text)
    cell.metadata["tags"] = ["solution"]
    cell.metadata["jupyter"] = {"source_hidden": True}
    return cell
