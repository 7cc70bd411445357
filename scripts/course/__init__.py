"""The course's notebooks as Python: one module per notebook, each a list of cells named CELLS."""
