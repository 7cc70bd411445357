"""Batched decoding on two cores: tensor parallelism, Megatron-LM style.

Source: Shoeybi et al. 2019, "Megatron-LM: Training Multi-Billion Parameter
Language Models Using Model Parallelism", Section 3 (how to split a
transformer's layers so that each needs only one sum of partial results).

Why. A decode step multiplies a handful of rows (one per sequence in the batch)
by every weight matrix. The cost is reading the weights, not the arithmetic.
With 2-16 rows, multi-threaded OpenBLAS first copies ("packs") each weight
matrix and reads it at a fraction of the speed it reads it for a single row.
Here two Python threads each own half of every layer, and each runs its half
through single-threaded OpenBLAS, which reads the weights in order, unpacked.

How the layers split, so that the two halves meet only twice per block:

    attention   each thread owns half of the heads: their q, k, v columns of c_attn, their
                part of the KV cache, their attention, and the matching rows of c_proj:
                    z_t = attention(x @ c_attn[:, heads_t])          [n_rows, n_embd / 2]
                    partial_t = z_t @ c_proj[heads_t, :]             [n_rows, n_embd]
                    attn_out = partial_0 + partial_1 + c_proj.b      (the sum over heads, in two parts)
    MLP         each owns half of the hidden units: columns of c_fc, rows of c_proj:
                    partial_t = gelu(x @ c_fc[:, half_t]) @ c_proj[half_t, :]
                    mlp_out = partial_0 + partial_1 + c_proj.b       (gelu acts unit by unit, so it splits)
    head        each owns half of the vocabulary and writes its half of the logits.

The two threads meet at a barrier after each c_proj, and each adds the two
partial sums to its own copy of the residual stream, in the same order, so the
copies stay identical. Layer norms and embeddings are cheap; both threads do them.

Panels. Each thread's weights are copied once into column panels
[n_panels, n_in, PANEL] (64 columns, 192 KB for n_in = 768): `np.matmul(x, panels)`
then runs every panel through OpenBLAS's small-matrix kernel, which skips the
packing step. This copy is a second layout of the weights: it is made the first
time a batch is decoded and kept (the memory, not the values: each generation
copies the weights in afresh, so that edits to them count).

Controlling OpenBLAS's own threads needs threadpoolctl (`pip install
"gptlite[fast]"`); without it, or with GPTLITE_PARALLEL=0 in the environment,
or on one core, `model.py`'s plain path runs. The plain path is the reference:
the tests check this one against it.
"""

import functools
import os
import threading

import numpy as np

from .model import ACTIVATIONS, Config, attention, attention_scale, layer_norm

PANEL = 64  # columns per panel: powers of two from 16 to 64 were fastest in measurements, 128 and up slower
N_PARTS = 2


@functools.cache
def threadpool_controller():
    """threadpoolctl's controller, or None where threadpoolctl is not installed."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def wanted(config: Config, n_rows: int) -> bool:
    """Whether a decode step over n_rows sequences should take the two-thread path."""
    return (
        n_rows >= 2
        and config.n_head >= N_PARTS
        and threadpool_controller() is not None
        and (os.cpu_count() or 1) >= N_PARTS
        and os.environ.get("GPTLITE_PARALLEL", "1").lower() not in ("0", "off", "false", "no")
    )


def split(n: int, part: int) -> slice:
    """Part `part` of N_PARTS near-equal consecutive ranges of range(n)."""
    return slice(n * part // N_PARTS, n * (part + 1) // N_PARTS)


def panels(w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """w [n_in, n_out] -> [n_panels, n_in, PANEL], zero columns padding the last panel; into `out` if given."""
    n_in, n_out = w.shape
    if out is None:
        out = np.zeros((-(-n_out // PANEL), n_in, PANEL), np.float32)  # [n_panels, n_in, PANEL]
    for i, start in enumerate(range(0, n_out, PANEL)):
        columns = w[:, start : start + PANEL]  # [n_in, <= PANEL]: one pass over w, however it is strided
        out[i, :, : columns.shape[1]] = columns
    return out


def panel_matmul(x: np.ndarray, w: np.ndarray, n_out: int) -> np.ndarray:
    """x [n_rows, n_in] @ the matrix that `panels` made w from -> [n_rows, n_out]."""
    out = np.matmul(x, w)  # [n_rows, n_in] @ [n_panels, n_in, PANEL] -> [n_panels, n_rows, PANEL]
    return out.transpose(1, 0, 2).reshape(x.shape[0], -1)[:, :n_out]  # -> [n_rows, n_panels * PANEL] -> [.., n_out]


class Linear:
    """One thread's share of a linear layer, as panels; no bias where the bias is added after the sum."""

    def __init__(self):
        self.w = self.b = None

    def load(self, w, b=None):
        """Copy w [n_in, n_out] and b [n_out] in, into the panels of the last load when it had the same shape."""
        self.w = panels(w, self.w if self.w is not None and self.n_out == w.shape[1] else None)
        self.n_out = w.shape[1]
        self.b = None if b is None else np.array(b, np.float32)

    def __call__(self, x):
        out = panel_matmul(x, self.w, self.n_out)  # [n_rows, n_in] -> [n_rows, n_out]
        if self.b is not None:
            out += self.b
        return out


class Shard:
    """Part `part` of the model: its heads, hidden units and vocabulary, each layer's weights as panels."""

    def __init__(self, config: Config, part: int):
        self.part, n_embd, d_head = part, config.n_embd, config.d_head
        self.heads = split(config.n_head, part)  # this part's heads
        self.qkv_columns = np.concatenate(  # the q, k and v columns of these heads in c_attn [n_embd, 3 * n_embd]
            [np.arange(j * n_embd + self.heads.start * d_head, j * n_embd + self.heads.stop * d_head) for j in range(3)]
        )
        self.z_rows = slice(self.heads.start * d_head, self.heads.stop * d_head)  # their rows in attn.c_proj
        self.units = split(config.d_mlp, part)  # this part's hidden units: columns of c_fc, rows of mlp.c_proj
        self.vocab = split(config.n_vocab, part)  # this part's tokens
        self.layers = [{name: Linear() for name in ("c_attn", "attn.c_proj", "c_fc", "mlp.c_proj")}
                       for _ in range(config.n_layer)]  # fmt: skip
        self.head = Linear()

    def load(self, params: dict):
        """Copy this part of every weight matrix in, as panels."""
        for h, w in zip(params["h"], self.layers):
            c_attn, c_fc = h["attn"]["c_attn"], h["mlp"]["c_fc"]
            w["c_attn"].load(c_attn["w"][:, self.qkv_columns], c_attn["b"][self.qkv_columns])
            w["attn.c_proj"].load(h["attn"]["c_proj"]["w"][self.z_rows])
            w["c_fc"].load(c_fc["w"][:, self.units], c_fc["b"][self.units])
            w["mlp.c_proj"].load(h["mlp"]["c_proj"]["w"][self.units])
        head = params.get("lm_head", params["wte"])  # [n_vocab, n_embd]
        self.head.load(head[self.vocab].T)  # [n_embd, n_vocab / 2] as panels


class TwoThreads:
    """The model split in two `Shard`s, run by the calling thread and one helper thread.

    The panels are a copy: `load(params)` before each generation, so that it sees the weights as they are then.
    A second load reuses the first one's memory, which makes it a copy (about 0.1 s for gpt2) rather than an
    allocation (about 1 s: the operating system hands out fresh pages one by one)."""

    def __init__(self, config: Config, controller):
        self.config, self.controller = config, controller
        self.shards = [Shard(config, part) for part in range(N_PARTS)]
        self.params = None

    def load(self, params: dict):
        self.params = params
        for shard in self.shards:
            shard.load(params)

    def last_logits(self, ids, positions, mask, cache) -> np.ndarray:
        """Like `model.lm_head(model.hidden_states(...)[:, -1])`: token ids [n_batch, n_seq] -> the logits of each
        row's last position [n_batch, n_vocab]. Extends every layer of `cache` by n_seq positions."""
        x = self.params["wte"][ids] + self.params["wpe"][positions]  # the residual stream: [n_batch, n_seq, n_embd]
        partial = [None] * N_PARTS  # where the threads leave their partial sums
        logits = np.empty((ids.shape[0], self.config.n_vocab), np.float32)  # [n_batch, n_vocab]
        barrier = threading.Barrier(N_PARTS)
        errors = []

        def run(part):
            try:
                self._run(part, x, mask, cache, partial, barrier, logits)
            except threading.BrokenBarrierError:
                pass  # the other thread failed: its error is the one to report
            except BaseException as error:  # noqa: BLE001 - handed to the caller below
                errors.append(error)
                barrier.abort()  # wakes the other thread, so neither waits for ever

        helper = threading.Thread(target=run, args=(1,), name="gptlite-parallel", daemon=True)
        with self.controller.limit(limits=1, user_api="blas"):  # idle OpenBLAS workers would spin on a core
            helper.start()
            run(0)
            helper.join()
        if errors:
            raise errors[0]
        for layer in cache.layers:
            layer.length += ids.shape[1]  # each thread wrote its heads at the same new positions
        return logits

    def _run(self, part, x, mask, cache, partial, barrier, logits):
        """Thread `part`'s whole forward pass over its shard, from the embeddings x [n_batch, n_seq, n_embd], which
        both threads read and neither writes: each makes its own residual stream from them."""
        config, shard = self.config, self.shards[part]
        n_batch, n_seq, n_embd = x.shape
        eps, activation = config.layer_norm_epsilon, ACTIVATIONS[config.activation]
        n_heads = shard.heads.stop - shard.heads.start

        def all_reduce(mine, bias):
            """Both parts' partial sums [n_batch * n_seq, n_embd], added in the same order in both threads."""
            partial[part] = mine
            barrier.wait()
            total = partial[0] + partial[1]  # [n_batch * n_seq, n_embd]
            total += bias
            barrier.wait()  # neither thread may overwrite its partial sum before the other has read it
            return total.reshape(n_batch, n_seq, n_embd)

        for i, (h, w, layer_cache) in enumerate(zip(self.params["h"], shard.layers, cache.layers)):
            normalized = layer_norm(x, **h["ln_1"], eps=eps).reshape(n_batch * n_seq, n_embd)
            qkv = w["c_attn"](normalized)  # [n_batch * n_seq, 3 * n_heads * d_head]
            qkv = qkv.reshape(n_batch, n_seq, 3, n_heads, config.d_head)
            q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # -> 3 x [n_batch, n_heads, n_seq, d_head]
            k, v = layer_cache.write(k, v, shard.heads)  # -> 2 x [n_batch, n_heads, n_kv, d_head]
            z = attention(q, k, v, mask, attention_scale(config, i))  # [n_batch, n_heads, n_seq, d_head]
            z = z.transpose(0, 2, 1, 3).reshape(n_batch * n_seq, n_heads * config.d_head)
            x = x + all_reduce(w["attn.c_proj"](z), h["attn"]["c_proj"]["b"])  # resid_mid [n_batch, n_seq, n_embd]
            normalized = layer_norm(x, **h["ln_2"], eps=eps).reshape(n_batch * n_seq, n_embd)
            post = activation(w["c_fc"](normalized))  # [n_batch * n_seq, d_mlp / 2]
            x = x + all_reduce(w["mlp.c_proj"](post), h["mlp"]["c_proj"]["b"])  # resid_post
        last = layer_norm(x[:, -1], **self.params["ln_f"], eps=eps)  # [n_batch, n_embd]
        logits[:, shard.vocab] = shard.head(last)  # [n_batch, n_embd] -> this part's [n_batch, n_vocab / 2]
