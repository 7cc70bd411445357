"""Make tests/fixtures/models/gpt1-*: random GPT-1s as transformers' OpenAIGPTLMHeadModel computes them.

Needs torch and transformers, in a virtual environment of their own (never gptlite dependencies):

    .venv-ref/bin/python scripts/make_gpt1_fixtures.py              # writes tests/fixtures/models/gpt1-*
    .venv-ref/bin/python scripts/make_gpt1_fixtures.py --full-size  # openai-gpt's own shape, nothing written

Each fixture is a small OpenAIGPTLMHeadModel with every weight, bias and gain random, saved as the hub serves
`openai-community/openai-gpt` (config.json with model_type "openai-gpt", the weights, and GPT-1's vocabulary
files: the small vocabulary of tests/fixtures/gpt1_tokenizer, made by make_gpt1_tokenizer_fixtures.py), plus
`reference.npz`: a prompt, transformers' logits for it and its 32-token greedy continuation, its hidden states
(`hidden_states_0` the embeddings, then each block's output) and attention patterns, and its 4 beams of at most
16 tokens (num_beams=4, ending on `eos`, a token of the greedy continuation) with their scores. Several depths, widths
and file layouts:

    gpt1-tiny   2 blocks of 32, 4 heads: names as on the hub (no `transformer.` prefix, the causal-mask
                buffers `h.{i}.attn.bias` saved), model.safetensors
    gpt1-deep   6 blocks of 24, 2 heads: the state dict as torch.save writes it (`transformer.` prefix, the
                tied `lm_head.weight` included) in pytorch_model.bin, as older transformers saved models
    gpt1-wide   1 block of 96, 8 heads, afn relu, an untied head (`lm_head.weight`): save_pretrained's
                model.safetensors
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import OpenAIGPTConfig, OpenAIGPTLMHeadModel

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "models"
VOCAB = ROOT / "tests" / "fixtures" / "gpt1_tokenizer"
N_VOCAB = 1200  # the tokens of VOCAB's vocab.json
N_CTX, N_PROMPT, N_NEW = 64, 12, 32
FIXTURES = {  # name: (OpenAIGPTConfig fields, file layout, seed)
    "gpt1-tiny": (dict(n_embd=32, n_head=4, n_layer=2), "hub", 1),
    "gpt1-deep": (dict(n_embd=24, n_head=2, n_layer=6), "bin", 2),
    "gpt1-wide": (dict(n_embd=96, n_head=8, n_layer=1, afn="relu", tie_word_embeddings=False), "save_pretrained", 3),
}


def random_model(fields, seed, n_vocab=N_VOCAB, n_ctx=N_CTX):
    """An OpenAIGPTLMHeadModel whose every parameter is random: gains near 1, biases N(0, 0.05), matrices
    N(0, 0.2) (large enough that the logits of different tokens differ, so that greedy picks are clear)."""
    torch.manual_seed(seed)
    config = OpenAIGPTConfig(vocab_size=n_vocab, n_positions=n_ctx, **fields)
    model = OpenAIGPTLMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p) if p.dim() > 1 else 0.05 * torch.randn_like(p))
    return model


def save_hub_layout(model, directory):
    """As openai-community/openai-gpt's files name the tensors: no prefix, the causal-mask buffers kept."""
    state = {k.removeprefix("transformer."): v.contiguous() for k, v in model.state_dict().items()}
    state.pop("lm_head.weight")  # tied to tokens_embed
    n_ctx = model.config.n_positions
    for i in range(model.config.n_layer):
        state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n_ctx, n_ctx)).view(1, 1, n_ctx, n_ctx)
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    model.config.to_json_file(directory / "config.json")


def reference(model, seed):
    """transformers' logits, hidden states, attention patterns, greedy continuation and beams for a random
    prompt."""
    prompt = np.random.default_rng(seed).integers(0, model.config.vocab_size, N_PROMPT)
    ids = torch.tensor(prompt[None])
    with torch.no_grad():
        out = model(ids, output_hidden_states=True, output_attentions=True)
        greedy = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=N_NEW,
                                min_new_tokens=N_NEW, pad_token_id=0)  # fmt: skip
    arrays = {"prompt": prompt, "logits": out.logits[0].numpy(), "greedy": greedy[0, N_PROMPT:].numpy()}
    eos = int(arrays["greedy"][5])  # a token this model produces: beams end on it at different lengths
    with torch.no_grad():
        beams = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=4,
                               num_return_sequences=4, max_new_tokens=16, eos_token_id=eos, pad_token_id=eos,
                               return_dict_in_generate=True, output_scores=True)  # fmt: skip
    arrays |= {"eos": eos, "beam_sequences": beams.sequences[:, N_PROMPT:].numpy(),
               "beam_scores": beams.sequences_scores.numpy()}  # fmt: skip
    arrays |= {f"hidden_states_{i}": h[0].numpy() for i, h in enumerate(out.hidden_states)}
    arrays |= {f"attentions_{i}": a[0].numpy() for i, a in enumerate(out.attentions)}
    return arrays


def make(name, fields, layout, seed):
    directory = OUT / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    model = random_model(fields, seed)
    if layout == "hub":
        save_hub_layout(model, directory)
    elif layout == "bin":  # as older transformers saved it: torch.save of the state dict, the tied head included
        torch.save(model.state_dict(), directory / "pytorch_model.bin")
        model.config.to_json_file(directory / "config.json")
    else:
        model.save_pretrained(directory)
        (directory / "generation_config.json").unlink()  # not part of the model: the hub's GPT-1 has none
    for file in ("vocab.json", "merges.txt"):
        shutil.copy(VOCAB / file, directory / file)
    np.savez(directory / "reference.npz", **reference(model, seed))
    print(f"{name}: {', '.join(sorted(p.name for p in directory.iterdir()))}")


def full_size_check():
    """openai-gpt's shape (12 blocks of 768, 512 positions, 40,478 tokens), random weights: transformers vs
    gptlite from the same hub-layout directory."""
    sys.path.insert(0, str(ROOT))
    from gptlite import GPT

    model = random_model({}, 0, n_vocab=40478, n_ctx=512)
    with tempfile.TemporaryDirectory() as tmp:
        save_hub_layout(model, Path(tmp))
        ref = reference(model, 0)
        gpt = GPT.from_pretrained(tmp)
        t0 = time.perf_counter()
        logits = gpt(ref["prompt"])
        greedy = gpt.generate(ref["prompt"].tolist(), N_NEW, temperature=0, eos_token_id=None)
        print(f"openai-gpt shape, random weights: max |logit difference| = {np.abs(logits - ref['logits']).max():.2e}"
              f" (largest |logit| {np.abs(ref['logits']).max():.1f}), greedy {N_NEW} tokens identical: "
              f"{greedy == ref['greedy'].tolist()} (gptlite {time.perf_counter() - t0:.2f} s)")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-size", action="store_true", help="check at openai-gpt's shape; write nothing")
    if parser.parse_args().full_size:
        return full_size_check()
    for name, (fields, layout, seed) in FIXTURES.items():
        make(name, fields, layout, seed)


if __name__ == "__main__":
    sys.exit(main())
