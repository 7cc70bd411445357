"""Command line: continue a prompt with GPT-2, streaming the text as it is generated.

    python -m gptlite.generate "The weather today is"
    python -m gptlite.generate -m path/to/model -t 0 -n 20 "Hello"
    python -m gptlite.generate -f prompt.txt --no-echo > continuation.txt
    echo "Once upon a time" | python -m gptlite.generate - --num-return-sequences 3

Prints the prompt, then the continuation as it arrives (`--no-echo`: the continuation only). Bad input gets
one line on stderr naming the problem, and exit status 2. The short flags follow llama.cpp's: -m model,
-n new tokens, -t temperature, -k top-k, -p top-p, -s seed (-1: a random one).
"""

import codecs
import sys
from collections import deque

from . import __version__
from .cli import ArgumentParser, at_least, decode_block, run
from .decoding import Stats
from .gpt import GPT
from .releases import BUNDLED, known_names
from .sampling import Sampler
from .weights import hub

ESCAPES = {"\\n": "\n", "\\t": "\t", "\\\\": "\\"}
# A prompt from a file or standard input is read in blocks, so that memory stays bounded whatever it is
# (/dev/zero included). Without --truncate-prompt at most PROMPT_LIMIT bytes are read: far beyond any GPT-2
# context (1,024 tokens are about 4 KiB of English). With it, up to TRUNCATED_LIMIT bytes are read and only
# their last PROMPT_LIMIT characters kept; those hold far more tokens than a context, whose last are kept.
PROMPT_LIMIT, TRUNCATED_LIMIT, BLOCK = 1 << 20, 1 << 30, 1 << 16


def unescape(text):
    """A --stop value as typed in a shell: \\n is a newline, \\t a tab, \\\\ a backslash."""
    out, i = [], 0
    while i < len(text):
        pair = text[i : i + 2]
        out.append(ESCAPES.get(pair, text[i]))
        i += 2 if pair in ESCAPES else 1
    return "".join(out)


def parser():
    p = ArgumentParser(prog="gptlite.generate", description="Continue a prompt with a GPT-2 model, streaming the text.")
    p.add_argument("prompt", nargs="?", help="the text to continue ('' starts a new document; - reads stdin)")
    p.add_argument("-f", "--file", metavar="FILE", help="read the prompt from FILE (UTF-8) instead")
    p.add_argument(
        "-m",
        "--model",
        metavar="NAME_OR_DIR",
        help=f"{known_names()} (bundled), a Hugging Face repo id (owner/name) or a model directory; "
        "names are downloaded and cached on first use (default: gpt2, or the bundled model when "
        "gpt2 cannot be had)",
    )
    p.add_argument(
        "--source",
        choices=["hf", "openai"],
        default="hf",
        help="where a name is downloaded from: Hugging Face, or OpenAI's TensorFlow release (default: hf)",
    )
    p.add_argument(
        "-n",
        "--max-new-tokens",
        type=at_least(0),
        default=64,
        metavar="N",
        help="generate at most N tokens; past the model's context the window slides (default: 64)",
    )
    p.add_argument(
        "-t",
        "--temperature",
        type=float,
        default=None,  # Sampler.temperature; None here tells a flag given from a flag left out
        metavar="T",
        help=f"randomness: 0 always picks the likeliest token, higher is more varied (default: {Sampler.temperature})",
    )
    p.add_argument(
        "-k",
        "--top-k",
        type=int,
        default=None,  # Sampler.top_k; None here tells a flag given from a flag left out
        metavar="K",
        help=f"sample only from the K likeliest tokens; 0 = no limit (default: {Sampler.top_k})",
    )
    p.add_argument(
        "-p",
        "--top-p",
        type=float,
        default=None,  # Sampler.top_p; None here tells a flag given from a flag left out
        metavar="P",
        help="sample only from the likeliest tokens whose probabilities add up to P, in (0, 1] "
        f"(default: {Sampler.top_p})",
    )
    p.add_argument(
        "--min-p",
        type=float,
        default=None,  # Sampler.min_p; None here tells a flag given from a flag left out
        metavar="P",
        help=f"drop tokens less likely than P times the likeliest one; 0 = off (default: {Sampler.min_p})",
    )
    p.add_argument(
        "--repetition-penalty",
        type=float,
        default=Sampler.repetition_penalty,
        metavar="R",
        help="make tokens already in the text less likely; 1 = off, 1.2 is typical (default: %(default)s)",
    )
    p.add_argument(
        "--no-repeat-ngram-size",
        type=at_least(0),
        default=Sampler.no_repeat_ngram_size,
        metavar="N",
        help="never repeat a sequence of N tokens; 0 = off (default: 0)",
    )
    p.add_argument(
        "--num-return-sequences",
        type=at_least(1),
        default=1,
        metavar="N",
        help="write N continuations (sampled with seeds S, S+1, ...; or the N best beams)",
    )
    p.add_argument(
        "--num-beams",
        type=at_least(1),
        default=1,
        metavar="N",
        help="beam search with N beams instead of sampling (default: 1, no beam search)",
    )
    p.add_argument(
        "-s",
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="random seed, for output that repeats exactly; -1 picks one at random",
    )
    p.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="end the output just before TEXT; \\n and \\t are a newline and a tab; may be repeated",
    )
    p.add_argument(
        "--truncate-prompt",
        action="store_true",
        help="keep the prompt's last tokens when it is longer than the model's context (a file or standard input "
        "may then be up to 1 GiB, of which the last MiB of text is kept; without this flag, up to 1 MiB)",
    )
    p.add_argument("--no-echo", action="store_true", help="print only the continuation, not the prompt")
    p.add_argument(
        "--lookup",
        type=at_least(1),
        metavar="N",
        help="prompt lookup decoding: propose the N tokens that followed an earlier occurrence of the text's last "
        "words, and check them in one pass; the output is what it would be without (greedy or seeded)",
    )
    p.add_argument(
        "--draft-model",
        metavar="NAME_OR_DIR",
        help="assisted generation: a smaller model of the same vocabulary proposes, this one checks; greedy output "
        "is unchanged, sampled output has the same distribution",
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="print on stderr at the end: passes, proposals, acceptances"
    )
    p.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="a conversation: after each answer, type the next line; Ctrl-C stops an answer, Ctrl-D ends",
    )
    p.add_argument("--version", action="version", version=f"gptlite {__version__}")
    return p


def default_model(source):
    """gpt2 when it is cached or can be downloaded; else the bundled model, said in one line on stderr."""
    offline = hub.offline_variable()
    if hub.is_cached("gpt2", source) or (offline is None and hub.reachable()):
        try:
            return GPT.from_pretrained("gpt2", source=source)
        except (OSError, ValueError) as e:  # the download failed, or what came was no model (a mirror's HTML page)
            reason = str(e).split(";")[0]
    else:
        reason = f"{offline}=1 and it is not cached" if offline else "no network and it is not cached"
    print(
        f"gptlite.generate: using the bundled model {BUNDLED} (trained on Shakespeare), since gpt2 is not "
        f"available ({reason}); get gpt2 with `python -m gptlite.download gpt2` where there is network",
        file=sys.stderr,
    )
    return GPT.from_pretrained(BUNDLED)


def read_prompt(args):
    """The prompt: the argument, the file given with -f, or standard input for "-"."""
    if args.file is not None:
        if args.prompt is not None:
            raise ValueError("give the prompt as an argument or with -f FILE, not both")
        with open(args.file, "rb") as f:
            return read_text(f, args.file, args.truncate_prompt)
    if args.prompt is None:
        raise ValueError("no prompt: give one as an argument, with -f FILE, or - to read standard input")
    if args.prompt == "-":
        return read_text(getattr(sys.stdin, "buffer", sys.stdin), "standard input", args.truncate_prompt)
    return args.prompt


def read_text(stream, name, truncate):
    """A stream's UTF-8 text, read in blocks: at most PROMPT_LIMIT bytes, or with `truncate` at most
    TRUNCATED_LIMIT bytes of which the last PROMPT_LIMIT characters are kept. Else a one-line ValueError."""
    limit = TRUNCATED_LIMIT if truncate else PROMPT_LIMIT
    decoder = codecs.getincrementaldecoder("utf-8")()
    kept, n_kept, n_read = deque(), 0, 0
    while True:
        block = stream.read(BLOCK)
        block = block.encode("utf-8", "surrogatepass") if isinstance(block, str) else block  # a text stream
        if n_read + len(block) > limit:
            raise ValueError(too_long(name, truncate))
        kept.append(decode_block(decoder, block, name, n_read))
        n_read, n_kept = n_read + len(block), n_kept + len(kept[-1])
        while truncate and n_kept - len(kept[0]) >= PROMPT_LIMIT:
            n_kept -= len(kept.popleft())
        if not block:
            return "".join(kept)[-PROMPT_LIMIT:] if truncate else "".join(kept)


def too_long(name, truncate):
    if truncate:
        return f"{name}: more than {TRUNCATED_LIMIT >> 30} GiB, longer than a prompt can be even to truncate"
    return (
        f"{name}: more than {PROMPT_LIMIT >> 20} MiB, far more than a model's context holds: --truncate-prompt "
        "keeps its end"
    )


def read_line(prompt):
    """The next line of a conversation: typed at a terminal (input(); the terminal bounds a line), or from a pipe
    or a file, at most PROMPT_LIMIT characters of it, else a one-line ValueError. EOFError at the end."""
    if sys.stdin.isatty():
        return input(prompt)
    print(prompt, end="", flush=True)
    line = sys.stdin.readline(PROMPT_LIMIT + 1)
    if not line:
        raise EOFError
    if len(line) > PROMPT_LIMIT:
        raise ValueError(f"standard input: a line of more than {PROMPT_LIMIT >> 20} MiB, more than a turn can hold")
    return line.removesuffix("\n")


def interact(gpt, args, stop, options):
    """The prompt loop: each line typed joins the conversation, and the model continues it. The KV cache is
    kept from turn to turn, so each answer costs only its new tokens."""
    from .conversation import Conversation

    conversation = Conversation(
        gpt, gpt.sampler(**{k: v for k, v in options.items() if k in SAMPLER}), options.get("seed")
    )
    text = read_prompt(args) if (args.prompt is not None or args.file is not None) else ""
    print("gptlite.generate: type a line and press Enter; Ctrl-C stops an answer, Ctrl-D ends", file=sys.stderr)
    while True:
        if text:
            try:
                for piece in conversation.say(text, args.max_new_tokens, stop):
                    print(piece, end="", flush=True)
            except KeyboardInterrupt:
                pass  # the answer stops here; the conversation goes on
            print(flush=True)
        try:
            text = read_line("> ") + "\n"
        except EOFError:
            print(file=sys.stderr)
            return
        except KeyboardInterrupt:
            print(file=sys.stderr)
            text = ""


SAMPLER = ("temperature", "top_k", "top_p", "min_p", "repetition_penalty", "no_repeat_ngram_size")


def generate(args):
    if args.interactive:
        prompt = None
    else:
        prompt = read_prompt(args)
    if args.model == "":
        raise ValueError("--model is empty: give a model name or directory, or leave --model out for the default")
    if args.seed is not None and args.seed < -1:
        raise ValueError(f"--seed must be an integer >= 0, or -1 for a random one; got {args.seed}")
    seed = None if args.seed == -1 else args.seed
    gpt = GPT.from_pretrained(args.model, source=args.source) if args.model is not None else default_model(args.source)
    stop = [unescape(s) for s in args.stop]
    if args.interactive and (args.num_beams > 1 or args.num_return_sequences > 1):
        raise ValueError("-i samples one answer a turn: --num-beams and --num-return-sequences do not apply to it")
    options = {
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "min_p": args.min_p,
        "repetition_penalty": args.repetition_penalty,
        "no_repeat_ngram_size": args.no_repeat_ngram_size,
        "seed": seed,
        "truncate_prompt": args.truncate_prompt,
    }
    options = {name: value for name, value in options.items() if value is not None}  # the flags given
    speculative = speculation(args)
    if args.interactive:
        return interact(gpt, args, stop, options)
    echo = "" if args.no_echo else prompt
    if args.num_return_sequences > 1 or args.num_beams > 1:
        texts = gpt.complete(
            prompt,
            args.max_new_tokens,
            stop=stop,
            num_return_sequences=args.num_return_sequences,
            num_beams=args.num_beams,
            **options,
            **speculative,
        )
        texts = texts if isinstance(texts, list) else [texts]
        print("\n----\n".join(echo + text for text in texts))
        return report(speculative.get("stats"))

    slid = []

    def say_once_that_the_window_slid():
        if not slid:
            print(
                f"\ngptlite.generate: the text outgrew the model's context of {gpt.config.n_ctx} tokens; the "
                "window slides on (its first half dropped, the rest recomputed)",
                file=sys.stderr,
            )
        slid.append(True)

    pieces = gpt.stream(
        prompt, args.max_new_tokens, stop=stop, on_slide=say_once_that_the_window_slid, **options, **speculative
    )
    first = next(pieces, "")  # argument errors surface here, before the prompt is printed
    print(echo + first, end="", flush=True)
    for piece in pieces:
        print(piece, end="", flush=True)
    print()
    report(speculative.get("stats"))


def speculation(args):
    """generate's speculative options from the flags: --lookup (prompt lookup), --draft-model (assisted
    generation, the draft loaded here), --verbose (a Stats to fill)."""
    if args.lookup is not None and args.draft_model is not None:
        raise ValueError("give --lookup or --draft-model, not both")
    if args.interactive and (args.lookup is not None or args.draft_model is not None):
        raise ValueError("-i does not decode speculatively: --lookup and --draft-model do not apply to it")
    chosen = {"stats": Stats()} if args.verbose else {}
    if args.lookup is not None:
        chosen["prompt_lookup_num_tokens"] = args.lookup
    if args.draft_model is not None:
        chosen["assistant_model"] = GPT.from_pretrained(args.draft_model, source=args.source)
    return chosen


def report(stats):
    """--verbose: what the passes gave, on stderr."""
    if stats is not None:
        print(
            f"gptlite.generate: {stats.tokens} tokens in {stats.passes} passes of the model "
            f"({stats.tokens_per_pass:.2f} a pass for each sequence); {stats.proposed} proposed, "
            f"{stats.accepted} accepted ({100 * stats.acceptance_rate:.1f}%)",
            file=sys.stderr,
        )


def main(argv=None):
    args = parser().parse_args(argv)
    return run("gptlite.generate", lambda: generate(args))


if __name__ == "__main__":
    sys.exit(main())
