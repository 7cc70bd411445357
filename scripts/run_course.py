"""Run the course's notebooks as a learner would: top to bottom, then every code cell once more.

    python scripts/run_course.py notebooks/*.ipynb

The second pass re-runs each cell in the kernel the first pass left behind, so a cell that changes what an
earlier cell made (an array updated in place, a model trained twice) breaks an assert on the way through.
.ci/run runs this with gptlite installed from its wheel and the notebooks copied outside the source tree, so a
notebook that reads a file through the source tree fails there. Needs nbformat, nbclient and ipykernel.
Exits 1 naming the first notebook and cell that raised.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run_twice(path):
    notebook = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}  # the kernel starts in the notebook's folder
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources=resources)
    with client.setup_kernel():
        for round_ in ("first run", "second run"):
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as error:
                    summary = str(error).strip().splitlines()[-1]
                    raise SystemExit(f"{path.name}, cell {index} ({round_}): {summary}") from None


def main():
    paths = [Path(p) for p in sys.argv[1:]]
    if not paths:
        raise SystemExit("usage: run_course.py NOTEBOOK [NOTEBOOK ...]")
    for path in paths:
        start = time.perf_counter()
        run_twice(path)
        print(f"{path.name}: ran twice without an error in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
