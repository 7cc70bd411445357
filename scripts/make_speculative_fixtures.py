"""Make the fixtures that test gptlite's speculative decoding against transformers' (tests/test_speculative.py).

transformers' greedy outputs, on the random fixture models in the hub layout that scripts/make_fixtures.py
wrote: `depth6` (6 layers) is the target and `f16` (2 layers, the same 1,000-token vocabulary, its float16
weights read as float32) the draft. For each prompt and each set of processors: plain greedy
(`generate(do_sample=False)`), prompt lookup decoding (`prompt_lookup_num_tokens=3`, the default
`max_matching_ngram_size`) and assisted generation (`assistant_model=`), at batch 1, which is all that
transformers' speculative decoding supports. Prompts: random ones, and random ones that repeat a phrase, so
that lookup finds matches. Run with the reference environment:

    .venv-ref/bin/python scripts/make_speculative_fixtures.py    # writes tests/fixtures/speculative.npz
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import GPT2LMHeadModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gptlite.files import atomic_write  # noqa: E402

MODELS = ROOT / "tests" / "fixtures" / "models"
OUT = ROOT / "tests" / "fixtures" / "speculative.npz"
N_NEW = 40
OPTIONS = {"plain": {}, "repetition_penalty": {"repetition_penalty": 1.3},
           "no_repeat_ngram_size": {"no_repeat_ngram_size": 3}}  # fmt: skip
WAYS = {"greedy": {}, "lookup": {"prompt_lookup_num_tokens": 3}, "assisted": {"assistant_model": None}}


def load(name):
    return GPT2LMHeadModel.from_pretrained(MODELS / name, attn_implementation="eager", dtype=torch.float32).eval()


def prompts(n_vocab):
    rng = np.random.default_rng(19)
    random = [rng.integers(0, n_vocab, 12) for _ in range(3)]
    phrases = [rng.integers(0, n_vocab, 5) for _ in range(3)]
    repeating = [np.concatenate([p, rng.integers(0, n_vocab, 2), p]) for p in phrases]  # 12 tokens each
    return np.stack(random + repeating)


def continuation(model, prompt, **options):
    ids = torch.tensor(prompt[None])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=N_NEW,
                             min_new_tokens=N_NEW, pad_token_id=0, **options)  # fmt: skip
    return out[0, len(prompt) :].numpy()


def main():
    target, draft = load("depth6"), load("f16")
    arrays = {"prompts": prompts(target.config.vocab_size)}
    for option, processors in OPTIONS.items():
        for way, speculative in WAYS.items():
            speculative = {k: draft if k == "assistant_model" else v for k, v in speculative.items()}
            arrays[f"{way}-{option}"] = np.stack([continuation(target, p, **processors, **speculative)
                                                  for p in arrays["prompts"]])  # fmt: skip
    with atomic_write(OUT) as f:
        np.savez(f, **arrays)
    agree = {k: bool((v == arrays[f"greedy-{k.split('-', 1)[1]}"]).all()) for k, v in arrays.items() if "-" in k}
    print(json.dumps({"wrote": str(OUT.relative_to(ROOT)), "equal to plain greedy": agree}, indent=1))


if __name__ == "__main__":
    main()
