"""Write the course in notebooks/ and run it, so that the committed notebooks carry their outputs.

    python scripts/make_notebooks.py            # writes and executes notebooks/*.ipynb
    python scripts/make_notebooks.py --long     # the heavier runs (LONG_RUNS) into notebooks/long/

Each notebook is kept in scripts/course/ as a module holding a list of cells (prose, code, exercises), so that a
change to a notebook is a change to one readable file; tests/test_notebooks.py executes the committed notebooks
on every run.
Needs the test extras (nbformat, nbclient, ipykernel).
"""

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from course import (  # noqa: E402  (the course's modules live beside this script)
    n01_tokenizer,
    n02_forward_pass,
    n03_sampling,
    n04_looking_inside,
    n05_measuring,
    n06_training,
    n07_tasks,
    n08_family,
    n09_bias,
)

NOTEBOOKS = {
    "01_tokenizer.ipynb": n01_tokenizer.CELLS,
    "02_forward_pass.ipynb": n02_forward_pass.CELLS,
    "03_sampling.ipynb": n03_sampling.CELLS,
    "04_looking_inside.ipynb": n04_looking_inside.CELLS,
    "05_measuring.ipynb": n05_measuring.CELLS,
    "06_training.ipynb": n06_training.CELLS,
    "07_tasks.ipynb": n07_tasks.CELLS,
    "08_family.ipynb": n08_family.CELLS,
    "09_bias.ipynb": n09_bias.CELLS,
}
# Notebooks with a heavier experiment behind GPTLITE_COURSE_LONG=1: the same cells, run with it on, are committed
# in notebooks/long/ so that a learner can read what the long run gives without waiting for it.
LONG_RUNS = ["06_training.ipynb"]


def main():
    long = "--long" in sys.argv[1:]
    names = [a for a in sys.argv[1:] if a != "--long"] or (LONG_RUNS if long else list(NOTEBOOKS))
    folder = OUT / "long" if long else OUT
    folder.mkdir(exist_ok=True)
    os.environ["GPTLITE_COURSE_LONG"] = "1" if long else "0"  # the kernel inherits it
    for name in names:
        notebook = nbformat.v4.new_notebook(cells=NOTEBOOKS[name])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(OUT)}}
        ).execute()
        nbformat.write(notebook, folder / name)
        print("wrote", folder / name)


if __name__ == "__main__":
    main()
