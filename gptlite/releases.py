"""The models gptlite knows by name, and where the package keeps its own files.

Sources: Radford et al. 2019, Table 2 (the four GPT-2 sizes); Sanh et al. 2019
(distilgpt2, half of gpt2's depth); the Hugging Face repos and OpenAI's release
folders that serve them. Every one of them shares GPT-2's vocabulary.

GPT-1 (Radford et al. 2018, "Improving Language Understanding by Generative
Pre-Training": 12 post-LN blocks of 768, 512 positions, 40,478 tokens) is
`GPT1_RELEASES`, apart: its vocabulary is its own, fetched with the model.

This is the one place that lists them: the tokenizer, the downloader and the
command line all read it.
"""

from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"  # shipped inside the package
GPT2_VOCAB = (ASSETS / "gpt2" / "encoder.json", ASSETS / "gpt2" / "vocab.bpe")  # OpenAI's files, bundled
BUNDLED = "gptlite-shakespeare"  # trained by gptlite, shipped in the package: see its MODEL_CARD.md
BUNDLED_DIR = ASSETS / BUNDLED


@dataclass(frozen=True)
class Release:
    shape: dict  # n_embd, n_head, n_layer, ...: `model.Config(**release.shape)` is its shape (the rest is GPT-2's)
    hf_repo: str  # where Hugging Face serves it
    openai_folder: str | None  # OpenAI's folder name, if OpenAI released it


RELEASES = {
    "gpt2": Release(dict(n_embd=768, n_head=12, n_layer=12), "openai-community/gpt2", "124M"),
    "gpt2-medium": Release(dict(n_embd=1024, n_head=16, n_layer=24), "openai-community/gpt2-medium", "355M"),
    "gpt2-large": Release(dict(n_embd=1280, n_head=20, n_layer=36), "openai-community/gpt2-large", "774M"),
    "gpt2-xl": Release(dict(n_embd=1600, n_head=25, n_layer=48), "openai-community/gpt2-xl", "1558M"),
    "distilgpt2": Release(dict(n_embd=768, n_head=12, n_layer=6), "distilbert/distilgpt2", None),
}


# Its shape is in its config.json (model_type "openai-gpt", read by weights/checkpoint.py).
GPT1_RELEASES = {"openai-gpt": Release(dict(n_vocab=40478, n_ctx=512, n_embd=768, n_head=12, n_layer=12,
                                            layer_norm="post"), "openai-community/openai-gpt", None)}  # fmt: skip


def release(name) -> Release | None:
    """The release a name stands for, GPT-2's or GPT-1's; None for any other name."""
    return (RELEASES.get(name) or GPT1_RELEASES.get(name)) if isinstance(name, str) else None


def known_names() -> str:
    """Every name `GPT.from_pretrained` takes without a repo id or a directory, for help and error messages."""
    return ", ".join([*RELEASES, *GPT1_RELEASES, BUNDLED])
