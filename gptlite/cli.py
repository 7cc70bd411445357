"""What gptlite's commands share: errors a user can act on become one line on stderr and exit status 2."""

import argparse
import sys


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        """One line, no usage block: `gptlite.generate: error: ...`, exit status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def run(prog, action, interrupted=""):
    """Call action(); report ValueError / OSError in one line (exit 2) and Ctrl-C with `interrupted` (exit 130)."""
    try:
        action()
    except (ValueError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
    return 0
