"""Progress bars for long library calls (downloads, conversions, evaluations)."""

import sys


def progress_bar(quiet=False, **kwargs):
    """A tqdm.auto bar: a widget in Jupyter, text in a terminal, nothing when quiet or when stderr goes to a
    file or a pipe (the convention: logs stay clean). Imported here, not at the top: the teaching core never
    needs tqdm."""
    from tqdm.auto import tqdm

    interactive = "ipykernel" in sys.modules or sys.stderr.isatty()
    return tqdm(disable=quiet or not interactive, dynamic_ncols=True, **kwargs)
