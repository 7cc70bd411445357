"""llama.cpp as a peer in scripts/benchmark.py: the same random weights as GGUF F32, greedy decoding timed as
gptlite's is (never imported by gptlite).

Needs, in the reference virtual environment (with torch, transformers, and threadpoolctl, without which gptlite's
two-thread path is off):

    CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python gguf     # builds llama.cpp, ~10 min on 2 cores
    pip download llama-cpp-python==0.3.36 --no-deps --no-binary :all: -d /tmp/ll && tar xzf /tmp/ll/*.tar.gz -C /tmp/ll

The second line is for the converter: the sdist vendors llama.cpp's `convert_hf_to_gguf.py` (with its own
gguf-py), which the wheel does not install; benchmark.py finds it with --gguf-converter or $LLAMA_CONVERT.

The weights go from gptlite to a transformers GPT2LMHeadModel (hf_reference.py), are saved in the hub's
layout with GPT-2's tokenizer files, and converted with `--outtype f32`: every tensor stays float32, as
gptlite's are. The KV cache is float32 too (llama.cpp's default is float16, which halves what a step after
a long prompt reads). Decoding uses llama.cpp's C API through llama-cpp-python's bindings (`llama_decode` on a batch
holding one new token per sequence, `llama_get_logits_ith`, argmax in NumPy), not the high-level `Llama` class,
so that Python does per token what gptlite's greedy loop does and a batch of rows decodes in one call, each row
its own sequence in one unified KV cache.
"""

import json
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import llama_cpp
import numpy as np

VERSION = version("llama-cpp-python")
TOKENIZER_FILES = {"encoder.json": "vocab.json", "vocab.bpe": "merges.txt"}  # gptlite's names -> the hub's


def gguf_f32(hf, tokenizer_dir, converter, directory):
    """Write `hf` (a GPT2LMHeadModel) as directory/model-f32.gguf with llama.cpp's own converter; its path."""
    hub = Path(directory) / "hub"
    hf.save_pretrained(hub)
    config = json.loads((hub / "config.json").read_text())
    config["n_ctx"] = config["n_positions"]  # the converter reads GPT-2's old name, which transformers 5 drops
    (hub / "config.json").write_text(json.dumps(config))
    for ours, theirs in TOKENIZER_FILES.items():
        shutil.copy(Path(tokenizer_dir) / ours, hub / theirs)
    out = Path(directory) / "model-f32.gguf"
    subprocess.run([sys.executable, str(converter), str(hub), "--outtype", "f32", "--outfile", str(out)],
                   check=True, capture_output=True)  # fmt: skip
    return out


class LlamaCpp:
    """One llama.cpp model and context: greedy generation for up to n_seq rows at once, prompts of any length."""

    def __init__(self, path, threads, n_ctx=2048, n_batch=512, n_seq=8):
        llama_cpp.llama_backend_init()
        llama_cpp.llama_log_set(LOG_NOTHING, None)
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), llama_cpp.llama_model_default_params())
        params = llama_cpp.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch, params.n_seq_max = n_ctx, n_batch, n_batch, n_seq
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = True  # every row's keys in one cache of n_ctx, as gptlite's rows share one array
        params.type_k = params.type_v = llama_cpp.GGML_TYPE_F32  # its default is F16; gptlite's cache is float32
        self.ctx = llama_cpp.llama_init_from_model(self.model, params)
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, n_seq)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self.model))
        self.n_batch = n_batch

    def generate(self, prompts, n_new):
        """Greedy: [n_rows][n_prompt] ids -> [n_rows][n_new] new ids; the cache starts empty every call."""
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        n_prompt = len(prompts[0])
        entries = [
            (row, position, token) for row, prompt in enumerate(prompts) for position, token in enumerate(prompt)
        ]
        for start in range(0, len(entries), self.n_batch):  # the prompts: logits at each row's last token
            self.decode([(r, p, t, p == n_prompt - 1) for r, p, t in entries[start : start + self.n_batch]])
        assert len(self.outputs) == len(prompts), "a row's last prompt token fell in an earlier chunk"
        out = [[] for _ in prompts]
        for step in range(n_new):
            for row, new in enumerate(self.argmax()):
                out[row].append(new)
            if step + 1 < n_new:
                self.decode([(row, n_prompt + step, tokens[-1], True) for row, tokens in enumerate(out)])
        return out

    def decode(self, entries):
        """One llama_decode over entries (sequence, position, token, wants logits)."""
        self.batch.n_tokens = len(entries)
        for i, (row, position, token, logits) in enumerate(entries):
            self.batch.token[i], self.batch.pos[i] = token, position
            self.batch.n_seq_id[i], self.batch.seq_id[i][0], self.batch.logits[i] = 1, row, logits
        if llama_cpp.llama_decode(self.ctx, self.batch) != 0:
            raise RuntimeError("llama_decode failed")
        self.outputs = [i for i, entry in enumerate(entries) if entry[3]]  # batch indices that have logits

    def argmax(self):
        """The greedy next token at each output of the last decode, in order."""
        return [
            int(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,)).argmax())
            for i in self.outputs
        ]


@llama_cpp.llama_log_callback
def LOG_NOTHING(level, text, user_data):  # noqa: N802  (a C callback: llama.cpp's progress lines would fill the table)
    pass
