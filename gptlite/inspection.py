"""Looking inside GPT-2: one recorded forward pass, the logit lens, and the trace of a generation.

Sources: TransformerLens's `run_with_cache` (Nanda and Bloom 2022: one forward
pass, every activation by name); nostalgebraist 2020, "interpreting GPT: the
logit lens" (decode the residual stream after each block through the final layer
norm and the output head, to see the prediction form layer by layer).

    run = gpt.run("After John and Mary went to the store, John gave a bottle of milk to")
    run.tokens                  # ['After', ' John', ' and', ...]
    run["h.5.attn.pattern"]     # [n_head, n_seq, n_seq]
    run.logprobs                # [n_seq - 1]: log p(each token | the ones before it)
    run.top(5)                  # the likeliest next tokens after the last position
    run.logit_lens()            # layer by layer: what the model would predict if it stopped there

Every array here is one sequence's: no batch axis. The pictures (`_repr_html_`,
`save`, `str`) are in `views.py`.
"""

from typing import NamedTuple

import numpy as np

from . import views
from .checks import count, end_token
from .decoding import Stats, decode
from .hooks import Record, activation_names, canonical, returned, stream_names
from .model import attention_mask, final_norm, log_softmax, softmax


class TopToken(NamedTuple):
    """One candidate for a next token."""

    token: str
    id: int
    probability: float
    logit: float


def top_tokens(logits, k, to_str):
    """The k likeliest tokens of one row of logits [n_vocab], likeliest first."""
    probabilities = softmax(logits.astype(np.float64))  # float64: tiny probabilities keep their digits
    best = np.argsort(-logits, kind="stable")[:k]
    return [TopToken(to_str(int(i)), int(i), float(probabilities[i]), float(logits[i])) for i in best]


def record_run(gpt, ids, names, fns):
    """Run one sequence [n_seq] through the model with a Record: (logits [n_seq, n_vocab], {name: activation})."""
    n_seq = len(ids)
    per_sequence = {name: _without_batch_axis(fn) if callable(fn) else fn for name, fn in (fns or {}).items()}
    record = Record(names, per_sequence, n_layer=gpt.config.n_layer)
    mask = attention_mask(np.ones((1, n_seq), bool), n_seq)  # [1, 1, n_seq, n_seq]
    cache = gpt.engine.new_cache(1, n_seq)
    x = gpt.engine.hidden_states(ids[None], np.arange(n_seq)[None], mask, cache, record)  # [1, n_seq, n_embd]
    logits = gpt.engine.head(x, record)[0]  # [n_seq, n_vocab]
    return logits, {name: value[0] for name, value in record.records.items()}


def trace(gpt, prompt, speculation, seed, max_new_tokens, alternatives):
    """GPT.trace: generate from one prompt (text or ids), observing each new token with the logits it was drawn
    from, and return a Trace. `speculation` (`speculative.Speculation`): the sampler and any proposer; the loop's
    Stats are the Trace's `stats`."""
    max_new_tokens, alternatives = count("max_new_tokens", max_new_tokens), count("alternatives", alternatives, 1)
    ids = gpt.prompt_ids(prompt).tolist()
    eos = end_token("default", gpt.tokenizer, gpt.config.n_vocab)
    steps = []

    def observe(row, logits, token):
        probability = float(np.exp(log_softmax(logits.astype(np.float64))[token]))
        chosen = TopToken(gpt.token_str(token), token, probability, float(logits[token]))
        steps.append((chosen, top_tokens(logits, alternatives, gpt.token_str)))

    stats = speculation.stats if speculation.stats is not None else Stats()
    pick, loop = speculation.seams(gpt, seed, 1, eos, gpt.text_vocab())
    loop["stats"] = stats
    new = [t for step in decode(gpt.engine, [ids], max_new_tokens, pick, eos_token_id=eos, n_vocab=gpt.text_vocab(),
                                observe=observe, **loop) for _, t in step]  # fmt: skip
    prompt_text = prompt if isinstance(prompt, str) else "".join(gpt.to_str_tokens(ids))
    text = gpt.tokenizer.decode(new) if gpt.tokenizer else " ".join(map(str, new))
    return Trace(prompt_text, steps, text, stats)


def _without_batch_axis(fn):
    """A user's hook sees and returns one sequence's activation, as run[name] shows it (and is told of a wrong
    shape in those terms); the model has a batch axis."""
    return lambda x, name: returned(fn(x[0], name), x.shape[1:], x.dtype, name)[None]


class Run:
    """What one forward pass computed: the tokens, the logits, and every recorded activation by name."""

    def __init__(self, gpt, ids, logits, records):
        self.ids = ids  # [n_seq]
        self.logits = logits  # [n_seq, n_vocab]
        self.records = records  # name -> activation (see hooks.py for the names and shapes)
        self.tokens = gpt.to_str_tokens(ids)
        self.gpt = gpt

    def __getitem__(self, name: str) -> np.ndarray:
        key = canonical(name)
        if key not in self.records:
            known = activation_names(self.gpt.config.n_layer, self.gpt.config.layer_norm)
            why = "was not recorded: pass it in names=[...]" if key in known else "is not an activation's name"
            raise KeyError(f"{name!r} {why} (recorded: {len(self.records)} activations)")
        return self.records[key]

    def __contains__(self, name):
        return canonical(name) in self.records

    def names(self) -> list[str]:
        """The recorded activations' names, in the order the model computed them."""
        return [n for n in activation_names(self.gpt.config.n_layer, self.gpt.config.layer_norm) if n in self.records]

    @property
    def logprobs(self) -> np.ndarray:
        """[n_seq - 1]: the log-probability of each token given the ones before it (the first has no context)."""
        logp = log_softmax(self.logits[:-1].astype(np.float64))  # [n_seq - 1, n_vocab]
        return logp[np.arange(len(self.ids) - 1), self.ids[1:]].astype(np.float32)

    def top(self, k: int = 5, position: int = -1) -> list[TopToken]:
        """The k likeliest next tokens after `position` (default: the last), likeliest first."""
        k = count("k", k, 1)
        if not -len(self.ids) <= position < len(self.ids):
            raise ValueError(f"position {position} is outside the {len(self.ids)} tokens")
        return top_tokens(self.logits[position], k, self.gpt.token_str)

    def logit_lens(self) -> "LogitLens":
        """The residual stream before the first block and after each block, decoded as the final one is."""
        needed = stream_names(self.gpt.config.n_layer, self.gpt.config.layer_norm)
        missing = [n for n in needed if n not in self.records]
        if missing:
            every = needed[-1].replace(f"h.{len(needed) - 2}.", "h.*.")  # h.*.resid_post, or GPT-1's ln_2.normalized
            raise ValueError(f"the logit lens needs {missing[0]} (and {every}): record them with names=[...]")
        return LogitLens(self, [self.records[n] for n in needed])

    def attention(self) -> "views.AttentionView":
        """Every layer's and head's attention pattern, as a picture with a layer and head picker."""
        n_layer = self.gpt.config.n_layer
        missing = [i for i in range(n_layer) if f"h.{i}.attn.pattern" not in self.records]
        if missing:
            raise ValueError(f"h.{missing[0]}.attn.pattern was not recorded: record h.*.attn.pattern with names=[...]")
        patterns = np.stack([self.records[f"h.{i}.attn.pattern"] for i in range(n_layer)])
        return views.AttentionView(self.tokens, patterns)  # [n_layer, n_head, n_seq, n_seq]

    def token_view(self, k: int = 5) -> "views.TokenView":
        """The tokens coloured by their probability, each with the k likeliest alternatives at its place."""
        probabilities = [None] + np.exp(self.logprobs).tolist()  # the first token has no prediction
        alternatives = [[]] + [self.top(k, position) for position in range(len(self.ids) - 1)]
        return views.TokenView(self.tokens, probabilities, alternatives)

    def _repr_html_(self):
        return self.token_view()._repr_html_()

    def __repr__(self):
        return str(self.token_view())

    def save(self, path) -> None:
        """One HTML page with every picture this run can draw: tokens, attention, logit lens."""
        parts = [self.token_view()]
        if all(f"h.{i}.attn.pattern" in self.records for i in range(self.gpt.config.n_layer)):
            parts.append(self.attention())
        if all(name in self.records for name in stream_names(self.gpt.config.n_layer, self.gpt.config.layer_norm)):
            parts.append(self.logit_lens())
        views.save_page(path, "gptlite: " + "".join(self.tokens)[:60], parts)


class LogitLens(views.LogitLensView):
    """For each layer (the embeddings, then after each block) and position: what the model would predict
    if the residual stream went straight to the final norm (ln_f; none after post-LN blocks) and the head."""

    def __init__(self, run, residuals):
        self._run = run
        self._residuals = residuals  # n_layer + 1 arrays [n_seq, n_embd]
        layers = ["embed"] + [f"h.{i}" for i in range(len(residuals) - 1)]
        n_seq = len(run.ids)
        top_ids = np.zeros((len(layers), n_seq), np.int64)
        top_probs = np.zeros((len(layers), n_seq), np.float32)
        next_probs = np.zeros((len(layers), n_seq - 1), np.float32)
        for layer in range(len(layers)):
            logp = log_softmax(self.logits(layer).astype(np.float64))  # [n_seq, n_vocab]
            top_ids[layer] = logp.argmax(axis=-1)
            top_probs[layer] = np.exp(logp[np.arange(n_seq), top_ids[layer]])
            next_probs[layer] = np.exp(logp[np.arange(n_seq - 1), run.ids[1:]])
        self.top_ids, self.top_probs, self.next_probs = top_ids, top_probs, next_probs  # [n_layer + 1, n_seq (- 1)]
        to_str = run.gpt.token_str
        super().__init__(layers, run.tokens, [[to_str(int(i)) for i in row] for row in top_ids], top_probs, next_probs)

    def logits(self, layer: int) -> np.ndarray:
        """[n_seq, n_vocab]: the lens's logits at a layer (0 = the embeddings, -1 = after the last block)."""
        gpt = self._run.gpt
        return gpt.engine.head(final_norm(gpt.params, self._residuals[layer], gpt.config))


class Trace(views.TraceView):
    """A generation, token by token: each new token with its probability and the likeliest alternatives.

    Probabilities are the model's own (softmax of the logits), before temperature, top-k or top-p.
    """

    def __init__(self, prompt, steps, text, stats=None):
        self.prompt = prompt  # the prompt's text
        self.steps = steps  # [(TopToken of the chosen token, [TopToken alternatives])]
        self.text = text  # the continuation, decoded as a whole
        self.stats = stats  # decoding.Stats: passes, proposals and acceptances (speculative decoding)
        super().__init__(prompt, steps)

    @property
    def logprobs(self) -> np.ndarray:
        """[n_new]: the log-probability of each generated token."""
        return np.log(np.array([chosen.probability for chosen, _ in self.steps], np.float64)).astype(np.float32)
