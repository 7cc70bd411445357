"""Write the course in notebooks/ and run it, so that the committed notebooks carry their outputs.

    python scripts/make_notebooks.py            # writes and executes notebooks/*.ipynb

Each notebook is kept in scripts/course/ as a module holding a list of cells (prose, code, exercises), so that a
change to a notebook is a change to one readable file; tests/test_notebooks.py executes the committed notebooks
on every run.
Needs the test extras (nbformat, nbclient, ipykernel).
"""

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


def main():
    OUT.mkdir(exist_ok=True)
    names = sys.argv[1:] or list(NOTEBOOKS)
    for name in names:
        notebook = nbformat.v4.new_notebook(cells=NOTEBOOKS[name])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(OUT)}}
        ).execute()
        nbformat.write(notebook, OUT / name)
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()
