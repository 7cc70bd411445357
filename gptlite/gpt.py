"""`GPT`: a GPT-2 model and its tokenizer, with the calls people expect.

    gpt = GPT.from_pretrained("path/to/model")
    logits = gpt(ids)                                  # [len(ids), n_vocab]
    new_ids = gpt.generate(ids, max_new_tokens=32)     # new tokens only
    text = gpt.complete("The weather today is")        # the continuation
    for piece in gpt.stream("The weather today is"): print(piece, end="")

This is the front door; the work is done behind it, each part in a module of its own: `engine.py` runs the
model (`model.py`, or `parallel.py` on two cores) and owns its KV caches, `decoding.py` is the one decode
loop, `sampling.py` and `beam.py` pick tokens, `text.py` turns tokens into text and stops at stop strings,
`checks.py` checks arguments, `scoring.py` and `inspection.py` measure and look inside.
"""

import html
from dataclasses import asdict

import numpy as np

from . import checks, speculative
from .decoding import copies, decode, regroup
from .engine import Engine, Params, left_pad
from .model import Config, attention_mask, flatten, nest
from .sampling import Sampler
from .text import TextStream, bad_word_ids, encode_prompt, until_stop
from .tokenizer import Tokenizer


class GPT:
    """A GPT-2 model and its tokenizer: `gpt(ids)` gives logits; `generate`, `complete` and `stream` continue."""

    def __init__(self, config: Config, params: dict, tokenizer: Tokenizer | None, source: str | None = None):
        self.config = config
        self.engine = Engine(config, params)  # the weights, the path they run on, the KV caches
        self.tokenizer = tokenizer  # None for a model shipped without tokenizer files: token ids only
        self.source = source  # the name or directory it was loaded from, if it was

    @property
    def params(self) -> Params:
        """The weights, nested as model.nest builds them."""
        return self.engine.params

    def _summary(self):
        """(what it is, [(label, value)]) for the two reprs."""
        c, flat = self.config, flatten(self.params)
        n_params, n_bytes = sum(a.size for a in flat.values()), sum(a.nbytes for a in flat.values())
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
        batched = len(ids) > 0 and not np.isscalar(ids[0])
        prompts = [self.prompt_ids(p) for p in (ids if batched else [ids])]
        padded, real, positions = left_pad(prompts)
        n_seq = padded.shape[1]
        self.engine.refresh()
        cache = self.engine.new_cache(len(prompts), n_seq)
        x = self.engine.hidden_states(padded, positions, attention_mask(real, n_seq), cache)  # [n, n_seq, n_embd]
        logits = [self.engine.head(x[row, n_seq - len(p) :]) for row, p in enumerate(prompts)]  # [len(p), n_vocab]
        return logits if batched else logits[0]

    def copy(self) -> "GPT":
        """The same model with writable float32 copies of its weights (loaded weights are read-only memory maps),
        for experiments that edit them: `edited = gpt.copy(); edited.params["h"][3]["mlp"]["c_proj"]["w"][:] = 0`."""
        params = nest({name: np.array(value, dtype=np.float32) for name, value in flatten(self.params).items()})
        return GPT(self.config, params, self.tokenizer, self.source)

    def to_str_tokens(self, ids) -> list[str]:
        """Each token as a string: the tokenizer's pieces, or the ids themselves for a model without one."""
        if self.tokenizer is None:
            return [str(i) for i in checks.token_ids(ids, self.config.n_vocab).tolist()] if len(ids) else []
        return self.tokenizer.to_str_tokens(ids)

    def token_str(self, i: int) -> str:
        return self.to_str_tokens([i])[0]

    def encode_prompt(self, prompt: str) -> list[int]:
        """Text -> ids. <|endoftext|> in a prompt is the special token; an empty prompt starts a new document."""
        return encode_prompt(self.tokenizer, prompt)

    def prompt_ids(self, text_or_ids, truncate: bool | None = None) -> np.ndarray:
        """A prompt, given as text or ids, as checked ids [n_seq]. One longer than the context is cut to its last
        n_ctx tokens when `truncate`, and is otherwise an error (naming the option where the call has one:
        truncate=False, not None)."""
        ids = checks.token_ids(self.encode_prompt(text_or_ids) if isinstance(text_or_ids, str) else text_or_ids,
                               self.config.n_vocab)[-self.config.n_ctx if truncate else 0 :]  # fmt: skip
        if len(ids) > self.config.n_ctx:
            option = f": pass truncate_prompt=True (--truncate-prompt) to keep its last {self.config.n_ctx}"
            raise ValueError(f"the prompt ({len(ids)} tokens) is longer than the model's context of "
                             f"{self.config.n_ctx} tokens{option if truncate is False else ''}")  # fmt: skip
        return ids

    def text_vocab(self) -> int | None:
        """How many ids have text: a model may have more embeddings than its tokenizer has tokens (padded to a
        round number, say); text generation never picks the extra ones, which no tokenizer could decode."""
        return min(self.config.n_vocab, self.tokenizer.n_vocab) if self.tokenizer else None

    def sampler(self, temperature=Sampler.temperature, top_k=Sampler.top_k, top_p=Sampler.top_p,
                repetition_penalty=Sampler.repetition_penalty, min_p=Sampler.min_p,
                no_repeat_ngram_size=Sampler.no_repeat_ngram_size, min_new_tokens=Sampler.min_new_tokens,
                bad_words=(), logit_bias=None) -> Sampler:  # fmt: skip
        """A `Sampler` for this model: bad words may be texts (encoded with its tokenizer), logit_bias a dict."""
        if logit_bias is not None and not isinstance(logit_bias, dict):
            raise ValueError("logit_bias must be a dict {token id: amount}")
        bias = tuple(sorted((logit_bias or {}).items()))
        if any(not checks.is_integer(t) or not 0 <= t < self.config.n_vocab for t, _ in bias):
            raise ValueError(f"logit_bias's keys must be token ids in [0, {self.config.n_vocab})")
        return Sampler(temperature, top_k, top_p, repetition_penalty, min_p, no_repeat_ngram_size, min_new_tokens,
                       bad_word_ids(self.tokenizer, bad_words), bias)  # fmt: skip

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
        ids = self.prompt_ids(text_or_ids)
        logits, records = record_run(self, ids, names, hooks)
        return Run(self, ids, logits, records)

    def score(self, text_or_ids, *, prepend_eot: bool = True, context: int | None = None, stride: int | None = None):
        """How likely the model finds a text: a `scoring.Score` with the log-probability of every token, the
        NLL, perplexity and bits per byte. The first token is conditioned on <|endoftext|> (prepend_eot=False:
        it is not scored). Text longer than `context` (default n_ctx) is scored in windows moved by `stride`
        (default: half the context, so that every token is scored)."""
        from .scoring import score

        return score(self, text_or_ids, prepend_eot, context, stride)

    def perplexity(self, text: str, *, stride: int | None = None, context: int | None = None, batch_size: int = 1):
        """Perplexity of a long text as Hugging Face's guide measures it: windows of `context` tokens (default
        n_ctx) moved by `stride` (default: half the context); the first token is not scored. Returns a
        `scoring.Perplexity`: `.perplexity` counts every scored token once, `.guide_perplexity` is the guide's."""
        from .scoring import perplexity

        if self.tokenizer is None or not isinstance(text, str):
            raise ValueError("perplexity takes a text (and a model with a tokenizer); score ids with gpt.score")
        return perplexity(self, [self.tokenizer.encode(text, allowed_special="all")], context, stride, batch_size)

    def trace(self, prompt, max_new_tokens: int = 20, *, alternatives: int = 5, seed=None, **sampling):
        """Generate as `generate` does, keeping each new token's probability and the `alternatives` likeliest
        tokens at its place: a `Trace`, which draws itself. `sampling`: the Sampler's options (temperature, ...)."""
        from .inspection import trace

        return trace(self, prompt, speculative.split(sampling, self.sampler), seed, max_new_tokens, alternatives)

    def generate(self, ids, max_new_tokens: int | None = None, *, max_length: int | None = None,
                 num_return_sequences: int = 1, num_beams: int = 1, length_penalty: float = 1.0,
                 early_stopping=False, truncate_prompt: bool = False, seed=None, eos_token_id="default",
                 **sampling) -> list:  # fmt: skip
        """New token ids after a prompt of ids; or, given a list of prompts, one list per prompt.

        Stops at `eos_token_id` (default <|endoftext|>, not included; None: never) or after max_new_tokens
        (default 32; or max_length, prompt and new tokens together, as in transformers). `seed` (an int, or one
        per prompt) makes sampling reproducible. `sampling`: temperature (0 is greedy), top_k, top_p,
        repetition_penalty, min_p, no_repeat_ngram_size, min_new_tokens, bad_words (texts or token sequences)
        and logit_bias ({token: amount}), transformers' options (`sampling.py`); speculation: `speculative.py`.
        num_return_sequences > 1 gives that many sequences per prompt (sampled: sequence j uses seed + j),
        num_beams > 1 beam search (`beam.py`). Generation goes on past the context by sliding the window
        (`decoding.py`); a prompt longer than the context is an error, or, with truncate_prompt=True, cut to
        its last n_ctx tokens.
        """
        batched = len(ids) > 0 and not np.isscalar(ids[0])
        prompts = [self.prompt_ids(p, truncate_prompt).tolist() for p in (ids if batched else [ids])]
        n_new = checks.new_tokens(max_new_tokens, max_length, max(map(len, prompts), default=0))
        plan = speculative.split(sampling, self.sampler, num_beams)
        eos = checks.end_token(eos_token_id, self.tokenizer, self.config.n_vocab)
        if checks.count("num_beams", num_beams, 1) > 1:  # sampling's options beyond the bans do not apply
            checks.count(f"num_return_sequences (at most num_beams, {num_beams})", num_return_sequences, 1, num_beams)
            checks.not_sampling(sampling, seed)
            found = [self.beam_search(p, n_new, num_beams=num_beams, length_penalty=length_penalty,
                                      early_stopping=early_stopping, eos_token_id=eos_token_id,
                                      **sampling) for p in prompts]  # fmt: skip
            out = [h[0].ids if num_return_sequences == 1 else [x.ids for x in h[:num_return_sequences]] for h in found]
            return out if batched else out[0]
        rows, seeds = copies(self.engine, prompts, seed, num_return_sequences, plan.sampler, n_new)
        pick, loop = plan.seams(self, seeds, len(rows), eos)
        new = [[] for _ in rows]
        for step in decode(self.engine, rows, n_new, pick, eos_token_id=eos, **loop):
            for r, token in step:
                new[r].append(token)
        out = regroup(new, num_return_sequences)
        return out if batched else out[0]

    def beam_search(self, ids, max_new_tokens: int = 32, *, num_beams: int = 4, length_penalty: float = 1.0,
                    early_stopping=False, eos_token_id="default", **constraints):  # fmt: skip
        """The num_beams best continuations of one prompt of ids, best first, each a `beam.Hypothesis` with its
        new ids and its length-penalised score (transformers' `sequences_scores`). `constraints` are the
        sampling.py options that greedy decoding obeys too (repetition_penalty, no_repeat_ngram_size, ...)."""
        from .beam import beam_search

        prompt = self.prompt_ids(ids).tolist()
        n_new, num_beams = checks.count("max_new_tokens", max_new_tokens), checks.count("num_beams", num_beams, 1)
        if len(prompt) + n_new > self.config.n_ctx:  # beam search does not slide the window
            raise ValueError(f"prompt ({len(prompt)} tokens) + max_new_tokens ({n_new}) is longer than the model's "
                             f"context of {self.config.n_ctx} tokens")  # fmt: skip
        checks.not_sampling(constraints)
        sampler = self.sampler(**{**constraints, "temperature": 0})  # the bans and penalties
        self.engine.check_memory(num_beams, len(prompt) + n_new, len(prompt), f"{num_beams} beams")
        eos = checks.end_token(eos_token_id, self.tokenizer, self.config.n_vocab)
        return beam_search(self.engine, prompt, n_new, num_beams, sampler, eos,
                           checks.finite("length_penalty", length_penalty), early_stopping)  # fmt: skip

    def _pieces(self, prompt_ids, max_new_tokens, stop, plan, seed, on_slide=None):
        """Yield (row, text) as prompts (checked ids) are continued; a row's text ends before its first stop string."""
        texts = [TextStream(self.tokenizer, stop) for _ in prompt_ids]
        stopped, eot = set(), self.tokenizer.eot_token
        pick, loop = plan.seams(self, seed, len(prompt_ids), eot, self.text_vocab())
        for step in decode(self.engine, prompt_ids, max_new_tokens, pick, eos_token_id=eot, n_vocab=self.text_vocab(),
                           stopped=stopped, on_slide=on_slide, **loop):  # fmt: skip
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

    def stream(self, prompt: str, max_new_tokens: int = 64, *, stop=(), seed=None, truncate_prompt: bool = False,
               on_slide=None, **sampling):  # fmt: skip
        """Yield the continuation of a text prompt piece by piece, as it is generated.

        Ends at <|endoftext|>, after max_new_tokens, or just before the first of the `stop` strings. `sampling`
        are generate's sampling options. Past the context the window slides, and on_slide() is called each time.
        """
        plan = speculative.split(sampling, self.sampler)
        ids = self.prompt_ids(self.encode_prompt(prompt), truncate_prompt).tolist()
        for _, piece in self._pieces([ids], checks.count("max_new_tokens", max_new_tokens), stop, plan, seed,
                                     on_slide):  # fmt: skip
            yield piece

    def complete(self, prompt, max_new_tokens: int = 64, *, stop=(), seed=None, truncate_prompt: bool = False,
                 num_return_sequences: int = 1, num_beams: int = 1, **options):  # fmt: skip
        """The continuation of a text prompt, as `stream` yields it; given a list of prompts, a list of texts.

        num_return_sequences > 1 gives a list of that many texts per prompt (sequence j samples with seed + j);
        num_beams > 1 searches with that many beams (generate's length_penalty and early_stopping apply).
        """
        if isinstance(prompt, str):
            return self.complete([prompt], max_new_tokens, stop=stop, seed=seed, truncate_prompt=truncate_prompt,
                                 num_return_sequences=num_return_sequences, num_beams=num_beams,
                                 **options)[0]  # fmt: skip
        if not isinstance(prompt, (list, tuple)):
            raise ValueError(f"a prompt must be a string or a list of strings, got {type(prompt).__name__}")
        if num_beams != 1:
            ids = [self.encode_prompt(p) for p in prompt]
            beams = self.generate(ids, max_new_tokens, num_beams=num_beams, num_return_sequences=num_return_sequences,
                                  truncate_prompt=truncate_prompt, seed=seed, **options)  # fmt: skip
            text = lambda new: until_stop(self.tokenizer.decode(new), stop)  # noqa: E731
            return [text(b) if num_return_sequences == 1 else [text(x) for x in b] for b in beams]
        plan, n_new = speculative.split(options, self.sampler), checks.count("max_new_tokens", max_new_tokens)
        ids = [self.prompt_ids(self.encode_prompt(p), truncate_prompt).tolist() for p in prompt]
        rows, seeds = copies(self.engine, ids, seed, num_return_sequences, plan.sampler, n_new)
        out = [""] * len(rows)
        for r, piece in self._pieces(rows, n_new, stop, plan, seeds):
            out[r] += piece
        return regroup(out, num_return_sequences)
