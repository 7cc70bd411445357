"""Convert a GPT-2 checkpoint directory to gptlite's layout: `python scripts/convert_checkpoint.py SRC DST`.

The same as `python -m gptlite.convert SRC DST`, for people browsing scripts/.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gptlite.convert import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
