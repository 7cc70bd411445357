"""A conversation: a text that grows turn by turn, its KV cache kept between turns.

Each `say` appends a text and streams the model's continuation; only the positions that are new since the
last turn are computed (`decoding.decode` feeds the cache what it lacks). Past the context the window slides
as in generation (the first half dropped, the rest recomputed).

A turn is all or nothing for the cache: a pass interrupted by Ctrl-C leaves it as it was before the pass
(`engine.py`), and the tokens said so far stay said, so the next turn goes on from a consistent point.
"""

from . import checks
from .decoding import Sampling, Window, decode
from .text import TextStream


class Conversation:
    """Turn by turn with one model: `for piece in conversation.say(text): print(piece, end="")`."""

    def __init__(self, gpt, sampler, seed=None):
        if gpt.tokenizer is None:
            raise ValueError("a conversation needs a model with a tokenizer")
        self.gpt, self.sampler = gpt, sampler
        self.rng = checks.random_generators(seed, 1)[0]
        self.history = []  # every token of the conversation so far
        self.window = None  # decoding.Window: what of the history the KV cache holds

    def say(self, text: str, max_new_tokens: int = 64, stop=()):
        """Append text, then yield the continuation piece by piece, until <|endoftext|>, max_new_tokens or a stop
        string. An interrupt (Ctrl-C) between pieces ends the answer; what was said so far stays said."""
        max_new_tokens = checks.count("max_new_tokens", max_new_tokens)
        tokenizer = self.gpt.tokenizer
        self.history += tokenizer.encode(text, allowed_special="all") or ([] if self.history else [tokenizer.eot_token])
        if self.window is None:
            self.window = Window(self.gpt.engine, [self.history], [0], self.gpt.config.n_ctx)
        stream, stopped = TextStream(tokenizer, stop), set()
        pick = Sampling(self.sampler, [self.rng], tokenizer.eot_token)
        for step in decode(self.gpt.engine, [self.history], max_new_tokens, pick, eos_token_id=tokenizer.eot_token,
                           n_vocab=self.gpt.text_vocab(), stopped=stopped, window=self.window):  # fmt: skip
            for _, token in step:
                self.history.append(token)
                piece = stream.feed(token)
                if stream.stopped:
                    stopped.add(0)
                if piece:
                    yield piece
        tail = stream.finish()
        if tail:
            yield tail
