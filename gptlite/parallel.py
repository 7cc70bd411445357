"""The model on two cores: tensor parallelism, Megatron-LM style.

Source: Shoeybi et al. 2019, "Megatron-LM: Training Multi-Billion Parameter
Language Models Using Model Parallelism", Section 3 (how to split a
transformer's layers so that each needs only one sum of partial results).

Why. Two passes leave one of the two cores idle when NumPy runs them alone:
* A decode step of a batch multiplies a handful of rows (one per sequence) by
  every weight matrix, and so does a pass verifying a few proposed tokens
  (speculative decoding). With a few rows the cost is reading the weights, not
  the arithmetic. With 2 to about a hundred rows, multi-threaded OpenBLAS first
  copies ("packs") each weight matrix, and reads it at a fraction of the speed
  it reads it for a single row.
* A long prompt, or a window being scored, spends about half of its time in
  element-wise work (gelu, softmax, layer norm, attention's small products),
  which NumPy runs on one core while the other waits.
Here two Python threads each own half of every layer, and each runs its half
through single-threaded OpenBLAS and NumPy, which releases the GIL inside both.

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

The two threads meet at a barrier after each c_proj. The residual stream is
one array that both read; each thread adds the two partial sums (and the bias)
to half of its positions and runs the next layer norm over those, so neither
normalises what the other does ("sequence parallelism": Korthikanti et al.
2022, Section 4.2.2); a second barrier, and both go on with the whole of it.

Each thread's part of a matrix is a view of the checkpoint's (columns or rows
of it): nothing is copied, except for passes over 2 to 127 rows: a batch's
decode steps, and speculative decoding's passes that verify proposed tokens.
For those, each part is copied into column panels [n_panels, n_in, PANEL] (64
columns, 192 KB for n_in = 768), and `panel_matmul` multiplies each panel by
the rows in chunks, each product small enough (at most SMALL_PRODUCT
multiply-adds) for OpenBLAS's small-matrix kernel, which skips the packing
step. The panels are a second layout of the weights, as big as the first: made
the first time such a pass runs, and kept.
Each generation copies the weights in afresh, so that edits to them count,
except where they are a file mapped read-only: a float32 model loaded from
gptlite's layout or a safetensors file (not a `gpt.copy()` of it, nor one
widened from float16 or read from a .bin). The process cannot write to that
memory, and gptlite replaces its files whole, never in place, so those panels
are copied once. (The converted layout stores each `c_proj` transposed, and
NumPy copies a transposed matrix into panels several times slower: about 75
ms a generation for gpt2, were it redone.)

Where it runs: by rule, never by timing (`runs`). The path computes the architectures and Config values listed
in COMPUTES; any other model runs model.py's path. It runs the passes it was measured faster at on two-core
machines (AMD EPYC Zen 4 and Zen 5, Intel Sapphire Rapids): passes over PREFILL_ROWS positions or more, and,
where OpenBLAS's kernels have the small-matrix path (`panels_pay`), passes of the "rows" kind (`kind`: 2 to 16
rows on all three; since the rows go in chunks, up to 127 on Zen 5 and on an Intel Xeon, where only batch-1
verifying passes of 96 positions and more ran slower than in model.py, which took 0.8x their time); one row's
decode step and short prompts stay in model.py. And it runs where the process may use exactly two cores: with
more, OpenBLAS's own threads use them all, and two single-threaded halves were never measured against that.
GPTLITE_PARALLEL=on runs it wherever it can compute the model; =off (or 0) never. It also needs threadpoolctl,
to hold OpenBLAS to one thread (`pip install "gptlite[fast]"`). The plain path is the reference: the tests
check this one against it. Because the choice depends only on the machine, the model and the shape of a pass,
a seeded generation takes the same path, and gives the same tokens, every time it runs on the same machine.
"""

import functools
import os
import threading
from contextlib import contextmanager
from dataclasses import fields

import numpy as np

from .model import ACTIVATIONS, Config, attention, attention_scale, head_weight, layer_norm

PANEL = 64  # columns per panel: powers of two from 16 to 64 were fastest in measurements, 128 and up slower
PREFILL_ROWS = 128  # passes over this many positions or more run on views; fewer: see `kind`
# OpenBLAS gives products of at most this many multiply-adds (M x N x K) its small-matrix kernel, which reads
# the matrices as they are; larger ones are first packed (its kernel/x86_64/sgemm_small_kernel_permit_skylakex.c)
SMALL_PRODUCT = 100**3
N_PARTS = 2

# Every field of model.Config, with the values this path computes (None: all of them). `_blocks` below composes
# model.block's pre-LN order itself, so a model with any value not listed runs model.py's path instead, and
# test_parallel fails when Config gains a field that is not listed here: a new option must be declared, and
# tested against model.py, before this path computes it.
COMPUTES = {
    "n_vocab": None, "n_ctx": None, "n_embd": None, "n_head": None, "n_layer": None, "n_inner": None,
    "activation": None, "layer_norm_epsilon": None, "scale_attn_weights": None,
    "scale_attn_by_inverse_layer_idx": None, "tie_word_embeddings": None,
    "layer_norm": {"pre"},  # `_blocks` composes GPT-2's pre-LN block and ln_f; GPT-1's post-LN runs model.py's
}  # fmt: skip


@functools.cache
def threadpool_controller():
    """threadpoolctl's controller, or None where threadpoolctl is not installed."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def setting() -> str:
    """GPTLITE_PARALLEL from the environment: "auto" (the default: where the rule in `runs` says), "on" (also 1:
    wherever this path computes the model) or "off" (also 0: never)."""
    value = os.environ.get("GPTLITE_PARALLEL", "auto").strip().lower()
    value = {"1": "on", "0": "off", "": "auto"}.get(value, value)
    if value not in ("auto", "on", "off"):
        raise ValueError(f"GPTLITE_PARALLEL must be auto, on or off (or 1 / 0), got {value[:40]!r}")
    return value


def computes(config: Config) -> bool:
    """Whether this path computes the model: every Config field declared in COMPUTES with its value, and heads
    to split in two."""
    declared = all(
        f.name in COMPUTES and (COMPUTES[f.name] is None or getattr(config, f.name) in COMPUTES[f.name])
        for f in fields(config)
    )
    return declared and config.n_head >= N_PARTS


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it, else all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def available(config: Config) -> bool:
    """Whether this path can run the model at all: it computes it, threadpoolctl is there, two cores or more,
    and GPTLITE_PARALLEL is not off."""
    return (
        computes(config) and threadpool_controller() is not None and usable_cores() >= N_PARTS and (setting() != "off")
    )


def kind(n_batch: int, n_seq: int, every_position: bool = False) -> str | None:
    """Which kind of pass this is for the two-thread path: "prefill" (PREFILL_ROWS positions or more), "rows"
    (2 to PREFILL_ROWS - 1 in all: a decode step of a batch, one new position a row; or, with logits at every
    position, a pass verifying proposed tokens), or None (one row's decode step, or a short prompt: model.py's).
    A short prompt is not of the "rows" kind, though its shape may be a verifying pass's: the panels double the
    memory the weights take, and one row's decode steps would not use them."""
    n_rows = n_batch * n_seq
    if n_rows >= PREFILL_ROWS:
        return "prefill"
    return "rows" if n_rows >= 2 and (n_seq == 1 or every_position) else None


# OpenBLAS's kernels with a path for small matrices, which the panels are shaped for (x86-64: its AVX-512 ones).
SMALL_MATRIX_KERNELS = {"SkylakeX", "Cooperlake", "SapphireRapids"}


@functools.cache
def panels_pay() -> bool:
    """Whether OpenBLAS runs kernels with a small-matrix path here (`SMALL_MATRIX_KERNELS`, by the name it reports
    through threadpoolctl): only there do panels skip the packing step. Elsewhere a pass of the "rows" kind runs
    model.py's: with OpenBLAS's AVX2 kernels ("Haswell") the panels measured 0.85-1.02x model.py for a batch's
    decode steps (AMD EPYC Zen 2; Zen 5 under OPENBLAS_CORETYPE=Haswell), and 0.64-1.0x for verifying passes."""
    controller = threadpool_controller()
    return controller is not None and any(
        info.get("internal_api") == "openblas" and info.get("architecture") in SMALL_MATRIX_KERNELS
        for info in controller.info()
    )


def runs(config: Config, n_batch: int, n_seq: int, every_position: bool = False) -> bool:
    """The rule: whether a pass over n_batch x n_seq new positions of this model (with logits at every position
    or not) runs here rather than in model.py. Where the path is available (`available`) and the pass is of a
    kind it was measured faster at (`kind`; the "rows" kind only where `panels_pay`): with GPTLITE_PARALLEL=on
    always, by default where the process may use exactly two cores."""
    pass_kind = kind(n_batch, n_seq, every_position)
    if pass_kind is None or not available(config):
        return False
    if setting() == "on":
        return True
    return usable_cores() == N_PARTS and (pass_kind != "rows" or panels_pay())


_blas_lock = threading.Lock()
_blas_users = 0  # passes running on two threads now, in all threads of the process
_blas_restore = None  # what restores OpenBLAS's threads when the last of them ends


@contextmanager
def one_blas_thread():
    """OpenBLAS held to one thread while any two-thread pass runs. Passes from several threads of a program may
    overlap; the first to start sets the limit and the last to end restores what was there before (nested
    threadpoolctl contexts left in another order than they came would restore the wrong value)."""
    global _blas_users, _blas_restore
    with _blas_lock:
        if _blas_users == 0:
            _blas_restore = threadpool_controller().limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_restore.restore_original_limits()
                _blas_restore = None


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
    """x [n_rows, n_in] @ the matrix that `panels` made w from -> [n_rows, n_out].

    One product per panel and chunk of rows, [n_chunk, n_in] @ [n_in, PANEL], each small enough for OpenBLAS's
    small-matrix kernel (`SMALL_PRODUCT`); the chunks are the inner loop, so a panel is read from memory once
    and meets every chunk while it is in cache."""
    chunks = row_chunks(x)  # [n_chunks, n_chunk, n_in]
    n_chunks, n_chunk, _ = chunks.shape
    # [n_chunks, n_chunk, n_in] @ [n_panels, 1, n_in, PANEL] -> [n_panels, n_chunks, n_chunk, PANEL]
    out = np.matmul(chunks, w[:, None])
    out = out.transpose(1, 2, 0, 3).reshape(n_chunks * n_chunk, -1)  # -> [n_chunks * n_chunk, n_panels * PANEL]
    return out[: x.shape[0], :n_out]  # -> [n_rows, n_out]


def row_chunks(x: np.ndarray) -> np.ndarray:
    """x [n_rows, n_in] -> [n_chunks, n_chunk, n_in]: as few chunks as keep n_chunk x n_in x PANEL within
    SMALL_PRODUCT, of equal size, the last padded with rows of zeros (their products are dropped)."""
    n_rows, n_in = x.shape
    n_chunks = -(-n_rows // max(1, SMALL_PRODUCT // (n_in * PANEL)))
    n_chunk = -(-n_rows // n_chunks)
    if n_chunks * n_chunk == n_rows:
        return x.reshape(n_chunks, n_chunk, n_in)  # a view where x is contiguous
    padded = np.zeros((n_chunks * n_chunk, n_in), np.float32)  # [n_chunks * n_chunk, n_in]
    padded[:n_rows] = x
    return padded.reshape(n_chunks, n_chunk, n_in)


def read_only_map(a: np.ndarray) -> bool:
    """Whether a is a view of a file mapped read-only (how float32 safetensors weights load): memory the process
    cannot write to. (Another program writing into the file in place would change it; gptlite never does.)"""
    while not isinstance(a, np.memmap):
        if not isinstance(a, np.ndarray) or a.base is None:
            return False
        a = a.base
    return a.mode == "r"


def same_view(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a and b are views of the same bytes: the same start, shape, strides and dtype."""
    return (a.__array_interface__["data"][0], a.shape, a.strides, a.dtype) == (
        b.__array_interface__["data"][0], b.shape, b.strides, b.dtype)  # fmt: skip


class Linear:
    """One thread's share of a linear layer: w, its part of the checkpoint's matrix [n_in, n_out] as a view (no
    copy), and b [n_out] (None where the bias is added after the sum); for passes over a few rows, the same part
    copied into panels."""

    def __init__(self):
        self.w = self.b = self.panels = None
        self.panels_current = False  # whether the panels hold what w holds now

    def load(self, w, b=None):
        """Point at w and b as they are now. Panels copied from the same read-only memory map stay current."""
        unchanged = self.w is not None and same_view(self.w, w) and read_only_map(w)
        self.w, self.b, self.panels_current = w, b, self.panels_current and unchanged

    def copy_panels(self):
        """Copy w into panels, into those of an earlier copy when it had the same shape (a copy, not a new
        allocation: the operating system hands out fresh pages one by one, which takes ten times longer)."""
        same = self.panels is not None and self.panels.shape[:2] == (-(-self.w.shape[1] // PANEL), self.w.shape[0])
        self.panels = panels(self.w, self.panels if same else None)
        self.panels_current = True

    def __call__(self, x, out=None, in_panels=False):
        """x [n_rows, n_in] -> x @ w + b [n_rows, n_out], into `out` if given (it may be a slice of a wider array);
        in_panels: through the panels (in a pass of the "rows" kind), copied first where they are not current."""
        if in_panels:
            if not self.panels_current:
                self.copy_panels()
            product = panel_matmul(x, self.panels, self.w.shape[1])  # [n_rows, n_in] -> [n_rows, n_out]
            if out is None:
                out = product
            else:
                out[:] = product
        else:
            out = np.matmul(x, self.w, out=out)  # [n_rows, n_in] @ [n_in, n_out] -> [n_rows, n_out]
        if self.b is not None:
            out += self.b
        return out


class Shard:
    """Part `part` of the model: its heads, hidden units and vocabulary, each as a `Linear` per weight matrix."""

    def __init__(self, config: Config, part: int):
        self.heads = split(config.n_head, part)  # this part's heads
        d_head = config.d_head
        self.z_rows = slice(self.heads.start * d_head, self.heads.stop * d_head)  # their rows of attn.c_proj
        self.units = split(config.d_mlp, part)  # this part's hidden units: columns of c_fc, rows of mlp.c_proj
        self.vocab = split(config.n_vocab, part)  # this part's tokens
        self.layers = [{name: Linear() for name in ("q", "k", "v", "attn.c_proj", "c_fc", "mlp.c_proj")}
                       for _ in range(config.n_layer)]  # fmt: skip
        self.head = Linear()

    def load(self, params: dict):
        """Point every Linear at this part of the weights as they are now (views: nothing is copied)."""
        n_embd = params["wte"].shape[1]
        for h, w in zip(params["h"], self.layers):
            c_attn, c_fc = h["attn"]["c_attn"], h["mlp"]["c_fc"]
            for i, name in enumerate("qkv"):  # c_attn's columns: [q of every head | k of every head | v ...]
                columns = slice(i * n_embd + self.z_rows.start, i * n_embd + self.z_rows.stop)
                w[name].load(c_attn["w"][:, columns], c_attn["b"][columns])
            w["attn.c_proj"].load(h["attn"]["c_proj"]["w"][self.z_rows])
            w["c_fc"].load(c_fc["w"][:, self.units], c_fc["b"][self.units])
            w["mlp.c_proj"].load(h["mlp"]["c_proj"]["w"][self.units])
        self.head.load(head_weight(params)[self.vocab].T)  # [n_embd, n_vocab / 2]


class TwoThreads:
    """The model split in two `Shard`s, run by the calling thread and one helper thread.

    `load(params)` before each generation or scoring call points the shards at the weights as they are then, so
    that edits to them count; the first pass of the "rows" kind after a load copies them into panels (except
    where the panels already hold the same read-only memory map: `Linear.load`)."""

    def __init__(self, config: Config):
        self.config = config
        self.shards = [Shard(config, part) for part in range(N_PARTS)]
        self.params = None

    def load(self, params: dict):
        self.params = params
        for shard in self.shards:
            shard.load(params)

    def last_logits(self, ids, positions, mask, cache) -> np.ndarray:
        """Like `model.lm_head(model.hidden_states(...)[:, -1])`: token ids [n_batch, n_seq] -> the logits of each
        row's last position [n_batch, n_vocab]. Extends every layer of `cache` by n_seq positions."""
        logits = np.empty((ids.shape[0], self.config.n_vocab), np.float32)  # [n_batch, n_vocab]

        def head(part, hidden, in_panels):  # each thread: its half of the vocabulary, as the pass's blocks ran
            shard = self.shards[part]
            shard.head(hidden[:, -1], out=logits[:, shard.vocab], in_panels=in_panels)  # -> [n_batch, n_vocab / 2]

        self._forward(ids, positions, mask, cache, then=head)
        return logits

    def hidden_states(self, ids, positions, mask, cache, every_position=False) -> np.ndarray:
        """Like `model.hidden_states`: token ids [n_batch, n_seq] -> final normalised hidden states
        [n_batch, n_seq, n_embd]. Extends every layer of `cache` by n_seq positions. every_position: the head
        will read every position (`kind`)."""
        return self._forward(ids, positions, mask, cache, every_position=every_position)

    def logits(self, x) -> np.ndarray:
        """Like `model.lm_head`: final hidden states [n, n_embd] -> logits [n, n_vocab], a half on each thread."""
        logits = np.empty((x.shape[0], self.config.n_vocab), np.float32)  # [n, n_vocab]
        in_panels = kind(x.shape[0], 1, every_position=True) == "rows"  # the pass whose positions these are

        def head(part):
            shard = self.shards[part]
            shard.head(x, out=logits[:, shard.vocab], in_panels=in_panels)  # [n, n_embd] -> [n, n_vocab / 2]

        self._in_two_threads(head)
        return logits

    def _forward(self, ids, positions, mask, cache, then=None, every_position=False):
        """Both threads' pass through the blocks -> the final normalised hidden states [n_batch, n_seq, n_embd];
        then, if given, each thread calls then(part, hidden states, in_panels), and may read the states whole;
        in_panels: whether this pass's products went through the panels (a pass of the "rows" kind)."""
        in_panels = kind(*ids.shape, every_position) == "rows"
        n_embd = self.config.n_embd
        x = self.params["wte"][ids] + self.params["wpe"][positions]  # the residual stream: [n_batch, n_seq, n_embd]
        x = x.reshape(-1, n_embd)  # one row per position: [n_rows, n_embd], shared by both threads
        normalized = np.empty_like(x)  # what the next sub-layer reads: x through its layer norm [n_rows, n_embd]
        hidden = normalized.reshape(*ids.shape, n_embd)  # after the last block, ln_f: [n_batch, n_seq, n_embd]
        norms = [h[name] for h in self.params["h"] for name in ("ln_1", "ln_2")] + [self.params["ln_f"]]
        partial = [None] * N_PARTS  # where the threads leave their partial sums
        barrier = threading.Barrier(N_PARTS)

        def work(part):
            self._blocks(part, ids.shape, x, normalized, norms, mask, cache, partial, barrier, in_panels)
            if then is not None:
                then(part, hidden, in_panels)

        self._in_two_threads(work, barrier)
        for layer in cache.layers:
            layer.length += ids.shape[1]  # each thread wrote its heads at the same new positions
        return hidden

    def _in_two_threads(self, work, barrier=None):
        """work(0) in the calling thread and work(1) in a helper, at once, with OpenBLAS held to one thread. An
        error in either is raised here, in the caller's thread; `barrier`, the one `work` waits at, if any, is
        broken so that the other thread does not wait for ever. Even when interrupted (Ctrl-C), this returns
        only once the helper has stopped: no thread is left behind at the barrier or writing to the arrays."""
        errors = []

        def run(part):
            try:
                work(part)
            except threading.BrokenBarrierError:
                pass  # the other thread failed: its error is the one to report
            except BaseException as error:  # noqa: BLE001 - handed to the caller below
                errors.append(error)
                if barrier is not None:
                    barrier.abort()  # wakes the other thread

        helper = threading.Thread(target=run, args=(1,), name="gptlite-parallel", daemon=True)
        with one_blas_thread():  # idle OpenBLAS workers would spin on a core
            helper.start()
            try:
                run(0)
                helper.join()
            except BaseException:  # an interrupt between the two: stop the helper before going on
                if barrier is not None:
                    barrier.abort()
                helper.join()
                raise
        if errors:
            raise errors[0]

    def _blocks(self, part, shape, x, normalized, norms, mask, cache, partial, barrier, in_panels):
        """Thread `part`'s pass through every block on its shard. x, the residual stream [n_rows, n_embd], and
        normalized, x through the layer norm of the sub-layer to come, are shared: each thread adds to and
        normalises its own half of the rows, and the barrier then makes the whole of `normalized` visible to both.
        in_panels: every product goes through the panels (`Linear`)."""
        config, shard = self.config, self.shards[part]
        (n_batch, n_seq), n_heads = shape, shard.heads.stop - shard.heads.start
        rows = split(x.shape[0], part)  # the positions this thread adds to and normalises
        layer_norms = iter(norms)  # ln_1 and ln_2 of each block, in order, then ln_f

        def add_and_normalize(mine=None, bias=None):
            """x += the sum of both parts' partial sums [n_rows, n_embd] and the bias; then normalized = the next
            layer norm of x. Each thread on its rows; the barriers keep the two in step."""
            if mine is not None:
                partial[part] = mine
                barrier.wait()  # both partial sums are there
                total = partial[0][rows] + partial[1][rows]  # [n_rows / 2, n_embd]
                total += bias
                x[rows] += total
            normalized[rows] = layer_norm(x[rows], **next(layer_norms), eps=config.layer_norm_epsilon)
            barrier.wait()  # all of normalized is there; neither partial sum will be read again

        def heads(projected):  # [n_rows, n_heads * d_head] -> [n_batch, n_heads, n_seq, d_head]
            return projected.reshape(n_batch, n_seq, n_heads, config.d_head).transpose(0, 2, 1, 3)

        activation = ACTIVATIONS[config.activation]
        add_and_normalize()  # ln_1 of the first block
        for i, (h, w, layer_cache) in enumerate(zip(self.params["h"], shard.layers, cache.layers)):
            q, k, v = (heads(w[name](normalized, in_panels=in_panels)) for name in "qkv")
            k, v = layer_cache.write(k, v, shard.heads)  # -> 2 x [n_batch, n_heads, n_kv, d_head]
            z = attention(q, k, v, mask, attention_scale(config, i))  # [n_batch, n_heads, n_seq, d_head]
            z = z.transpose(0, 2, 1, 3).reshape(n_batch * n_seq, n_heads * config.d_head)  # [n_rows, n_embd / 2]
            add_and_normalize(w["attn.c_proj"](z, in_panels=in_panels), h["attn"]["c_proj"]["b"])  # resid_mid; ln_2
            post = activation(w["c_fc"](normalized, in_panels=in_panels))  # [n_rows, d_mlp / 2]
            # x is resid_post; then the next block's ln_1, or ln_f after the last
            add_and_normalize(w["mlp.c_proj"](post, in_panels=in_panels), h["mlp"]["c_proj"]["b"])
