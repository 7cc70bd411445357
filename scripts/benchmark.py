"""Benchmark gptlite: prefill, decode, batching, time to first token, memory, tokenizer, and the roofline.

    python scripts/benchmark.py                      # gpt2 (124M) shapes, seeded random weights, no download
    python scripts/benchmark.py --model gpt2         # real weights, by name or directory
    python scripts/benchmark.py --json               # one JSON object instead of the table

Decoding one token streams every weight matrix once, so its floor is the time of
the bare `x @ W` products over exactly the model's matrices ("roofline"), measured
in the same run. When torch and transformers are importable (run it from their
virtual environment), Hugging Face's GPT2LMHeadModel runs the same weights with
the same threads and prompts, interleaved with gptlite, and the table shows
gptlite/HF ratios.

Rates are medians over --repeats runs. Decode rates exclude prefill: (N - 1) tokens
over t(prompt + N tokens) - t(prompt + 1 token).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import unittest.mock
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="a model name or directory (default: gpt2 shapes with random weights)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS / torch threads (default: all cores)")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is reported (default: 3)")
    p.add_argument("--no-hf", action="store_true", help="skip Hugging Face transformers even if it is installed")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy is imported
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from gptlite import GPT, Config, Tokenizer  # noqa: E402
from gptlite.model import flatten, init_params  # noqa: E402
from gptlite.releases import GPT2_VOCAB  # noqa: E402
from gptlite.scoring import perplexity  # noqa: E402
from gptlite.weights.checkpoint import save_converted  # noqa: E402

try:
    if ARGS.no_hf:
        raise ImportError("--no-hf")
    import torch

    from hf_reference import hf_from_gptlite

    torch.set_num_threads(ARGS.threads)
    HF_REASON = None
except ImportError as e:
    torch, HF_REASON = None, str(e)


def median_time(fn, repeats=ARGS.repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class Runner:
    """Generation with gptlite or Hugging Face, one call each, so both are timed the same way."""

    def __init__(self, gpt, hf):
        self.gpt, self.hf = gpt, hf

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


def prompts_of(n_batch, n_tokens, n_vocab):
    return np.random.default_rng(n_batch * 1000 + n_tokens).integers(0, n_vocab, (n_batch, n_tokens)).tolist()


def measure(runner, results, key, prompts, n_new, plain=False):
    """Median seconds of generating n_new tokens after prompts, for gptlite and (if present) HF, interleaved;
    plain: also gptlite without its two-thread batch path."""
    libs = ["gptlite"] + ["gptlite_plain"] * plain + ["transformers"] * (runner.hf is not None)
    for lib in libs:
        fn = getattr(runner, lib)(prompts, n_new)
        fn()  # warm-up
        results.setdefault(lib, {})[key] = median_time(fn)
    return results


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

    rates = {}
    for lib, fn in [("gptlite", gptlite)] + ([("transformers", transformers)] if runner.hf is not None else []):
        fn()  # warm-up
        rates[lib] = n_scored[lib] / median_time(fn)
    return rates


def decode_rate(runner, n_batch, n_prompt, n_new, n_vocab):
    prompts = prompts_of(n_batch, n_prompt, n_vocab)
    t_one = measure(runner, {}, "t", prompts, 1, plain=n_batch > 1)
    t_all = measure(runner, {}, "t", prompts, n_new, plain=n_batch > 1)
    return {lib: n_batch * (n_new - 1) / (t_all[lib]["t"] - t_one[lib]["t"]) for lib in t_all}


def roofline(params):
    """Seconds for one x @ W over every weight matrix (and the tied head), as one decoded token needs."""
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

    run()
    return median_time(run, max(ARGS.repeats, 5)), sum(w.nbytes for w in mats) + params["wte"].nbytes


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
        "english": (ROOT / "scripts" / "bench_data" / "hamlet.md").read_text(encoding="utf-8"),
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


def main():
    with tempfile.TemporaryDirectory() as tmp:
        if ARGS.model:
            gpt = GPT.from_pretrained(ARGS.model)
            model_dir = ARGS.model
        else:  # gpt2's shapes, written in gptlite's layout and loaded the normal way (memory-mapped)
            config = Config()
            save_converted(tmp, config, flatten(init_params(config, seed=0)), GPT2_VOCAB, "benchmark")
            gpt, model_dir = GPT.from_pretrained(tmp), tmp
        config, params = gpt.config, gpt.params
        hf = hf_from_gptlite(config, params, "sdpa") if torch is not None else None
        runner = Runner(gpt, hf)
        r = {
            "config": config.__dict__,
            "threads": ARGS.threads,
            "repeats": ARGS.repeats,
            "hf": HF_REASON or f"transformers GPT2LMHeadModel, torch {torch.__version__}",
        }
        r["weights_mb"] = sum(a.nbytes for a in flatten(params).values()) / 1e6
        for n in (16, 128, 512):
            t = measure(runner, {}, "t", prompts_of(1, n, config.n_vocab), 1)
            r[f"prefill_{n}"] = {lib: n / v["t"] for lib, v in t.items()}
        r["scoring"] = scoring_rate(runner, 4 * config.n_ctx, config.n_ctx, config.n_ctx // 2)
        r["decode_short"] = decode_rate(runner, 1, 16, 128, config.n_vocab)
        r["decode_long"] = decode_rate(runner, 1, 900, 100, config.n_vocab)
        for b in (4, 8):
            r[f"decode_batch_{b}"] = decode_rate(runner, b, 16, 64, config.n_vocab)
        roof_s, roof_bytes = roofline(params)
        r["roofline"] = {
            "ms_per_token": roof_s * 1e3,
            "gb_per_s": roof_bytes / roof_s / 1e9,
            "decode_share": roof_s * r["decode_short"]["gptlite"],
        }
        wall, ttft, rss, rss_batch = fresh_process(model_dir)
        r["fresh_process"] = {
            "ttft_s": ttft,
            "wall_s_with_128_tokens": wall,
            "peak_rss_mb": rss / 1e6,
            "rss_over_weights": rss / 1e6 / r["weights_mb"],
            "peak_rss_mb_after_batch_8": rss_batch / 1e6,
            "rss_after_batch_over_weights": rss_batch / 1e6 / r["weights_mb"],
        }
        r["tokenizer_mb_per_s"] = tokenizer_rate()
    print(json.dumps(r, indent=2) if ARGS.json else table(r))


def table(r):
    has_hf = "transformers" in r["decode_short"]
    rows = [
        ("prefill, 16-token prompt (tokens/s)", "prefill_16"),
        ("prefill, 128-token prompt (tokens/s)", "prefill_128"),
        ("prefill, 512-token prompt (tokens/s)", "prefill_512"),
        ("decode, batch 1, after 16 tokens (tokens/s)", "decode_short"),
        ("decode, batch 1, after 900 tokens (tokens/s)", "decode_long"),
        ("decode, batch 4, aggregate (tokens/s)", "decode_batch_4"),
        ("decode, batch 8, aggregate (tokens/s)", "decode_batch_8"),
        ("scoring 4 contexts of text, stride half a context (tokens/s)", "scoring"),
    ]
    lines = ["| measurement | gptlite | HF transformers | gptlite / HF |", "|---|---:|---:|---:|"]
    for label, key in rows:
        g = r[key]["gptlite"]
        h = r[key].get("transformers")
        lines.append(f"| {label} | {g:.1f} | {h:.1f} | {g / h:.2f}x |" if has_hf else f"| {label} | {g:.1f} | - | - |")
    roof, fresh, tok = r["roofline"], r["fresh_process"], r["tokenizer_mb_per_s"]
    lines += [
        "",
        "| measurement | value |",
        "|---|---:|",
        "| roofline: bare x @ W over all weights (ms/token) | "
        f"{roof['ms_per_token']:.1f} ({roof['gb_per_s']:.1f} GB/s) |",
        f"| decode at batch 1 as a share of the roofline | {100 * roof['decode_share']:.0f}% |",
        *(
            f"| decode, batch {b}: aggregate / batch 1; two-thread path / model.py alone | "
            f"{r[f'decode_batch_{b}']['gptlite'] / r['decode_short']['gptlite']:.1f}x; "
            f"{r[f'decode_batch_{b}']['gptlite'] / r[f'decode_batch_{b}']['gptlite_plain']:.2f}x "
            f"({r[f'decode_batch_{b}']['gptlite_plain']:.1f} tokens/s alone) |"
            for b in (4, 8)
        ),
        f"| time to first token, fresh process, converted model (s) | {fresh['ttft_s']:.2f} |",
        f"| peak resident memory, 128 tokens (MB) | {fresh['peak_rss_mb']:.0f} "
        f"({fresh['rss_over_weights']:.2f}x the {r['weights_mb']:.0f} MB of weights) |",
        f"| peak resident memory, then a batch of 8 (MB) | {fresh['peak_rss_mb_after_batch_8']:.0f} "
        f"({fresh['rss_after_batch_over_weights']:.2f}x) |",
        f"| tokenizer, cold cache, English / code (MB/s) | {tok['english']:.2f} / {tok['code']:.2f} |",
        "| tokenizer, one long piece: "
        + ", ".join(LONG_PIECES)
        + " (MB/s) | "
        + " / ".join(f"{tok['long ' + name]:.2f}" for name in LONG_PIECES)
        + " |",
        "",
        f"{r['threads']} threads, median of {r['repeats']} runs; HF: {r['hf']}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
