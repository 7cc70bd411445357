"""Hugging Face transformers' GPT-2, for the scripts that compare gptlite with it (never imported by gptlite).

Needs torch and transformers, in a virtual environment of their own.
"""

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel


def hf_model(config, seed, attn_implementation="eager", weight_std=0.02, **options):
    """A transformers GPT-2 of this shape with every parameter random (biases and layer-norm gains too);
    matrices have std `weight_std`; `options` are further GPT2Config fields (activation_function, ...)."""
    torch.manual_seed(seed)
    hf_config = GPT2Config(
        vocab_size=config.n_vocab,
        n_positions=config.n_ctx,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        bos_token_id=None,
        eos_token_id=None,
        attn_implementation=attn_implementation,
        **options,
    )
    model = GPT2LMHeadModel(hf_config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(weight_std * torch.randn_like(p) if p.dim() > 1 else 0.05 * torch.randn_like(p))
    return model


def save_hub_layout(model, directory):
    """As openai-community/gpt2 is served: no `transformer.` prefix, with the attn.bias / masked_bias buffers."""
    state = {
        k.removeprefix("transformer."): v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"
    }
    n_ctx = model.config.n_positions
    for i in range(model.config.n_layer):
        state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n_ctx, n_ctx)).view(1, 1, n_ctx, n_ctx)
        state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    model.config.to_json_file(directory / "config.json")


def hf_from_gptlite(config, params, attn_implementation="eager"):
    """A transformers model holding gptlite's weights (the names map one to one)."""
    model = hf_model(config, 0, attn_implementation)
    state = {
        "transformer.wte.weight": params["wte"],
        "transformer.wpe.weight": params["wpe"],
        "transformer.ln_f.weight": params["ln_f"]["g"],
        "transformer.ln_f.bias": params["ln_f"]["b"],
    }
    for i, h in enumerate(params["h"]):
        for part, tensors in (
            ("ln_1", h["ln_1"]),
            ("ln_2", h["ln_2"]),
            ("attn.c_attn", h["attn"]["c_attn"]),
            ("attn.c_proj", h["attn"]["c_proj"]),
            ("mlp.c_fc", h["mlp"]["c_fc"]),
            ("mlp.c_proj", h["mlp"]["c_proj"]),
        ):
            for short, value in tensors.items():
                long = {"g": "weight", "w": "weight", "b": "bias"}[short]
                state[f"transformer.h.{i}.{part}.{long}"] = value
    state["lm_head.weight"] = params["wte"]
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=False)
    return model
