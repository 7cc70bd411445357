"""Text in and out of generation: prompts encoded, continuations decoded piece by piece, stop strings.

A token is a few bytes, and a character can span two tokens (`Tokenizer.stream_decoder` holds back the bytes
of an unfinished one); a stop string can span several tokens too, so `TextStream` holds back whatever could
still become the start of one, and cuts the text just before the first that appears.
"""


def encode_prompt(tokenizer, prompt) -> list[int]:
    """Text -> ids. <|endoftext|> in a prompt is the special token; an empty prompt starts a new document."""
    if tokenizer is None:
        raise ValueError("this model has no tokenizer files: pass token ids to generate() instead of text")
    if not isinstance(prompt, str):
        raise ValueError(f"a prompt must be a string, got {type(prompt).__name__}")
    return tokenizer.encode(prompt, allowed_special="all") or [tokenizer.eot_token]


def stop_strings(stop) -> list[str]:
    """A stop string or a list of them, checked -> the list of the non-empty ones."""
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
        raise ValueError(f"stop must be a string or a list of strings, got {str(stop)[:40]!r}")
    return [s for s in stop if s]


def until_stop(text: str, stop) -> str:
    """Text up to the first of the stop strings."""
    cuts = [text.find(s) for s in stop_strings(stop) if s in text]
    return text[: min(cuts)] if cuts else text


def bad_word_ids(tokenizer, bad_words) -> tuple:
    """bad_words (a text or token sequence, or a list of them) -> a tuple of token id tuples. A text is encoded as
    it would appear in generated text; an empty one, or an empty sequence, is refused (it would ban nothing, or
    encode as <|endoftext|>)."""
    words = []
    for word in bad_words if isinstance(bad_words, (list, tuple)) else [bad_words]:
        if isinstance(word, str):
            if tokenizer is None:
                raise ValueError("this model has no tokenizer files: give bad_words as token id sequences")
            word = tokenizer.encode(word, allowed_special="all")
        if not isinstance(word, (list, tuple)) or not word:
            raise ValueError("bad_words must be a list of non-empty texts or token id sequences")
        words.append(tuple(word))
    return tuple(words)


class StopMatcher:
    """Where a stop string first appears in a text that arrives piece by piece, in time linear in the text:
    the Knuth-Morris-Pratt automaton (Knuth, Morris & Pratt 1977). `state` is the length of the longest
    prefix of the stop string that the text so far ends with."""

    def __init__(self, stop: str):
        self.stop = stop
        self.fail = [0] * len(stop)  # fail[i]: the longest proper prefix of stop[: i + 1] that is also its suffix
        k = 0
        for i in range(1, len(stop)):
            while k and stop[i] != stop[k]:
                k = self.fail[k - 1]
            k += stop[i] == stop[k]
            self.fail[i] = k
        self.state = 0

    def feed(self, piece: str, offset: int):
        """Read the next piece of text, which starts at `offset` in the whole; return where the first
        occurrence that ends in it starts, or None."""
        stop, fail, k = self.stop, self.fail, self.state
        for i, char in enumerate(piece):
            while k and char != stop[k]:
                k = fail[k - 1]
            k += char == stop[k]
            if k == len(stop):
                self.state = k
                return offset + i + 1 - len(stop)
        self.state = k
        return None


class TextStream:
    """Turns one row's new tokens into text, holding back what could be the start of a stop string."""

    def __init__(self, tokenizer, stop):
        self._decode = tokenizer.stream_decoder()
        self._stops = [StopMatcher(s) for s in stop_strings(stop)]
        self.text = ""  # all decoded text so far
        self._emitted = 0  # how much of it has been handed out
        self.stopped = False

    def feed(self, token):
        """Add a token; return the text that is now safe to hand out (never part of a stop string)."""
        if self.stopped:
            return ""
        piece = self._decode(token)
        hits = [i for i in (m.feed(piece, len(self.text)) for m in self._stops) if i is not None]
        self.text += piece
        if hits:
            self.stopped = True
            self.text = self.text[: min(hits)]
            return self._take(len(self.text))
        held = max((m.state for m in self._stops), default=0)  # the text's end could begin a stop string
        return self._take(len(self.text) - held)

    def finish(self):
        """The text still held back (a partial stop string, or bytes of an unfinished character)."""
        if not self.stopped:
            self.text += self._decode.flush()
        return self._take(len(self.text))

    def _take(self, end):
        piece, self._emitted = self.text[self._emitted : end], max(self._emitted, end)
        return piece
