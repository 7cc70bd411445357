"""`GPT`: a GPT-2 model and its tokenizer, with the calls people expect.

    gpt = GPT.from_pretrained("path/to/model")
    logits = gpt(ids)                                  # [len(ids), n_vocab]
    new_ids = gpt.generate(ids, max_new_tokens=32)     # new tokens only
    text = gpt.complete("The weather today is")        # the continuation
    for piece in gpt.stream("The weather today is"): print(piece, end="")

Generation (Radford et al. 2019 sample with the same loop; openai/gpt-2
`src/sample.py`) is autoregressive: run the prompt through the model once
("prefill"), pick a token from the last position's logits, feed just that token
back in, and repeat. The KV cache (`model.KVCache`) keeps every layer's keys
and values, so each step costs one position.

Prompts of different lengths run as one batch by padding them on the left:
padding is masked out of attention and each row's positions count only its
real tokens, so every row comes out as it would alone.
"""

import html
from dataclasses import asdict

import numpy as np

from . import parallel
from .model import Config, KVCache, attention_mask, flatten, head_weight, hidden_states, lm_head, log_softmax, nest
from .sampling import Sampler, is_integer
from .tokenizer import Tokenizer


class TextStream:
    """Turns one row's new tokens into text, holding back what could be the start of a stop string."""

    def __init__(self, tokenizer, stop):
        self._decode = tokenizer.stream_decoder()
        self._stop = [s for s in stop if s]
        self.text = ""  # all decoded text so far
        self._emitted = 0  # how much of it has been handed out
        self.stopped = False

    def feed(self, token):
        """Add a token; return the text that is now safe to hand out (never part of a stop string)."""
        if self.stopped:
            return ""
        self.text += self._decode(token)
        hits = [i for i in (self.text.find(s) for s in self._stop) if i >= 0]
        if hits:
            self.stopped = True
            self.text = self.text[: min(hits)]
            return self._take(len(self.text))
        held = max((k for s in self._stop for k in range(1, len(s)) if self.text.endswith(s[:k])), default=0)
        return self._take(len(self.text) - held)

    def finish(self):
        """The text still held back (a partial stop string, or bytes of an unfinished character)."""
        if not self.stopped:
            self.text += self._decode.flush()
        return self._take(len(self.text))

    def _take(self, end):
        piece, self._emitted = self.text[self._emitted : end], max(self._emitted, end)
        return piece


class Params(dict):
    """The weights, nested as the checkpoint names them (`params["h"][3]["attn"]["c_attn"]["w"]`): a plain dict
    that prints as a summary of its tensors, not as thousands of lines of numbers."""

    def __repr__(self):
        flat = flatten(self)
        shapes = {}
        for name, array in flat.items():  # "h.3.attn.c_attn.w" -> "h.*.attn.c_attn.w": one line per kind
            key = ".".join("*" if part.isdigit() else part for part in name.split("."))
            shapes.setdefault(key, (list(array.shape), array.dtype, 0))
            shapes[key] = (*shapes[key][:2], shapes[key][2] + 1)
        lines = [f"  {k:<22s} {str(s):<14s} {d}" + (f"  x {n}" if n > 1 else "") for k, (s, d, n) in shapes.items()]
        total = sum(a.size for a in flat.values())
        return f"Params({len(flat)} tensors, {total / 1e6:.2f} M parameters:\n" + "\n".join(lines) + "\n)"


def left_pad(prompts, max_new_tokens=0):
    """Prompts of different lengths as one batch, padded on the left so that every row's next token is last.

    Returns ids [n_batch, n_prompt] (0 at padding: never attended to), real [n_batch, n_prompt +
    max_new_tokens] (False at padding, room for the tokens to come) and positions [n_batch, n_prompt]
    (each row counts its own tokens from 0, so padding does not shift its position embeddings).
    """
    n_batch, n_prompt = len(prompts), max(len(p) for p in prompts)
    ids = np.zeros((n_batch, n_prompt), np.int64)
    real = np.ones((n_batch, n_prompt + max_new_tokens), bool)
    for row, prompt in enumerate(prompts):
        ids[row, n_prompt - len(prompt) :] = prompt
        real[row, : n_prompt - len(prompt)] = False
    positions = np.maximum(np.cumsum(real[:, :n_prompt], axis=1) - 1, 0)  # [n_batch, n_prompt]
    return ids, real, positions


class GPT:
    """A GPT-2 model and its tokenizer: `gpt(ids)` gives logits; `generate`, `complete` and `stream` continue."""

    def __init__(self, config: Config, params: dict, tokenizer: Tokenizer | None, source: str | None = None):
        self.config = config
        self.params = Params(params)  # nested dict, as model.nest builds it
        self.tokenizer = tokenizer  # None for a model shipped without tokenizer files: token ids only
        self.source = source  # the name or directory it was loaded from, if it was
        self._two_threads = None  # parallel.TwoThreads: the model split in two, made when first wanted

    def _summary(self):
        """(what it is, [(label, value)]) for the two reprs."""
        c = self.config
        n_params = sum(a.size for a in flatten(self.params).values())
        n_bytes = sum(a.nbytes for a in flatten(self.params).values())
        rows = [("layers", c.n_layer), ("width", c.n_embd), ("heads", f"{c.n_head} of {c.d_head}"),
                ("context", f"{c.n_ctx} tokens"), ("vocabulary", f"{c.n_vocab} tokens"),
                ("parameters", f"{n_params / 1e6:.1f} M"), ("memory", f"{n_bytes / 1e6:.1f} MB float32")]  # fmt: skip
        shape, gpt2 = ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer"), asdict(Config())
        options = [f"{k}={v}" for k, v in asdict(c).items() if k not in shape and v != gpt2[k]]  # not GPT-2's own
        if options:
            rows.append(("options", ", ".join(options)))
        return self.source or "GPT-2 (not loaded from disk)", rows

    def __repr__(self):
        what, rows = self._summary()
        return f"GPT({what}: " + ", ".join(f"{label} {value}" for label, value in rows) + ")"

    def _repr_html_(self):
        what, rows = self._summary()
        cells = "".join(f"<tr><th style='text-align:left'>{label}</th><td>{html.escape(str(value))}</td></tr>"
                        for label, value in rows)  # fmt: skip
        return f"<table><caption style='text-align:left'><b>GPT</b> {html.escape(what)}</caption>{cells}</table>"

    @classmethod
    def from_pretrained(cls, name_or_dir, *, source: str = "hf", revision: str = "main", quiet: bool = False) -> "GPT":
        """Load GPT-2 by name ("gpt2", "gpt2-xl", "owner/fine-tune", ...) or from a directory.

        A name is downloaded once from Hugging Face (source="hf", at `revision`) or from OpenAI's
        original release (source="openai"), converted, and cached: see `weights/hub.py`. A directory
        may hold a Hugging Face checkpoint, OpenAI's TensorFlow checkpoint or gptlite's converted layout.
        """
        from .weights import checkpoint, hub  # here, not at the top: the model itself needs only NumPy

        directory = hub.resolve(name_or_dir, source=source, revision=revision, quiet=quiet)
        config, tensors, vocab = checkpoint.load_dir(directory)
        return cls(config, nest(tensors), Tokenizer.from_files(*vocab) if vocab else None, source=str(name_or_dir))

    def __call__(self, ids):
        """Logits for every position of one sequence: list of n_seq ids -> [n_seq, n_vocab] float32.

        Given a list of sequences, one array per sequence: they run as one batch, left-padded (`left_pad`),
        and each comes back without its padding, as it would alone.
        """
        if len(ids) and not np.isscalar(ids[0]):
            prompts = [self._check_ids(p, 0) for p in ids]
            padded, real, positions = left_pad(prompts)
            n_seq = padded.shape[1]
            cache = KVCache(self.config, len(prompts), n_seq)
            x = self._hidden_states(padded, positions, attention_mask(real, n_seq), cache, self._split_weights())
            return [lm_head(x[row, n_seq - len(p) :], head_weight(self.params)) for row, p in enumerate(prompts)]
        ids = self._check_ids(ids, 0)
        n_seq = len(ids)
        mask = attention_mask(np.ones((1, n_seq), bool), n_seq)  # [1, 1, n_seq, n_seq]
        cache = KVCache(self.config, 1, n_seq)
        x = self._hidden_states(ids[None], np.arange(n_seq)[None], mask, cache, self._split_weights())
        return lm_head(x[0], head_weight(self.params))  # [n_seq, n_embd] -> [n_seq, n_vocab]

    def copy(self) -> "GPT":
        """The same model with writable float32 copies of its weights (loaded weights are read-only memory maps),
        for experiments that edit them: `edited = gpt.copy(); edited.params["h"][3]["mlp"]["c_proj"]["w"][:] = 0`."""
        params = nest({name: np.array(value, dtype=np.float32) for name, value in flatten(self.params).items()})
        return GPT(self.config, params, self.tokenizer, self.source)

    def to_str_tokens(self, ids) -> list[str]:
        """Each token as a string: the tokenizer's pieces, or the ids themselves for a model without one."""
        if self.tokenizer is None:
            return [str(int(i)) for i in ids]
        return self.tokenizer.to_str_tokens(ids)

    def token_str(self, i: int) -> str:
        return self.to_str_tokens([i])[0]

    def _ids(self, text_or_ids):
        """A prompt given as text or as ids -> checked ids [n_seq]."""
        ids = self.encode_prompt(text_or_ids) if isinstance(text_or_ids, str) else text_or_ids
        return self._check_ids(ids, 0)

    def run(self, text_or_ids, *, names=("*",), hooks=None):
        """Run the model once and keep what it computed: a `Run` with the tokens, the logits and every
        activation whose name matches `names` (glob patterns, e.g. "h.*.attn.pattern"; TransformerLens's
        names work too). `hooks` maps names to fn(activation, name) -> activation, which replaces it:
        to ablate or to patch. A list of texts gives a list of Runs, one per text, each run on its own.
        """
        from .inspection import Run, record_run

        first = text_or_ids[0] if isinstance(text_or_ids, (list, tuple)) and text_or_ids else 0
        if isinstance(first, str) or not np.isscalar(first):  # a list of texts, or of id lists
            return [self.run(item, names=names, hooks=hooks) for item in text_or_ids]
        ids = self._ids(text_or_ids)
        logits, records = record_run(self, ids, names, hooks)
        return Run(self, ids, logits, records)

    def score(self, text_or_ids, *, prepend_eot: bool = True, context: int | None = None, stride: int | None = None):
        """How likely the model finds a text: a `scoring.Score` with the log-probability of every token, the
        NLL, perplexity and bits per byte. The first token is conditioned on <|endoftext|> (prepend_eot=False:
        it is not scored). Text longer than `context` (default n_ctx) is scored in windows moved by `stride`
        (default: half the context, so that every token is scored)."""
        from .scoring import Score, n_bytes, score_ids

        if isinstance(text_or_ids, str):
            if self.tokenizer is None:
                raise ValueError("this model has no tokenizer files: score token ids instead of text")
            ids = self.tokenizer.encode(text_or_ids, allowed_special="all")
        else:
            ids = list(text_or_ids)
        if prepend_eot:
            eot = self.tokenizer.eot_token if self.tokenizer is not None else None
            if eot is None:
                raise ValueError("this model's vocabulary has no <|endoftext|>: use prepend_eot=False")
            ids = [eot, *ids]
        logprobs, targets = score_ids(self, ids, context, stride)
        return Score(logprobs, n_bytes(self, targets), targets)

    def perplexity(self, text: str, *, stride: int = 512, context: int | None = None, batch_size: int = 1):
        """Perplexity of a long text as Hugging Face's guide measures it: windows of `context` tokens (default
        n_ctx) moved by `stride`; the first token is not scored. Returns a `scoring.Perplexity`: `.perplexity`
        counts every scored token once, `.guide_perplexity` is the guide's own number."""
        from .scoring import perplexity

        if self.tokenizer is None or not isinstance(text, str):
            raise ValueError("perplexity takes a text (and a model with a tokenizer); score ids with gpt.score")
        return perplexity(self, [self.tokenizer.encode(text, allowed_special="all")], context, stride, batch_size)

    def trace(
        self,
        prompt,
        max_new_tokens: int = 20,
        *,
        alternatives: int = 5,
        temperature: float = Sampler.temperature,
        top_k: int = Sampler.top_k,
        top_p: float = Sampler.top_p,
        repetition_penalty: float = Sampler.repetition_penalty,
        seed=None,
    ):
        """Generate as `generate` does, keeping each new token's probability and the `alternatives` likeliest
        tokens at its place: a `Trace`, which draws itself."""
        from .inspection import TopToken, Trace, top_tokens

        if not isinstance(alternatives, int) or alternatives < 1:
            raise ValueError(f"alternatives must be a positive integer, got {alternatives!r}")
        ids = self._ids(prompt)
        sampler = Sampler(temperature, top_k, top_p, repetition_penalty)
        eos = self.tokenizer.eot_token if self.tokenizer else None
        steps = []

        def observe(row, logits, token):
            probability = float(np.exp(log_softmax(logits.astype(np.float64))[token]))
            chosen = TopToken(self.token_str(token), token, probability, float(logits[token]))
            steps.append((chosen, top_tokens(logits, alternatives, self.token_str)))

        new = []
        for step in self._tokens([ids], max_new_tokens, sampler, seed, eos, set(), observe, self._text_vocab()):
            new += [t for _, t in step]
        prompt_text = prompt if isinstance(prompt, str) else "".join(self.to_str_tokens(ids))
        text = self.tokenizer.decode(new) if self.tokenizer else " ".join(map(str, new))
        return Trace(prompt_text, steps, text)

    def _check_ids(self, ids, max_new_tokens):
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError("a prompt must be a non-empty list of token ids")
        if ids.min() < 0 or ids.max() >= self.config.n_vocab:
            raise ValueError(f"token ids must be in [0, {self.config.n_vocab}), got {ids.min()}..{ids.max()}")
        if len(ids) + max_new_tokens > self.config.n_ctx:
            raise ValueError(
                f"prompt ({len(ids)} tokens) + max_new_tokens ({max_new_tokens}) is longer than "
                f"the model's context of {self.config.n_ctx} tokens"
            )
        return ids.astype(np.int64)

    def _check_generation(self, prompts, max_new_tokens, seed):
        """Checked prompts and one random generator per prompt (so that a row samples as it would alone). A
        prompt may fill the context: generation then slides the window (see `_tokens`)."""
        if not is_integer(max_new_tokens) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
        prompts = [self._truncated(p) for p in prompts]
        seeds = list(seed) if isinstance(seed, (list, tuple)) else [seed] * len(prompts)
        if len(seeds) != len(prompts):
            raise ValueError(f"got {len(seeds)} seeds for {len(prompts)} prompts")
        for s in seeds:
            if s is not None and (not is_integer(s) or s < 0):
                raise ValueError(f"a seed must be an integer >= 0 or None, got {str(s)[:40]!r}")
        return prompts, [np.random.default_rng(None if s is None else int(s)) for s in seeds]

    def _tokens(self, prompts, max_new_tokens, sampler, seed, eos_token_id, stopped, observe=None, n_vocab=None,
                on_slide=None):  # fmt: skip
        """Generate for a batch of prompts. Each step yields [(row, token)] for the rows still going.

        A row ends at eos_token_id (not yielded), after max_new_tokens, or when the
        caller adds it to `stopped` (a set) between steps. `observe(row, logits, token)`,
        if given, sees each yielded token with the logits [n_vocab] it was drawn from.
        Only ids below n_vocab (default: all) are picked.

        Past the context: when the next token would not fit in n_ctx positions, the window slides. The
        first half of the context is dropped and the KV cache recomputed for the second half (one prefill
        of n_ctx / 2 tokens every n_ctx / 2 new tokens: cheap next to decoding them one by one); the
        positions restart at 0, as in a fresh text. `on_slide()` is called at each slide. A batch slides all
        its rows at once, when the longest fills the context: from then on a shorter row can differ from
        what it would give alone.
        """
        prompts, rngs = self._check_generation(prompts, max_new_tokens, seed)
        if max_new_tokens == 0 or not prompts:
            return
        history = [list(p) for p in prompts]  # each row's ids so far, for the penalties and for sliding
        rows = np.arange(len(prompts))  # which prompt each row of the cache holds
        ids, real, positions, cache = self._window(prompts, max_new_tokens)
        split = self._split_weights()  # the two-thread path, for the passes it runs faster than model.py
        for n_done in range(max_new_tokens):
            if cache.n_past + ids.shape[1] > real.shape[1]:  # the window is full: slide it
                keep = [history[r][-(self.config.n_ctx // 2) :] for r in rows]
                ids, real, positions, cache = self._window(keep, max_new_tokens - n_done)
                if on_slide is not None:
                    on_slide()
            mask = attention_mask(real[:, : cache.n_past + ids.shape[1]], ids.shape[1])
            logits = self._last_logits(ids, positions, mask, cache, split)[:, :n_vocab]
            tokens = np.array(
                [sampler(logits[i], history[r], rngs[r], n_done, eos_token_id) for i, r in enumerate(rows)]
            )
            live = [(int(r), int(t)) for r, t in zip(rows, tokens) if r not in stopped and t != eos_token_id]
            for r, t in live:
                history[r].append(t)
                if observe is not None:
                    observe(r, logits[int(np.flatnonzero(rows == r)[0])], t)
            yield live
            stopped.update(r for r, t in zip(rows, tokens) if t == eos_token_id)
            keep = np.array([i for i, r in enumerate(rows) if r not in stopped], dtype=np.int64)
            if keep.size == 0:
                return
            if 2 * keep.size <= rows.size:  # drop finished rows when it halves the batch: the copy pays for itself
                cache.keep_rows(keep)
                rows, real, tokens, positions = rows[keep], real[keep], tokens[keep], positions[keep]
            ids = tokens[:, None]  # [n_rows, 1]
            positions = positions[:, -1:] + 1  # [n_rows, 1]

    def _last_logits(self, ids, positions, mask, cache, split=None):
        """Logits [n_rows, n_vocab] of each row's last new position, for ids [n_rows, n_seq] after what `cache`
        holds (which grows by n_seq); on `split` (from `_split_weights`) where it is faster, else in `model.py`."""
        if split is not None and split.wins(*ids.shape):
            return split.last_logits(ids, positions, mask, cache)  # the same as below, on two threads
        x = hidden_states(self.params, ids, positions, mask, cache, self.config)  # [n_rows, n_seq, n_embd]
        return lm_head(x[:, -1], head_weight(self.params))  # the last position: [n_rows, n_vocab]

    def _hidden_states(self, ids, positions, mask, cache, split=None):
        """model.hidden_states [n_rows, n_seq, n_embd] of this model, on `split` where that is faster."""
        if split is not None and split.wins(*ids.shape):
            return split.hidden_states(ids, positions, mask, cache)
        return hidden_states(self.params, ids, positions, mask, cache, self.config)

    def _head(self, x, split=None):
        """model.lm_head: final hidden states [n, n_embd] -> logits [n, n_vocab], on `split` if given."""
        return lm_head(x, head_weight(self.params)) if split is None else split.logits(x)

    def _split_weights(self):
        """The two-thread path (`parallel.TwoThreads`) over the weights as they are now, or None where it cannot
        run. Call it again for each generation or scoring call, so that edits to the weights count. Kept between
        calls: its self-checks, and the memory of the panels that batched decode steps copy the weights into."""
        if not parallel.available(self.config):
            return None
        if self._two_threads is None:
            self._two_threads = parallel.TwoThreads(self.config, parallel.threadpool_controller())
        self._two_threads.load(self.params)
        return self._two_threads

    def _window(self, prompts, max_new_tokens):
        """A fresh window over prompts: (ids, real, positions) as `left_pad` makes them, with room for as many new
        tokens as fit in the context, and an empty KV cache of that size."""
        room = min(max_new_tokens, self.config.n_ctx - max(len(p) for p in prompts))
        ids, real, positions = left_pad(prompts, room)
        return ids, real, positions, KVCache(self.config, len(prompts), real.shape[1])

    def generate(
        self,
        ids,
        max_new_tokens: int | None = None,
        *,
        temperature: float = Sampler.temperature,
        top_k: int = Sampler.top_k,
        top_p: float = Sampler.top_p,
        repetition_penalty: float = Sampler.repetition_penalty,
        min_p: float = Sampler.min_p,
        no_repeat_ngram_size: int = Sampler.no_repeat_ngram_size,
        min_new_tokens: int = Sampler.min_new_tokens,
        bad_words=(),
        logit_bias=None,
        max_length: int | None = None,
        num_return_sequences: int = 1,
        num_beams: int = 1,
        length_penalty: float = 1.0,
        early_stopping=False,
        truncate_prompt: bool = False,
        seed=None,
        eos_token_id="default",
    ) -> list:
        """New token ids after a prompt of ids; or, given a list of prompts, one list per prompt.

        Stops at `eos_token_id` (default <|endoftext|>, not included; None: never) or after max_new_tokens
        (default 32; or max_length, prompt and new tokens together, as in transformers). `seed` (an int, or one
        per prompt) makes sampling reproducible; temperature=0 is greedy. min_p, no_repeat_ngram_size,
        min_new_tokens, bad_words (texts or token sequences) and logit_bias ({token: amount}) are
        transformers' options of those names (`sampling.py`). num_return_sequences > 1 gives that many
        sequences per prompt (sampled: sequence j uses seed + j), num_beams > 1 beam search (`beam.py`).
        Generation goes on past the context by sliding the window (`_tokens`); a prompt longer than the
        context is an error, or, with truncate_prompt=True, cut to its last n_ctx tokens.
        """
        batched = len(ids) > 0 and not np.isscalar(ids[0])
        prompts = [self._truncated(p, truncate_prompt) for p in (ids if batched else [ids])]
        n_new = self._n_new(prompts, max_new_tokens, max_length)
        sampler = self._sampler(temperature, top_k, top_p, repetition_penalty, min_p, no_repeat_ngram_size,
                                min_new_tokens, bad_words, logit_bias)  # fmt: skip
        if eos_token_id == "default":
            eos_token_id = self.tokenizer.eot_token if self.tokenizer else None
        if not is_integer(num_beams) or num_beams < 1:
            raise ValueError(f"num_beams must be an integer >= 1, got {num_beams!r}")
        if num_beams > 1:
            out = [self._beams(p, n_new, num_beams, sampler, eos_token_id, length_penalty, early_stopping,
                               num_return_sequences) for p in prompts]  # fmt: skip
        else:
            copies, copy_seeds = self._copies(prompts, seed, num_return_sequences, sampler)
            flat = [[] for _ in copies]
            for step in self._tokens(copies, n_new, sampler, copy_seeds, eos_token_id, set()):
                for r, t in step:
                    flat[r].append(t)
            out = self._regroup(flat, num_return_sequences)
        return out if batched else out[0]

    def _beams(self, prompt, n_new, num_beams, sampler, eos_token_id, length_penalty, early_stopping, n_return):
        from .beam import beam_search

        if not is_integer(n_return) or not 1 <= n_return <= num_beams:
            raise ValueError(
                f"num_return_sequences ({n_return!r}) must be at least 1 and at most num_beams ({num_beams})"
            )
        if len(prompt) + n_new > self.config.n_ctx:
            self._check_ids(prompt, n_new)  # the one-line error about the context
        hypotheses = beam_search(self, prompt, n_new, num_beams, sampler, eos_token_id, length_penalty, early_stopping)
        return hypotheses[0].ids if n_return == 1 else [h.ids for h in hypotheses[:n_return]]

    def beam_search(self, ids, max_new_tokens: int = 32, *, num_beams: int = 4, length_penalty: float = 1.0,
                    early_stopping=False, eos_token_id="default", **constraints):  # fmt: skip
        """The num_beams best continuations of one prompt of ids, best first, each a `beam.Hypothesis` with its
        new ids and its length-penalised score (transformers' `sequences_scores`). `constraints` are the
        sampling.py options that greedy decoding obeys too (repetition_penalty, no_repeat_ngram_size, ...)."""
        from .beam import beam_search

        max_new_tokens = self._n_new([ids], max_new_tokens, None)
        prompt = self._check_ids(ids, max_new_tokens)
        sampler = self._sampler(temperature=0, **constraints)
        eos = (self.tokenizer.eot_token if self.tokenizer else None) if eos_token_id == "default" else eos_token_id
        return beam_search(self, prompt, max_new_tokens, num_beams, sampler, eos, length_penalty, early_stopping)

    def _truncated(self, ids, truncate=False):
        """A prompt's checked ids. One longer than the context is cut to its last n_ctx when `truncate`, and is
        otherwise an error that names the option."""
        ids = np.asarray(ids)
        if truncate and ids.ndim == 1:
            ids = ids[-self.config.n_ctx :]
        if ids.ndim == 1 and len(ids) > self.config.n_ctx:
            raise ValueError(
                f"the prompt ({len(ids)} tokens) is longer than the model's context of {self.config.n_ctx} tokens: "
                f"pass truncate_prompt=True (--truncate-prompt) to keep its last {self.config.n_ctx}"
            )
        return self._check_ids(ids, 0)

    def _n_new(self, prompts, max_new_tokens, max_length):
        """How many new tokens: max_new_tokens, or max_length minus the longest prompt (transformers' meaning)."""
        if max_new_tokens is not None and max_length is not None:
            raise ValueError("give max_new_tokens or max_length, not both")
        if max_length is not None:
            if not is_integer(max_length) or max_length < max(len(p) for p in prompts):
                raise ValueError(f"max_length ({max_length!r}) must be an integer at least the prompt's length")
            return int(max_length) - max(len(p) for p in prompts)
        n_new = 32 if max_new_tokens is None else max_new_tokens
        if not is_integer(n_new) or n_new < 0:
            raise ValueError(f"max_new_tokens must be an integer >= 0, got {n_new!r}")
        return int(n_new)

    def _sampler(self, temperature=Sampler.temperature, top_k=Sampler.top_k, top_p=Sampler.top_p,
                 repetition_penalty=Sampler.repetition_penalty, min_p=Sampler.min_p,
                 no_repeat_ngram_size=Sampler.no_repeat_ngram_size, min_new_tokens=Sampler.min_new_tokens,
                 bad_words=(), logit_bias=None):  # fmt: skip
        """A Sampler, with bad words given as texts encoded and a logit bias given as a dict made a tuple."""
        words = []
        for word in bad_words if isinstance(bad_words, (list, tuple)) else [bad_words]:
            ids = self.encode_prompt(word) if isinstance(word, str) else word
            if not isinstance(ids, (list, tuple)) or not ids:
                raise ValueError("bad_words must be a list of texts or of token id sequences")
            words.append(tuple(ids))
        if logit_bias is not None and not isinstance(logit_bias, dict):
            raise ValueError("logit_bias must be a dict {token id: amount}")
        bias = tuple(sorted((logit_bias or {}).items()))
        if any(not is_integer(t) or t >= self.config.n_vocab for t, _ in bias):
            raise ValueError(f"logit_bias's keys must be token ids in [0, {self.config.n_vocab})")
        return Sampler(temperature, top_k, top_p, repetition_penalty, min_p, no_repeat_ngram_size, min_new_tokens,
                       tuple(words), bias)  # fmt: skip

    def _text_vocab(self):
        """Ids that have text: a model may have more embeddings than its tokenizer has tokens (padded to a
        round number, say); text generation never picks the extra ones, which no tokenizer could decode."""
        return min(self.config.n_vocab, self.tokenizer.n_vocab) if self.tokenizer else None

    def encode_prompt(self, prompt: str) -> list[int]:
        """Text -> ids. <|endoftext|> in a prompt is the special token; an empty prompt starts a new document."""
        if self.tokenizer is None:
            raise ValueError("this model has no tokenizer files: pass token ids to generate() instead of text")
        if not isinstance(prompt, str):
            raise ValueError(f"a prompt must be a string, got {type(prompt).__name__}")
        ids = self.tokenizer.encode(prompt, allowed_special="all")
        return ids or [self.tokenizer.eot_token]

    def _pieces(self, prompts, max_new_tokens, stop, sampler, seed, truncate_prompt=False, on_slide=None):
        """Yield (row, text) as text prompts are continued; a row's text ends before its first stop string."""
        prompt_ids = [self._truncated(self.encode_prompt(p), truncate_prompt) for p in prompts]
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
            raise ValueError(f"stop must be a string or a list of strings, got {str(stop)[:40]!r}")
        texts = [TextStream(self.tokenizer, stop) for _ in prompts]
        stopped = set()
        eot, n_text = self.tokenizer.eot_token, self._text_vocab()
        for step in self._tokens(prompt_ids, max_new_tokens, sampler, seed, eot, stopped, n_vocab=n_text,
                                 on_slide=on_slide):  # fmt: skip
            for r, token in step:
                piece = texts[r].feed(token)
                if texts[r].stopped:
                    stopped.add(r)
                if piece:
                    yield r, piece
        for r, text in enumerate(texts):
            tail = text.finish()
            if tail:
                yield r, tail

    def stream(
        self,
        prompt: str,
        max_new_tokens: int = 64,
        *,
        stop=(),
        temperature: float = Sampler.temperature,
        top_k: int = Sampler.top_k,
        top_p: float = Sampler.top_p,
        repetition_penalty: float = Sampler.repetition_penalty,
        seed=None,
        truncate_prompt: bool = False,
        on_slide=None,
        **options,
    ):
        """Yield the continuation of a text prompt piece by piece, as it is generated.

        Ends at <|endoftext|>, after max_new_tokens, or just before the first of the `stop` strings. `options`
        are generate's min_p, no_repeat_ngram_size, min_new_tokens, bad_words and logit_bias. Past the
        context the window slides, and on_slide() is called each time it does.
        """
        sampler = self._sampler(temperature, top_k, top_p, repetition_penalty, **options)
        for _, piece in self._pieces([prompt], max_new_tokens, stop, sampler, seed, truncate_prompt, on_slide):
            yield piece

    def complete(
        self,
        prompt,
        max_new_tokens: int = 64,
        *,
        stop=(),
        temperature: float = Sampler.temperature,
        top_k: int = Sampler.top_k,
        top_p: float = Sampler.top_p,
        repetition_penalty: float = Sampler.repetition_penalty,
        seed=None,
        truncate_prompt: bool = False,
        num_return_sequences: int = 1,
        num_beams: int = 1,
        **options,
    ):
        """The continuation of a text prompt, as `stream` yields it; given a list of prompts, a list of texts.

        num_return_sequences > 1 gives a list of that many texts per prompt (sequence j samples with seed + j);
        num_beams > 1 searches with that many beams (generate's length_penalty and early_stopping apply).
        """
        if isinstance(prompt, str):
            return self.complete([prompt], max_new_tokens, stop=stop, temperature=temperature, top_k=top_k,
                                 top_p=top_p, repetition_penalty=repetition_penalty, seed=seed,
                                 truncate_prompt=truncate_prompt, num_return_sequences=num_return_sequences,
                                 num_beams=num_beams, **options)[0]  # fmt: skip
        if not isinstance(prompt, (list, tuple)):
            raise ValueError(f"a prompt must be a string or a list of strings, got {type(prompt).__name__}")
        if num_beams != 1:
            ids = [self.encode_prompt(p) for p in prompt]
            beams = self.generate(ids, max_new_tokens, num_beams=num_beams, num_return_sequences=num_return_sequences,
                                  truncate_prompt=truncate_prompt, temperature=0, **options) if ids else []  # fmt: skip
            decode = lambda new: self._until_stop(self.tokenizer.decode(new), stop)  # noqa: E731
            return [decode(b) if num_return_sequences == 1 else [decode(x) for x in b] for b in beams]
        sampler = self._sampler(temperature, top_k, top_p, repetition_penalty, **options)
        copies, copy_seeds = self._copies(prompt, seed, num_return_sequences, sampler)
        out = [""] * len(copies)
        for r, piece in self._pieces(copies, max_new_tokens, stop, sampler, copy_seeds, truncate_prompt):
            out[r] += piece
        return self._regroup(out, num_return_sequences)

    @staticmethod
    def _copies(prompts, seed, n, sampler):
        """Each prompt n times, and the seed of each copy: copy j of a prompt seeded s samples with s + j."""
        if not is_integer(n) or n < 1:
            raise ValueError(f"num_return_sequences must be an integer >= 1, got {n!r}")
        if n > 1 and sampler.temperature == 0:
            raise ValueError("greedy decoding gives one sequence: sample (temperature > 0) or use num_beams")
        seeds = seed if isinstance(seed, (list, tuple)) else [seed] * len(prompts)
        if len(seeds) != len(prompts):
            raise ValueError(f"got {len(seeds)} seeds for {len(prompts)} prompts")
        return [p for p in prompts for _ in range(n)], [s + j if is_integer(s) else s for s in seeds for j in range(n)]

    @staticmethod
    def _regroup(results, n):
        """One result per copy -> one per prompt, or a list of n per prompt when n > 1."""
        return results if n == 1 else [results[i : i + n] for i in range(0, len(results), n)]

    @staticmethod
    def _until_stop(text, stop):
        """Text up to the first of the stop strings."""
        stop = [stop] if isinstance(stop, str) else stop
        cuts = [text.find(s) for s in stop if s and s in text]
        return text[: min(cuts)] if cuts else text


class Conversation:
    """A text that grows turn by turn, its KV cache kept between turns: each `say` appends a text and streams
    the model's continuation, computing only the positions that are new since the last turn. Past the
    context the window slides as in generation (the first half dropped, the rest recomputed)."""

    def __init__(self, gpt: GPT, sampler: Sampler, seed=None):
        if gpt.tokenizer is None:
            raise ValueError("a conversation needs a model with a tokenizer")
        self.gpt, self.sampler = gpt, sampler
        self.rng = np.random.default_rng(seed)
        self.history = []  # every token of the conversation so far
        self.start = 0  # where the window begins in history
        self.cache = KVCache(gpt.config, 1, gpt.config.n_ctx)  # holds history[start : start + cache.n_past]

    def say(self, text: str, max_new_tokens: int = 64, stop=()):
        """Append text, then yield the continuation piece by piece, until <|endoftext|>, max_new_tokens or a stop
        string. An interrupt (Ctrl-C) between pieces ends the answer; what was said so far stays said."""
        if not is_integer(max_new_tokens) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
        self.history += self.gpt.tokenizer.encode(text, allowed_special="all")
        eot = self.gpt.tokenizer.eot_token
        stream = TextStream(self.gpt.tokenizer, [stop] if isinstance(stop, str) else list(stop))
        split = self.gpt._split_weights()  # for a long text, run on two threads
        for n_new in range(max_new_tokens):
            logits = self._next_logits(split)[: self.gpt._text_vocab()]
            token = self.sampler(logits, self.history, self.rng, n_new, eot)
            if token == eot:
                break
            self.history.append(token)
            piece = stream.feed(token)
            if piece:
                yield piece
            if stream.stopped:
                return
        tail = stream.finish()
        if tail:
            yield tail

    def _next_logits(self, split=None):
        """Logits [n_vocab] after the whole history, feeding the cache only what it lacks (on `split` where the
        model finds it faster: `GPT._last_logits`)."""
        n_ctx = self.gpt.config.n_ctx
        if len(self.history) - self.start > n_ctx:  # slide: keep the last half of the context, recompute it
            self.start = len(self.history) - n_ctx // 2
            self.cache = KVCache(self.gpt.config, 1, n_ctx)
        new = np.asarray(self.history[self.start + self.cache.n_past :], np.int64)[None]  # [1, n_new]
        n_past, n_seq = self.cache.n_past, new.shape[1]
        positions = np.arange(n_past, n_past + n_seq)[None]
        mask = attention_mask(np.ones((1, n_past + n_seq), bool), n_seq)
        return self.gpt._last_logits(new, positions, mask, self.cache, split)[0]  # [n_vocab]
