"""Make the reference fixtures that prove gptlite computes what Hugging Face transformers computes.

Needs torch and transformers, in a virtual environment of their own (they are never
gptlite dependencies):

    python -m venv .venv-ref && .venv-ref/bin/pip install torch==2.13.0 transformers tiktoken safetensors
    .venv-ref/bin/python scripts/make_fixtures.py             # writes tests/fixtures/models/
    .venv-ref/bin/python scripts/make_fixtures.py --full-size # the check at gpt2 (124M) size, nothing written

Each fixture is a small randomly initialised GPT-2 (every weight, bias and gain
random) saved the way the hub serves models, plus `reference.npz`: a prompt,
transformers' logits for it, and transformers' 32-token greedy continuation;
`tiny` and `depth6` also get `inside.npz`, transformers' attention patterns and
hidden states for that prompt.
The `xl-heads` fixture (25 heads of 64, gpt2-xl's head shape) is too big to
commit, so its weights are gptlite's seeded `init_params` and only the
reference outputs are saved. `depth6-bin` and `depth6-bin-legacy` hold the
`depth6` weights as torch.save writes them; scripts/make_tf_fixture.py writes
them as a TensorFlow checkpoint.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gptlite import GPT, course  # noqa: E402
from gptlite.model import Config, init_params  # noqa: E402
from gptlite.releases import GPT2_VOCAB  # noqa: E402

from hf_reference import hf_from_gptlite, hf_model, save_hub_layout  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "models"
N_PROMPT, N_NEW = 12, 32


def copy_gpt2_vocab(directory):
    """GPT-2's bundled vocabulary under Hugging Face's file names."""
    shutil.copy(GPT2_VOCAB[0], directory / "vocab.json")
    shutil.copy(GPT2_VOCAB[1], directory / "merges.txt")


def reference(model, n_vocab, seed):
    """Transformers' logits for a random prompt, and its greedy continuation."""
    prompt = np.random.default_rng(seed).integers(0, n_vocab, N_PROMPT)
    ids = torch.tensor(prompt[None])
    with torch.no_grad():
        logits = model(ids).logits[0].numpy()
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=N_NEW,
            min_new_tokens=N_NEW,
            pad_token_id=0,
        )
    return {"prompt": prompt, "logits": logits.astype(np.float32), "greedy": out[0, N_PROMPT:].numpy()}


def make(name, config, seed, dtype=None, hub_layout=False, with_vocab=False):
    directory = OUT / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    model = hf_model(config, seed)
    if dtype is not None:  # store in half precision; the reference is the float32 model of the rounded weights
        model = model.to(dtype).float()
    if hub_layout:
        save_hub_layout(model, directory)
    else:
        model.to(dtype or torch.float32).save_pretrained(directory)
        model = model.float()
    if with_vocab:
        copy_gpt2_vocab(directory)
    np.savez(directory / "reference.npz", **reference(model, config.n_vocab, seed))
    print(f"{name}: {sum(f.stat().st_size for f in directory.iterdir()) / 1e6:.1f} MB")


def make_seeded(name, config, seed):
    directory = OUT / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    model = hf_from_gptlite(config, init_params(config, seed))
    np.savez(directory / "reference.npz", seed=seed, **reference(model, config.n_vocab, seed), **config.__dict__)
    print(f"{name}: seeded weights, reference only")


# GPT2Config options that change the computation, each on a small random model: gptlite must compute them all.
OPTIONS = {
    "gelu": {"activation_function": "gelu"},
    "gelu_pytorch_tanh": {"activation_function": "gelu_pytorch_tanh"},
    "relu": {"activation_function": "relu"},
    "silu": {"activation_function": "silu"},
    "quick_gelu": {"activation_function": "quick_gelu"},
    "n_inner": {"n_inner": 48},
    "layer_norm_epsilon": {"layer_norm_epsilon": 1e-2},
    "no_scale_attn_weights": {"scale_attn_weights": False},
    "scale_attn_by_inverse_layer_idx": {"scale_attn_by_inverse_layer_idx": True},
    "reorder_and_upcast_attn": {"reorder_and_upcast_attn": True, "scale_attn_by_inverse_layer_idx": True},
    "untied_head": {"tie_word_embeddings": False},
}


def make_options():
    """One directory per option under models/options/, as save_pretrained writes it, with reference logits."""
    config = Config(n_vocab=200, n_ctx=64, n_embd=32, n_head=4, n_layer=3)
    for seed, (name, options) in enumerate(OPTIONS.items(), start=10):
        directory = OUT / "options" / name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        model = hf_model(config, seed, weight_std=0.3, **options)  # large enough for every option to matter
        model.save_pretrained(directory)
        np.savez(directory / "reference.npz", **reference(model, config.n_vocab, seed))
    print(f"options: {len(OPTIONS)} models")


def make_inside_reference(name):
    """transformers' attention patterns and hidden states for the fixture `name` and its prompt.

    `output_attentions=True` gives each layer's softmax [n_head, n_seq, n_seq]; `output_hidden_states=True`
    gives n_layer + 1 arrays [n_seq, n_embd]: the input of each block, then the final state after ln_f.
    """
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(OUT / name, attn_implementation="eager").float().eval()
    prompt = np.load(OUT / name / "reference.npz")["prompt"]
    with torch.no_grad():
        out = model(torch.tensor(prompt[None]), output_attentions=True, output_hidden_states=True)
    arrays = {f"attentions_{i}": a[0].numpy() for i, a in enumerate(out.attentions)}
    arrays |= {f"hidden_states_{i}": h[0].numpy() for i, h in enumerate(out.hidden_states)}
    np.savez(OUT / name / "inside.npz", prompt=prompt, **arrays)
    print(f"{name}/inside.npz: {len(out.attentions)} attention patterns, {len(out.hidden_states)} hidden states")


def make_pytorch_bins(name):
    """The safetensors fixture `name` again as pytorch_model.bin, in torch's zip and legacy layouts.

    One tensor is stored transposed (a non-contiguous view of its storage), as fine-tunes sometimes are.
    """
    from safetensors.torch import load_file

    state = load_file(str(OUT / name / "model.safetensors"))
    key = next(k for k in state if k.endswith("c_attn.weight"))
    state[key] = state[key].t().contiguous().t()  # same values, strides (1, rows)
    assert not state[key].is_contiguous()
    for suffix, zip_layout in (("bin", True), ("bin-legacy", False)):
        directory = OUT / f"{name}-{suffix}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        shutil.copy(OUT / name / "config.json", directory / "config.json")
        torch.save(state, directory / "pytorch_model.bin", _use_new_zipfile_serialization=zip_layout)
        print(f"{name}-{suffix}: {(directory / 'pytorch_model.bin').stat().st_size / 1e6:.1f} MB")


def processed(logits, seen, penalty, temperature, k, p, min_p=0.0):
    """Rows of logits through transformers' processors in its order, with `seen` as each row's input ids: the
    repetition penalty, temperature, top-k, top-p, min-p (each left out at its neutral value)."""
    from transformers import (
        MinPLogitsWarper,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    scores, ids = torch.from_numpy(logits.copy()), torch.from_numpy(seen)
    if penalty != 1.0:
        scores = RepetitionPenaltyLogitsProcessor(penalty)(ids, scores)
    scores = TemperatureLogitsWarper(temperature)(ids, scores)
    if k:
        scores = TopKLogitsWarper(k)(ids, scores)
    if p < 1.0:
        scores = TopPLogitsWarper(p)(ids, scores)
    if min_p:
        scores = MinPLogitsWarper(min_p)(ids, scores)
    return scores


def make_sampling_reference():
    """transformers' logits processors on random logits: the sampler must give the same rows.

    Ties are exact only inside the top-k group (top-k keeps them all, a defined rule); torch.sort
    breaks ties in an unspecified order, so a tie that straddles the top-p cut has no reference answer.
    """
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((4, 300)).astype(np.float32)
    logits[:, 10:15] = logits.max(axis=1, keepdims=True) + 1  # five tokens tied for first: top-5 keeps exactly them
    seen = rng.integers(0, 300, (4, 30))
    cases = {"logits": logits, "seen": seen}
    for penalty, temperature, k, p in [
        (1.3, 0.7, 20, 0.9),
        (1.0, 1.0, 3, 1.0),
        (2.0, 1.5, 0, 0.5),
        (1.0, 0.5, 50, 0.97),
    ]:
        cases[f"{penalty}_{temperature}_{k}_{p}"] = processed(logits, seen, penalty, temperature, k, p).numpy()
    np.savez(OUT.parent / "sampling_reference.npz", **cases)
    print("sampling_reference.npz: 4 settings")


def make_masked_sampling_reference():
    """Rows in which a caller gave some tokens probability zero with -inf, through transformers' processors
    (repetition penalty, temperature, top-k, top-p, min-p) and the final softmax: the sampler must treat -inf
    as probability zero, as they do, and give the same rows and the same probabilities."""
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((6, 200)).astype(np.float32) * 2
    for row, share in enumerate([0.05, 0.3, 0.6, 0.9, 0.97, 0.995]):  # from a few masked tokens to nearly all
        logits[row, rng.random(200) < share] = -np.inf
    logits[5, :] = -np.inf
    logits[5, [7, 40, 41]] = [1.0, 0.5, 0.3]  # three left: top-k 20 meets fewer than it keeps (no tie at a cut)
    seen = rng.integers(0, 200, (6, 25))
    cases = {"logits": logits, "seen": seen}
    for penalty, temperature, k, p, min_p in [
        (1.0, 1.0, 0, 1.0, 0.0),
        (1.3, 0.7, 20, 0.9, 0.0),
        (1.0, 1.5, 5, 1.0, 0.05),
        (2.0, 0.8, 0, 0.6, 0.1),
    ]:
        scores = processed(logits, seen, penalty, temperature, k, p, min_p)
        key = f"{penalty}_{temperature}_{k}_{p}_{min_p}"
        cases[key] = scores.numpy()
        cases[key + "_probabilities"] = torch.softmax(scores, dim=-1).numpy()
    np.savez(OUT.parent / "sampling_masked.npz", **cases)
    print("sampling_masked.npz: 4 settings over rows with -inf")


def make_top_p_reference():
    """Full-vocabulary rows where a float32 running sum of the probabilities moves the top-p cut: transformers'
    TopPLogitsWarper keeps what it keeps there, and gptlite must keep the same."""
    from transformers import TopPLogitsWarper

    rng = np.random.default_rng(7)
    rows, ps, kept = [], [], []
    while len(rows) < 6:
        logits = (rng.standard_normal(50257) * rng.uniform(0.5, 3)).astype(np.float32)
        p = float(rng.choice([0.5, 0.8, 0.9, 0.95, 0.99]))
        expected = TopPLogitsWarper(p)(None, torch.from_numpy(logits[None].copy()))[0].numpy()
        order = np.argsort(-logits, kind="stable")[::-1]
        probs = np.exp(logits[order] - logits.max())
        probs = (probs / probs.sum()).astype(np.float32)
        naive_drop = np.cumsum(probs) <= np.float32(1 - p)  # float32 running sum
        naive_drop[-1] = False
        if np.isfinite(expected[order[naive_drop]]).any() or (~np.isfinite(expected[order[~naive_drop]])).any():
            rows.append(logits)
            ps.append(p)
            kept.append(np.isfinite(expected))
    np.savez(OUT.parent / "top_p_full_vocab.npz", logits=np.stack(rows), p=np.array(ps), kept=np.stack(kept))
    print("top_p_full_vocab.npz: 6 rows where a float32 sum cuts elsewhere")


def guide_perplexity(model, ids, max_length, stride, exact=False):
    """Hugging Face's perplexity guide, its loop as published (docs/source/en/perplexity.md); with exact=True
    each window's loss is weighted by the tokens it really scored instead of num_valid_tokens - 1."""
    seq_len = ids.size(1)
    nll_sum, n_tokens, prev_end_loc = 0.0, 0, 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = ids[:, begin_loc:end_loc]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            outputs = model(input_ids, labels=target_ids)
        num_valid_tokens = (target_ids != -100).sum().item()
        num_loss_tokens = (target_ids[:, 1:] != -100).sum().item() if exact else num_valid_tokens - 1
        nll_sum += outputs.loss.double().item() * num_loss_tokens
        n_tokens += num_loss_tokens
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return float(np.exp(nll_sum / n_tokens))


def harness_pair(tokenizer, context, continuation):
    """lm-evaluation-harness's _encode_pair, with the transformers tokenizer."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation, context = context[-n_spaces:] + continuation, context[:-n_spaces]
    whole = tokenizer.encode(context + continuation)
    context_ids = tokenizer.encode(context)
    return context_ids, whole[len(context_ids) :]


def continuation_logprobs(model, context_ids, continuation_ids):
    """Log-probabilities and greedy hits of the continuation, as lm-evaluation-harness's HFLM computes them."""
    max_length = model.config.n_positions
    inp = torch.tensor([(context_ids + continuation_ids)[-(max_length + 1) :][:-1]])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(inp).logits[0].double(), dim=-1)
    logprobs = logprobs[inp.size(1) - len(continuation_ids) :]
    target = torch.tensor(continuation_ids)
    greedy = bool((logprobs.argmax(dim=-1) == target).all())
    return logprobs[torch.arange(len(continuation_ids)), target].numpy(), greedy


def make_scoring_reference():
    """Perplexity (the guide's loop, strides of half and all of the context), LAMBADA (harness and greedy word)
    and multiple choice, computed by transformers and its own tokenizer on the tiny fixture model."""
    from transformers import GPT2LMHeadModel, GPT2TokenizerFast

    directory = OUT / "tiny"
    model = GPT2LMHeadModel.from_pretrained(directory).float().eval()
    tokenizer = GPT2TokenizerFast.from_pretrained(directory)
    text = course.text("hamlet")[:12_000]
    ids = torch.tensor([tokenizer.encode(text)])
    n_ctx = model.config.n_positions
    ref = {"n_text_chars": len(text)}
    for stride in (n_ctx // 2, n_ctx):
        ref[f"guide_{stride}"] = guide_perplexity(model, ids, n_ctx, stride)
        ref[f"exact_{stride}"] = guide_perplexity(model, ids, n_ctx, stride, exact=True)
    tasks = OUT.parent / "tasks"
    passages = [json.loads(line)["text"] for line in (tasks / "lambada.jsonl").read_text().splitlines()]
    lls, greedy, paper = [], [], []
    for passage in passages:
        context, word = passage.rsplit(" ", 1)
        logprobs, hit = continuation_logprobs(model, *harness_pair(tokenizer, context, " " + word))
        lls.append(logprobs.sum())
        greedy.append(hit)
        prompt = torch.tensor([tokenizer.encode(context)[-(n_ctx - 8) :]])
        with torch.no_grad():
            out = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=8,
                                 min_new_tokens=8, pad_token_id=0)  # fmt: skip
        words = tokenizer.decode(out[0, prompt.size(1) :]).split()
        paper.append((words[0].rstrip(".,;:!?\"'") if words else "") == word.rstrip(".,;:!?\"'"))
    ref |= {"lambada_ll": np.array(lls), "lambada_greedy": np.array(greedy), "lambada_paper": np.array(paper)}
    sums, means = [], []
    for line in (tasks / "choice.jsonl").read_text().splitlines():
        item = json.loads(line)
        context_ids = tokenizer.encode(item["context"])
        scored = [continuation_logprobs(model, context_ids, tokenizer.encode(" " + e))[0] for e in item["endings"]]
        sums.append([s.sum() for s in scored])
        means.append([s.mean() for s in scored])
    ref |= {"choice_sums": np.array(sums), "choice_means": np.array(means)}
    np.savez(tasks / "reference.npz", **ref)
    print(f"tasks/reference.npz: perplexities {[round(ref[k], 2) for k in ref if 'guide' in k]}, "
          f"{len(passages)} passages, {len(sums)} items")  # fmt: skip


def make_generation_reference():
    """Beam search, n-gram blocking and min_new_tokens as transformers' generate does them, on a small model with
    peaked distributions (every weight std 0.3), with an end-of-text token it actually produces."""
    directory = OUT / "peaky"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    config = Config(n_vocab=200, n_ctx=64, n_embd=32, n_head=4, n_layer=2)
    model = hf_model(config, 21, weight_std=0.3)
    model.save_pretrained(directory)
    prompt = np.random.default_rng(21).integers(0, 200, N_PROMPT)
    ids = torch.tensor(prompt[None])

    def run(**kwargs):
        with torch.no_grad():
            return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=24,
                                  return_dict_in_generate=True, output_scores=True, **kwargs)  # fmt: skip

    greedy = run(do_sample=False, pad_token_id=0).sequences[0, N_PROMPT:].numpy()
    eos = int(greedy[6])  # a token this model produces: beams end on it at different lengths
    ref = {"prompt": prompt, "eos": eos}
    for lp in (0.5, 2.0):
        for early in (True, False):
            out = run(do_sample=False, num_beams=4, num_return_sequences=4, length_penalty=lp, early_stopping=early,
                      eos_token_id=eos, pad_token_id=eos)  # fmt: skip
            key = f"beam_{lp}_{early}"
            ref[key + "_sequences"] = out.sequences[:, N_PROMPT:].numpy()
            ref[key + "_scores"] = out.sequences_scores.numpy()
    for n in (2, 3):
        out = run(do_sample=False, no_repeat_ngram_size=n, pad_token_id=0)
        ref[f"ngram_{n}"] = out.sequences[0, N_PROMPT:].numpy()
    out = run(do_sample=False, min_new_tokens=12, eos_token_id=eos, pad_token_id=eos)
    ref["min_new_tokens_12"] = out.sequences[0, N_PROMPT:].numpy()
    out = run(do_sample=False, eos_token_id=eos, pad_token_id=eos)
    ref["greedy_with_eos"] = out.sequences[0, N_PROMPT:].numpy()
    np.savez(directory / "generation.npz", **ref)
    print(f"peaky/generation.npz: eos {eos}, beams {[len(v) for k, v in ref.items() if k.endswith('_sequences')]}")


def full_size_check():
    """gpt2 (124M) shapes, random weights: transformers vs gptlite from the same hub-layout directory."""
    config = Config()
    model = hf_model(config, 0)
    with tempfile.TemporaryDirectory() as tmp:
        save_hub_layout(model, Path(tmp))
        copy_gpt2_vocab(Path(tmp))
        ref = reference(model, config.n_vocab, 0)
        gpt = GPT.from_pretrained(tmp)
        t0 = time.perf_counter()
        logits = gpt(ref["prompt"])
        greedy = gpt.generate(ref["prompt"], N_NEW, temperature=0, eos_token_id=None)
        print(
            f"gpt2 (124M) random weights: max |logit difference| = {np.abs(logits - ref['logits']).max():.2e}, "
            f"greedy {N_NEW} tokens identical: {greedy == ref['greedy'].tolist()} "
            f"(gptlite {time.perf_counter() - t0:.2f} s)"
        )


FIXTURES = {
    "tiny": lambda: make(
        "tiny", Config(n_ctx=64, n_embd=16, n_head=2, n_layer=2), seed=1, hub_layout=True, with_vocab=True
    ),
    "depth6": lambda: make("depth6", Config(n_vocab=1000, n_ctx=64, n_embd=32, n_head=4, n_layer=6), seed=2),
    "f16": lambda: make(
        "f16", Config(n_vocab=1000, n_ctx=64, n_embd=32, n_head=2, n_layer=2), seed=3, dtype=torch.float16
    ),
    "bf16": lambda: make(
        "bf16", Config(n_vocab=1000, n_ctx=64, n_embd=32, n_head=2, n_layer=2), seed=4, dtype=torch.bfloat16
    ),
    "depth6-bin": lambda: make_pytorch_bins("depth6"),
    "inside": lambda: [make_inside_reference(name) for name in ("tiny", "depth6")],
    "options": make_options,
    "sampling": make_sampling_reference,
    "sampling-masked": make_masked_sampling_reference,
    "top_p": make_top_p_reference,
    "scoring": make_scoring_reference,
    "generation": make_generation_reference,
    "xl-heads": lambda: make_seeded(
        "xl-heads", Config(n_vocab=512, n_ctx=64, n_embd=1600, n_head=25, n_layer=1), seed=5
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--full-size", action="store_true", help="check at gpt2 (124M) size instead of writing fixtures"
    )
    parser.add_argument("--only", nargs="+", choices=FIXTURES, help="remake only these fixtures (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.full_size:
        return full_size_check()
    for name in args.only or FIXTURES:
        FIXTURES[name]()


if __name__ == "__main__":
    main()
