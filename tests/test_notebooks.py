"""The course in notebooks/ runs, top to bottom, on the bundled model, offline: a notebook that errs fails here."""

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell):
    return "".join(cell["source"])


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_there_is_a_course():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08", "09"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    if os.environ.get("CI"):
        import nbformat  # CI installs the test extras: a missing runner must fail there, not skip
        from nbclient import NotebookClient
    else:
        nbformat = pytest.importorskip("nbformat")
        NotebookClient = pytest.importorskip("nbclient").NotebookClient
    monkeypatch.setenv("GPTLITE_OFFLINE", "1")  # the course needs no network
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    errors = [
        o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"
    ]
    assert errors == []
    assert sum(cell.cell_type == "markdown" for cell in notebook.cells) >= 4  # prose a learner reads, not just code


def test_the_committed_notebooks_are_what_the_script_writes():
    """scripts/make_notebooks.py holds the course; a notebook edited by hand (or a script change not run) fails."""
    nbformat = pytest.importorskip("nbformat")
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    spec = importlib.util.spec_from_file_location("make_notebooks", scripts / "make_notebooks.py")
    make_notebooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_notebooks)
    assert sorted(make_notebooks.NOTEBOOKS) == [p.name for p in NOTEBOOKS]
    folder = NOTEBOOKS[0].parent / "long"  # the heavier runs, the same cells run with GPTLITE_COURSE_LONG=1
    long_runs = [folder / name for name in make_notebooks.LONG_RUNS]
    assert sorted(p.name for p in folder.glob("*.ipynb")) == make_notebooks.LONG_RUNS
    assert "2000 steps on" in (folder / "06_training.ipynb").read_text(encoding="utf-8")  # run with the flag on
    for path in NOTEBOOKS + long_runs:
        committed = nbformat.read(path, as_version=4).cells
        written = make_notebooks.NOTEBOOKS[path.name]
        assert [(c.cell_type, c.source) for c in committed] == [(c.cell_type, c.source) for c in written], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_exercises_each_checked_and_solved(path):
    """At least three exercises; each is a stub, a cell that checks it, and a folded solution asserting the check."""
    notebook = cells(path)
    starts = [i for i, cell in enumerate(notebook) if "exercise" in tags(cell)]
    assert len(starts) >= 3, path.name
    for i in starts:
        stub, checking, solved = notebook[i : i + 3]
        name = re.search(r"^def (\w+)\(", source(stub), re.M).group(1)
        assert "raise NotImplementedError" in source(stub), (path.name, name)
        assert f"check({name}," in source(checking) and "solution" not in tags(checking), (path.name, name)
        assert "solution" in tags(solved) and solved["metadata"]["jupyter"]["source_hidden"], (path.name, name)
        assert re.search(rf"^def {name}\(", source(solved), re.M), (path.name, name)
        assert re.search(rf"^assert (course\.)?check\({name},", source(solved), re.M), (path.name, name)
        assert "right on all" in "".join("".join(o.get("text", "")) for o in solved["outputs"]), (path.name, name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_notebook_reads_through_the_source_tree(path):
    """The course runs after `pip install .`: its texts come from gptlite.course, never from tests/ or scripts/."""
    for cell in cells(path):
        text = source(cell) if cell["cell_type"] == "code" else ""
        assert not re.search(r"__file__|parents\[|tests/|scripts/|bench_data|fixtures", text), (path.name, text[:80])
