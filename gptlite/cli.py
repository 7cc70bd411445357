"""What gptlite's commands share: errors a user can act on become one line on stderr and exit status 2."""

import argparse
import codecs
import difflib
import os
import re
import sys


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        """One line, no usage block: `gptlite.generate: error: ...`, exit status 2; a mistyped flag gets the
        closest real one suggested."""
        typed = re.match(r"unrecognized arguments: (-[^\s=]+)", message)
        if typed:
            flags = [flag for action in self._actions for flag in action.option_strings]
            close = difflib.get_close_matches(typed.group(1), flags, n=1, cutoff=0.6)
            if close:
                message += f" (did you mean {close[0]}?)"
        self.exit(2, f"{self.prog}: error: {message}\n")


def at_least(minimum, kind=int):
    """An argparse type: a number of `kind` that is >= minimum, or a one-line error naming the bound."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not value >= minimum:  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    return parse


def positive(text):
    """An argparse type: a float > 0 (not nan, not inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def decode_block(decoder, block, name, offset):
    """The text of the next block of a UTF-8 stream (b"" ends it) through an incremental decoder that has
    decoded its first `offset` bytes; an error is a one-line ValueError naming the byte's offset in the whole
    stream, not in the block."""
    pending = len(decoder.getstate()[0])  # the start of a character that the previous block cut
    try:
        return decoder.decode(block, final=not block)
    except UnicodeDecodeError as e:
        raise ValueError(f"{name}: not UTF-8 text (byte {offset - pending + e.start}: {e.reason})") from None


def read_blocks(path, block_size, on_bytes=None):
    """The UTF-8 text of a file (or of stdin for "-"), block_size bytes at a time, checked on the way (an error
    names its offset in the whole file); on_bytes(n), if given, is told each block's n bytes."""
    if path != "-" and os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, not a file")
    f = sys.stdin.buffer if path == "-" else open(path, "rb")
    try:
        decoder, offset = codecs.getincrementaldecoder("utf-8")(errors="strict"), 0
        while block := f.read(block_size):
            if on_bytes is not None:
                on_bytes(len(block))
            yield decode_block(decoder, block, path, offset)
            offset += len(block)
        yield decode_block(decoder, b"", path, offset)
    finally:
        if f is not sys.stdin.buffer:
            f.close()


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
