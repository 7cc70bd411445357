"""Command line: measure a model on a text or a task file (see `scoring.py` for the protocols).

    python -m gptlite.eval wiki.test.raw --model gpt2-large --stride 512          # perplexity, HF's guide
    python -m gptlite.eval lambada_test.jsonl --task lambada --model gpt2          # LAMBADA, both protocols
    python -m gptlite.eval hellaswag.jsonl --task choice --model gpt2 --json       # multiple choice
    python -m gptlite.eval cnn_dm_test.jsonl --task summarize --model gpt2-xl --out summaries.jsonl

Task files:

* `perplexity` (the default): a UTF-8 text file, or `-` for standard input. It is read and tokenized
  in blocks, so a file of any size runs in bounded memory; windows of `--context` tokens (default:
  the model's n_ctx) move by `--stride`, as in Hugging Face's perplexity guide.
* `lambada`: JSON Lines, one passage per line: {"text": "... the last word"} (the format of the
  `lambada_openai` data set). The target is the last space-separated word.
* `choice`: JSON Lines, one item per line: {"context": "...", "endings": ["...", ...], "label": 0}.
  Each ending is scored after the context with a space between, as llm.c scores HellaSwag.
* `summarize`, `translate`, `qa`, `nq`: the GPT-2 paper's zero-shot tasks (`tasks.py`), JSON Lines of
  {"article", "highlights"} (CNN/Daily Mail), {"en", "fr"} (WMT-14; `--direction fr-en` translates French),
  {"story", "questions", "answers"} (CoQA) and {"question", "answer"} (Natural Questions). translate and nq take
  their example pairs from the first `--examples` lines (default 8), which are not scored. Prints ROUGE-1/2/L,
  BLEU, F1 or exact match on the paper's 0-100 scale. `--out FILE.jsonl` writes each item's generation as it is
  made; run again with the same --out, an interrupted run goes on from where it stopped.

Prints tokens, negative log-likelihood, perplexity, bits per byte or accuracy, and tokens per
second; `--json` prints one JSON object instead. Bad input gets one line and exit status 2.
"""

import json
import os
import sys
import time
from pathlib import Path

from .checks import available_memory
from .cli import ArgumentParser, at_least, read_blocks, run
from .files import atomic_write
from .progress import progress_bar
from .releases import BUNDLED, known_names

BLOCK = 1 << 20  # characters read at a time


def read_jsonl(path, on_bytes, check):
    """check(item) for the JSON value of each non-empty line of a JSON Lines file (or stdin); a line that check
    refuses (a ValueError) is a one-line ValueError naming the file and the line."""
    for number, item in numbered_jsonl(path, on_bytes):
        try:
            checked = check(item)
        except ValueError as e:
            raise ValueError(f"{path}:{number}: {e}") from None
        yield checked


def numbered_jsonl(path, on_bytes):
    """(line number, JSON object) for each non-empty line of a JSON Lines file (or stdin); on_bytes(n) is told
    each line's bytes once the caller asks for the next, so that a progress bar follows the work done."""
    carry, number = "", 0
    for block in read_blocks(path, BLOCK):
        lines = (carry + block).split("\n")
        carry = lines.pop()
        for line in lines:
            number += 1
            if line.strip():
                yield number, parse_line(path, number, line)
            on_bytes(len(line.encode("utf-8")) + 1)
    if carry.strip():
        yield number + 1, parse_line(path, number + 1, carry)
        on_bytes(len(carry.encode("utf-8")))


def parse_line(path, number, line):
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as e:  # not JSON, or an integer of more than 4,300 digits
        raise ValueError(f"{path}:{number}: not a JSON object ({str(e)[:80]})") from None


def lambada_text(item):
    """The passage of a LAMBADA line: {"text": "... the last word"}."""
    from .scoring import last_word

    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise ValueError(f'each line must be {{"text": "..."}}, got {str(item)[:40]}')
    last_word(item["text"])  # refuses a passage without a word to predict
    return item["text"]


def choice_item(item):
    """A multiple-choice line: {"context": "...", "endings": [...], "label": index}; a bool is no index."""
    from .scoring import check_choice

    if isinstance(item, dict) and isinstance(item.get("label"), bool):
        raise ValueError(f'"label" must be the index of the right ending, got {str(item["label"]).lower()}')
    return check_choice(item)


def check_batch_memory(config, batch_size, n_seq):
    """Refuse a --batch-size whose forward pass cannot fit in the memory free, before anything is allocated. A
    batch of windows of n_seq tokens keeps, per token, its KV cache (2 n_layer n_embd floats), a layer's
    activations (about 16 n_embd: residual, q/k/v, MLP) and its attention scores (2 n_head n_seq), in float32."""
    per_row = 4 * n_seq * (2 * config.n_layer * config.n_embd + 16 * config.n_embd + 2 * config.n_head * n_seq)
    available = available_memory()
    if available is not None and batch_size * per_row > available:
        raise ValueError(
            f"--batch-size {batch_size} needs about {batch_size * per_row / 2**30:.1f} GiB for windows of {n_seq} "
            f"tokens and {available / 2**30:.1f} GiB are free: use --batch-size {max(1, available // per_row)} or less"
        )


def evaluate(args, bar):
    from .gpt import GPT
    from .scoring import lambada, multiple_choice, perplexity

    if args.file != "-" and os.path.isdir(args.file):
        raise IsADirectoryError(f"{args.file}: is a directory, not a file")
    if args.file != "-" and not os.path.isfile(args.file):
        raise FileNotFoundError(f"{args.file}: no such file")
    gpt = GPT.from_pretrained(args.model)
    if gpt.tokenizer is None:
        raise ValueError(f"{args.model}: the model has no tokenizer files; evaluation reads text")
    if args.task in ("perplexity", "lambada", "choice"):
        check_batch_memory(gpt.config, args.batch_size, min(args.context or gpt.config.n_ctx, gpt.config.n_ctx))
    start = time.perf_counter()
    if args.task == "perplexity":
        stream = gpt.tokenizer.encode_stream(read_blocks(args.file, BLOCK, bar.update))
        result = perplexity(gpt, stream, args.context, args.stride, args.batch_size)
        report = {"tokens": result.n_scored, "windows": result.windows, "nll": result.nll_sum,
                  "perplexity": result.perplexity, "guide_perplexity": result.guide_perplexity,
                  "bits_per_byte": result.bits_per_byte}  # fmt: skip
        n_tokens = result.n_scored
    elif args.task == "lambada":
        result = lambada(gpt, read_jsonl(args.file, bar.update, lambada_text), args.batch_size)
        report = {"passages": len(result.greedy), "accuracy": result.accuracy, "perplexity": result.perplexity,
                  "paper_accuracy": result.paper_accuracy}  # fmt: skip
        n_tokens = result.n_tokens
    elif args.task in ZERO_SHOT:
        report, n_tokens = zero_shot(args, gpt, bar), None
    else:
        result = multiple_choice(gpt, read_jsonl(args.file, bar.update, choice_item), batch_size=args.batch_size)
        report = {"items": len(result.labels), "accuracy": result.accuracy, "accuracy_norm": result.accuracy_norm}
        n_tokens = None
    seconds = time.perf_counter() - start
    report |= {"task": args.task, "model": args.model, "seconds": seconds}
    if n_tokens is not None:
        report["tokens_per_second"] = n_tokens / seconds
    return report


ZERO_SHOT = ("summarize", "translate", "qa", "nq")


def zero_shot(args, gpt, bar):
    """Run a zero-shot task (`tasks.py`) over a JSON Lines file, going on from --out's records; its metrics."""
    from .tasks import check_item, report, run_item

    n_examples = args.examples if args.task in ("translate", "nq") else 0
    settings = {} if args.max_new_tokens is None else {"max_new_tokens": args.max_new_tokens}
    header = {"task": args.task, "model": args.model, "file": os.path.abspath(args.file), "settings": settings,
              "examples": n_examples, "direction": args.direction, "seed": args.seed}  # fmt: skip
    done = resume(args.out, header) if args.out else {}
    examples, records = [], []
    out = open(args.out, "a", encoding="utf-8") if args.out else None
    try:
        for number, item in numbered_jsonl(args.file, bar.update):
            try:
                checked = check_item(args.task, item)
            except ValueError as e:
                raise ValueError(f"{args.file}:{number}: {e}") from None
            if args.task == "translate" and args.direction == "fr-en":
                checked = checked[::-1]
            if len(examples) < n_examples:
                examples.append(checked if args.task == "translate" else (checked[0], checked[1][0]))
            elif number in done:
                records.append(done[number])
            else:
                seed = {"seed": args.seed + number} if args.task == "summarize" else {}
                try:
                    record = run_item(gpt, args.task, checked, examples, **settings, **seed)
                except ValueError as e:  # a prompt that cannot fit, or a setting the model refuses
                    raise ValueError(f"{args.file}:{number}: {e}") from None
                records.append({"line": number, **record})
                if out is not None:
                    out.write(json.dumps(records[-1], ensure_ascii=False) + "\n")
                    out.flush()
    finally:
        if out is not None:
            out.close()
    if not records:
        after = f" after the {n_examples} example lines" if n_examples else ""
        raise ValueError(f"{args.file}: nothing to score{after}")
    return report(args.task, records)


def resume(path, header):
    """The records an earlier run with the same header wrote to `path`, by line number. The file is rewritten
    (atomically) to the header and those records, so that a last line cut short by an interruption goes."""
    records = {}
    text = Path(path).read_text(encoding="utf-8") if os.path.isfile(path) else ""  # gptlite's own output
    if text:
        first, *lines = text.split("\n")
        try:
            same = json.loads(first) == header
        except json.JSONDecodeError:
            same = False
        if not same:
            raise ValueError(f"{path}: not the output of this run (task, model, file and options must be the same)")
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                break  # cut short
            if not isinstance(record, dict) or not is_number(record.get("line")):
                break
            records[record["line"]] = record
    with atomic_write(path, "w") as f:
        f.write("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in [header, *records.values()]))
    return records


def is_number(value):
    return isinstance(value, int) and not isinstance(value, bool)


def show(report):
    """The report as a few aligned lines."""
    names = {"nll": "negative log-likelihood (nats)", "guide_perplexity": "perplexity, the guide's weighting",
             "paper_accuracy": "accuracy, GPT-2 paper (greedy word)", "accuracy_norm": "accuracy (length-normalised)",
             "tokens_per_second": "tokens per second", "rouge1": "ROUGE-1 F1", "rouge2": "ROUGE-2 F1",
             "rougeL": "ROUGE-L F1", "bleu": "BLEU", "f1": "F1", "exact_match_most_confident_1pct":
             "exact match, the most confident 1%"}  # fmt: skip
    lines = []
    for key, value in report.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{names.get(key, key.replace('_', ' ')):<40s} {shown}")
    return "\n".join(lines)


def parser():
    about = "Measure a GPT-2 model: perplexity, LAMBADA, multiple choice, the GPT-2 paper's zero-shot tasks."
    p = ArgumentParser(prog="gptlite.eval", description=about)
    p.add_argument("file", metavar="FILE_OR_-", help="a text file (perplexity) or a JSON Lines file; - reads stdin")
    p.add_argument("--model", default=BUNDLED, metavar="NAME_OR_DIR",
                   help=f"{known_names()}, a Hugging Face repo id or a directory (default: %(default)s)")  # fmt: skip
    p.add_argument("--task", choices=["perplexity", "lambada", "choice", *ZERO_SHOT], default="perplexity",
                   help="what FILE holds (default: %(default)s)")  # fmt: skip
    p.add_argument("--context", type=at_least(2), metavar="N", help="tokens per window (default: the model's n_ctx)")
    p.add_argument(
        "--stride", type=at_least(1), metavar="N", help="tokens each window moves (default: half of --context)"
    )
    p.add_argument("--batch-size", type=at_least(1), default=1, metavar="N",
                   help="windows, passages or a choice's endings per forward pass (default: %(default)s)")  # fmt: skip
    p.add_argument("--out", metavar="FILE.jsonl", help="zero-shot tasks: write each generation there; resume from it")
    p.add_argument("--direction", choices=["en-fr", "fr-en"], default="en-fr", help="translate (default: %(default)s)")
    p.add_argument("--examples", type=at_least(0), default=8, metavar="N",
                   help="translate, nq: example pairs, the file's first N lines (default: %(default)s)")  # fmt: skip
    p.add_argument("--max-new-tokens", type=at_least(1), metavar="N", help="zero-shot tasks (default: the task's)")
    p.add_argument("--seed", type=at_least(0), default=0, metavar="S",
                   help="summarize: item on line n samples with seed S + n (default: %(default)s)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = parser().parse_args(argv)

    def action():
        total = os.path.getsize(args.file) if args.file != "-" and os.path.isfile(args.file) else None
        with progress_bar(args.quiet, total=total, unit="B", unit_scale=True, desc=args.task, leave=False) as bar:
            report = evaluate(args, bar)
        print(json.dumps(report, indent=2) if args.json else show(report))

    return run("gptlite.eval", action)


if __name__ == "__main__":
    sys.exit(main())
