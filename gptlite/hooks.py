"""Recording and changing what the model computes, by name: the activations of every layer.

Sources: TransformerLens (Nanda and Bloom 2022), whose hook points and names
gptlite's names map onto one for one; Meng et al. 2022 and Wang et al. 2022
for activation patching, the experiment these hooks exist for.

`model.py` calls `hooks(name, x)` at each point below and carries on with what
comes back. `Record` is the hooks object that does something there: it keeps a
copy of the activations whose names match its patterns, and replaces an
activation by what a user's function returns (to ablate a head, or to patch in
an activation from another run).

Names, in the order the forward pass reaches them (shapes per sequence; a
record made on a batch has the batch axis first):

| gptlite name            | shape                     | TransformerLens name              |
|-------------------------|---------------------------|-----------------------------------|
| `embed`                 | [n_seq, n_embd]           | `hook_embed`                      |
| `pos_embed`             | [n_seq, n_embd]           | `hook_pos_embed`                  |
| `h.{i}.resid_pre`       | [n_seq, n_embd]           | `blocks.{i}.hook_resid_pre`       |
| `h.{i}.ln_1.normalized` | [n_seq, n_embd]           | `blocks.{i}.ln1.hook_normalized`  |
| `h.{i}.attn.q`          | [n_head, n_seq, d_head]   | `blocks.{i}.attn.hook_q`          |
| `h.{i}.attn.k`          | [n_head, n_seq, d_head]   | `blocks.{i}.attn.hook_k`          |
| `h.{i}.attn.v`          | [n_head, n_seq, d_head]   | `blocks.{i}.attn.hook_v`          |
| `h.{i}.attn.scores`     | [n_head, n_seq, n_kv]     | `blocks.{i}.attn.hook_attn_scores`|
| `h.{i}.attn.pattern`    | [n_head, n_seq, n_kv]     | `blocks.{i}.attn.hook_pattern`    |
| `h.{i}.attn.z`          | [n_head, n_seq, d_head]   | `blocks.{i}.attn.hook_z`          |
| `h.{i}.attn.out`        | [n_seq, n_embd]           | `blocks.{i}.hook_attn_out`        |
| `h.{i}.resid_mid`       | [n_seq, n_embd]           | `blocks.{i}.hook_resid_mid`       |
| `h.{i}.ln_2.normalized` | [n_seq, n_embd]           | `blocks.{i}.ln2.hook_normalized`  |
| `h.{i}.mlp.pre`         | [n_seq, d_mlp]            | `blocks.{i}.mlp.hook_pre`         |
| `h.{i}.mlp.post`        | [n_seq, d_mlp]            | `blocks.{i}.mlp.hook_post`        |
| `h.{i}.mlp.out`         | [n_seq, n_embd]           | `blocks.{i}.hook_mlp_out`         |
| `h.{i}.resid_post`      | [n_seq, n_embd]           | `blocks.{i}.hook_resid_post`      |
| `ln_f.normalized`       | [n_seq, n_embd]           | `ln_final.hook_normalized`        |
| `logits`                | [n_seq, n_vocab]          | (the model's output)              |

`scores` are q k^T times `model.attention_scale` (1/sqrt(d_head) in GPT-2; some
GPT-2-shaped models also divide by the layer's number) and masked (hidden keys
hold float32's most negative number), before the softmax; `pattern` is the
softmax. `z` is each head's output before `c_proj` mixes the heads; `out` is
after it. `pre` is the MLP before its activation, `post` after; d_mlp is the
MLP's width (4 * n_embd in GPT-2, `Config.d_mlp`). Where TransformerLens puts
the head axis second (`hook_q`, `hook_k`, `hook_v`, `hook_z`: [pos, head,
d_head]), gptlite puts it first. The values are those of the model as released,
i.e. what TransformerLens's `from_pretrained_no_processing` gives (its
`from_pretrained` folds the layer norms into the weights, which changes the
activations).

GPT-1's post-LN blocks (`Config.layer_norm = "post"`, `model.block_post_ln`) have the same names, with what
each computes: `resid_mid` is still resid_pre + attn.out and `resid_post` what the MLP's output is added to
plus that output, but these are sums before a layer norm, not the stream: the stream that goes on is
`ln_1.normalized` (what the MLP reads and adds to) and `ln_2.normalized` (the block's output, the next block's
`resid_pre`), as TransformerLens names a post-LN model's (`hook_normalized_resid_post`). Each block reads
`resid_pre` as it is, so `ln_1.normalized` comes after `resid_mid`; and there is no `ln_f.normalized`, the
last block's `ln_2.normalized` going to the head. `activation_names(n_layer, "post")` lists them in that order:

    resid_pre, attn.q ... attn.out, resid_mid, ln_1.normalized, mlp.pre, mlp.post, mlp.out, resid_post,
    ln_2.normalized"""

import fnmatch
import re

import numpy as np

from .model import Hooks

# (gptlite name, shape per sequence, TransformerLens name): the table above, for code.
NAMES = [
    ("embed", "n_seq, n_embd", "hook_embed"),
    ("pos_embed", "n_seq, n_embd", "hook_pos_embed"),
    ("h.{i}.resid_pre", "n_seq, n_embd", "blocks.{i}.hook_resid_pre"),
    ("h.{i}.ln_1.normalized", "n_seq, n_embd", "blocks.{i}.ln1.hook_normalized"),
    ("h.{i}.attn.q", "n_head, n_seq, d_head", "blocks.{i}.attn.hook_q"),
    ("h.{i}.attn.k", "n_head, n_seq, d_head", "blocks.{i}.attn.hook_k"),
    ("h.{i}.attn.v", "n_head, n_seq, d_head", "blocks.{i}.attn.hook_v"),
    ("h.{i}.attn.scores", "n_head, n_seq, n_kv", "blocks.{i}.attn.hook_attn_scores"),
    ("h.{i}.attn.pattern", "n_head, n_seq, n_kv", "blocks.{i}.attn.hook_pattern"),
    ("h.{i}.attn.z", "n_head, n_seq, d_head", "blocks.{i}.attn.hook_z"),
    ("h.{i}.attn.out", "n_seq, n_embd", "blocks.{i}.hook_attn_out"),
    ("h.{i}.resid_mid", "n_seq, n_embd", "blocks.{i}.hook_resid_mid"),
    ("h.{i}.ln_2.normalized", "n_seq, n_embd", "blocks.{i}.ln2.hook_normalized"),
    ("h.{i}.mlp.pre", "n_seq, d_mlp", "blocks.{i}.mlp.hook_pre"),
    ("h.{i}.mlp.post", "n_seq, d_mlp", "blocks.{i}.mlp.hook_post"),
    ("h.{i}.mlp.out", "n_seq, n_embd", "blocks.{i}.hook_mlp_out"),
    ("h.{i}.resid_post", "n_seq, n_embd", "blocks.{i}.hook_resid_post"),
    ("ln_f.normalized", "n_seq, n_embd", "ln_final.hook_normalized"),
    ("logits", "n_seq, n_vocab", None),
]


def _alias_rule(ours, theirs):
    """A regex that reads a TransformerLens name (or glob pattern) and the replacement giving ours."""
    pattern = re.escape(theirs).replace(re.escape("{i}"), r"([^.]+)")
    return re.compile(pattern + r"\Z"), ours.replace("{i}", r"\1")


ALIASES = [_alias_rule(ours, theirs) for ours, _, theirs in NAMES if theirs]


def activation_names(n_layer: int, layer_norm: str = "pre") -> list[str]:
    """Every activation's name for a model of n_layer blocks, in the order the forward pass computes them;
    layer_norm is the model's `Config.layer_norm` ("post": GPT-1's order, and no ln_f)."""
    outer = [name for name, _, _ in NAMES if "{i}" not in name]  # embed, pos_embed | ln_f.normalized, logits
    per_block = [name for name, _, _ in NAMES if "{i}" in name]
    if layer_norm == "post":
        per_block.remove("h.{i}.ln_1.normalized")
        per_block.insert(per_block.index("h.{i}.resid_mid") + 1, "h.{i}.ln_1.normalized")
        per_block.remove("h.{i}.ln_2.normalized")
        per_block.append("h.{i}.ln_2.normalized")
        outer.remove("ln_f.normalized")
    return outer[:2] + [name.format(i=i) for i in range(n_layer) for name in per_block] + outer[2:]


def stream_names(n_layer: int, layer_norm: str = "pre") -> list[str]:
    """The names of the residual stream before the first block and after each (what a logit lens decodes,
    through `model.final_norm`): `resid_post`, or in a post-LN block its normalised output, `ln_2.normalized`."""
    after = "ln_2.normalized" if layer_norm == "post" else "resid_post"
    return ["h.0.resid_pre"] + [f"h.{i}.{after}" for i in range(n_layer)]


def canonical(name: str) -> str:
    """gptlite's name for a TransformerLens name or pattern ("blocks.*.attn.hook_pattern" -> "h.*.attn.pattern")."""
    for rule, replacement in ALIASES:
        if rule.match(name):
            return rule.sub(replacement, name)
    return name


def _check_pattern(pattern, names):
    if not isinstance(pattern, str):
        raise ValueError(f"an activation name must be a string, got {type(pattern).__name__}")
    if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
        raise ValueError(
            f"no activation is named {pattern[:80]!r}: names are embed, pos_embed, h.{{i}}.resid_pre, "
            "h.{i}.attn.pattern, ... (gptlite.hooks.NAMES; TransformerLens names work too)"
        )


def returned(changed, shape, dtype, name):
    """What a hook returned for the activation `name` of `shape`, as a new array of `dtype`; else a one-line
    ValueError. It must have that shape and hold no NaN or infinity (the next steps would spread them to every
    logit), but for -inf in attn.scores, which hides a key as the mask does."""
    got = None if changed is None else np.shape(changed)
    if got != tuple(shape):
        raise ValueError(
            f"the hook for {name} must return an array of shape {list(shape)}, got {None if got is None else list(got)}"
        )
    changed = np.array(changed, dtype=dtype)  # a copy: the model may work in place on what it goes on with
    bad = np.isnan(changed) | (changed == np.inf) if name.endswith("attn.scores") else ~np.isfinite(changed)
    if bad.any():
        where = [int(i) for i in np.argwhere(bad)[0]]
        raise ValueError(
            f"the hook for {name} returned {changed[tuple(where)]} at {where}: hooks must return finite values"
        )
    return changed


class Record(Hooks):
    """Hooks that keep copies of the activations matching `names` (glob patterns such as "h.*.attn.pattern",
    or TransformerLens names) in `records`, and replace the activation at each name matching a key of
    `fns` by `fn(activation, name)`, as that returns it (the same shape). A record holds the activation
    the model went on with, i.e. after any fn.
    """

    def __init__(self, names=("*",), fns=None, n_layer=None):
        self.patterns = [canonical(p) for p in ([names] if isinstance(names, str) else names)]
        self.fns = [(canonical(p), fn) for p, fn in (fns or {}).items()]
        if n_layer is not None:
            known = activation_names(n_layer)
            for pattern in self.patterns + [p for p, _ in self.fns]:
                _check_pattern(pattern, known)
        for pattern, fn in self.fns:
            if not callable(fn):
                raise ValueError(f"the hook for {pattern!r} must be a function fn(activation, name) -> activation")
        self.records = {}
        self._plan = {}  # name -> (record it?, [fns]): each name matched against the patterns once

    def _for(self, name):
        if name not in self._plan:
            self._plan[name] = (
                any(fnmatch.fnmatchcase(name, p) for p in self.patterns),
                [fn for p, fn in self.fns if fnmatch.fnmatchcase(name, p)],
            )
        return self._plan[name]

    def __call__(self, name, x):
        record, fns = self._for(name)
        for fn in fns:
            x = returned(fn(x, name), x.shape, x.dtype, name)
        if record:
            self.records[name] = x.copy()  # a copy: later in-place steps cannot change it
        return x

    def wants(self, name):
        record, fns = self._for(name)
        return record or bool(fns)

    def scope(self, prefix):
        return Scoped(self, prefix + ".")


class Scoped(Hooks):
    """A Record seen from inside a block: "attn.q" here is "h.3.attn.q" there."""

    def __init__(self, root, prefix):
        self.root, self.prefix = root, prefix

    def __call__(self, name, x):
        return self.root(self.prefix + name, x)

    def wants(self, name):
        return self.root.wants(self.prefix + name)

    def scope(self, prefix):
        return Scoped(self.root, self.prefix + prefix + ".")
