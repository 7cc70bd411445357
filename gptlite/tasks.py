"""Zero-shot tasks as the GPT-2 paper ran them: summarise, translate, answer about a passage, answer from memory.

Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", Sections 3.5-3.8, show a plain
language model doing each task when the prompt is laid out as the task looks in text found on the web. Each
function here builds that prompt, generates with the paper's settings (every one of them can be overridden) and
cuts the generation as the paper did:

* `summarize` (Section 3.6, CNN/Daily Mail): the article, then "\\nTL;DR:" (the layout OpenAI gave in
  openai/gpt-2#33); 100 tokens by top-k sampling with k = 2; the summary is the first 3 generated sentences.
* `translate` (Section 3.7, WMT-14): example pairs "english sentence = french sentence", one a line, then
  "english sentence ="; greedy; the translation is the first generated sentence. The paper does not say how many
  example pairs it used: gptlite's evaluation takes 8 (`gptlite.eval --examples`), which at WMT-14's sentence lengths
  should fill about two thirds of GPT-2's 1024-token context (an estimate), leaving room for the sentence and its
  translation.
* `answer` (Section 3.5, CoQA): the document, the conversation so far as "Q: ..." and "A: ..." lines, the new
  question, then a final "A:"; greedy; the answer is the generation up to the end of its line.
* `answer_from_memory` (Section 3.8, Natural Questions): example question-answer pairs in the same "Q:"/"A:"
  layout, then the question and "A:"; greedy, up to the end of the line. The answer's probability is reported too
  (the product of its tokens' probabilities), since the paper's 63.1% accuracy is on the 1% of questions GPT-2 is
  most confident about. The paper gives no number of examples either: gptlite's evaluation takes 8.

The paper gives the layout of each prompt in words, not characters: the separators here (a blank line between the
document and the conversation, " = " between a sentence and its translation) are gptlite's reading of it.

A prompt must leave room for `max_new_tokens` in the model's context: a summarised article or a CoQA story is cut
at its end (whole tokens), and the earliest translation or question-answer examples are left out; `truncated`
says when that happened. Sentences end at a line break, or after ".", "!" or "?" (and any closing quotes or
brackets) followed by white space; abbreviations such as "Mr." end a sentence too, as in any splitter this simple.
"""

import math
from dataclasses import dataclass

import regex

from .checks import is_integer
from .metrics import bleu, exact_match, rouge, token_f1

TLDR = "\nTL;DR:"  # openai/gpt-2#33
ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")
# The end of a sentence: a run of . ! ? (not begun inside another), closing quotes or brackets, then white space or
# the end. Possessive quantifiers (the `regex` module's): no backtracking, so a long run of "!" costs linear time.
SENTENCE_END = regex.compile(r"(?<![.!?])[.!?]++[\"'”’)\]]*+(?=\s|$)")


@dataclass
class TaskOutput:
    """What a task produced: the answer, the prompt the model saw, all it generated and how."""

    text: str  # the summary, translation or answer, cut from the generation as the paper did
    prompt: str  # the exact prompt
    generated: str  # the whole generation, before cutting
    settings: dict  # the generation settings used
    truncated: bool = False  # whether the passage was cut or examples left out to fit the context
    probability: float | None = None  # answer_from_memory: the answer's probability under the model


# ---------------------------------------------------------------- cutting generated text


def sentences(text):
    """The sentences of a text (see the module docstring for where one ends), each stripped."""
    out = []
    for line in text.split("\n"):
        start = 0
        for end in SENTENCE_END.finditer(line):
            out.append(line[start : end.end()].strip())
            start = end.end()
        out.append(line[start:].strip())
    return [s for s in out if s]


def first_sentences(text, n):
    """The first n sentences, joined by a space."""
    return " ".join(sentences(text)[:n])


def first_line(text):
    """The text up to its first line break, stripped."""
    return text.split("\n", 1)[0].strip()


# ---------------------------------------------------------------- checking and fitting prompts


def check_model(gpt):
    if gpt.tokenizer is None:
        raise ValueError("the tasks need a model with a tokenizer: they read and write text")


def check_text(value, name):
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    return value


def check_pairs(pairs, name):
    """A list of (str, str) pairs, as a list of tuples."""
    if not isinstance(pairs, (list, tuple)) or not all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs
    ):
        raise ValueError(f"{name} must be a list of (text, text) pairs")
    return [tuple(p) for p in pairs]


def room(gpt, max_new_tokens):
    """How many prompt tokens fit in the context beside max_new_tokens new ones."""
    if not is_integer(max_new_tokens) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
    if max_new_tokens >= gpt.config.n_ctx:
        raise ValueError(f"max_new_tokens ({max_new_tokens}) leaves no room for a prompt in {gpt.config.n_ctx} tokens")
    return gpt.config.n_ctx - int(max_new_tokens)


def n_tokens(gpt, text):
    return len(gpt.encode_prompt(text))


def fit_passage(gpt, passage, layout, budget):
    """layout(passage) with the passage cut at its end, by whole tokens, until the prompt has at most `budget`
    tokens: (prompt, truncated)."""
    prompt = layout(passage)
    if n_tokens(gpt, prompt) <= budget:
        return prompt, False
    ids = gpt.tokenizer.encode(passage, allowed_special="all")
    keep = len(ids) - (n_tokens(gpt, prompt) - budget)
    while keep > 0:
        prompt = layout(gpt.tokenizer.decode(ids[:keep]))
        over = n_tokens(gpt, prompt) - budget
        if over <= 0:
            return prompt, True
        keep -= over  # a cut inside a character decodes to U+FFFD, which can take more tokens
    raise ValueError(f"the prompt does not fit in {budget} tokens even without its passage")


def fit_examples(gpt, examples, layout, budget):
    """layout(examples) with the earliest examples left out until the prompt has at most `budget` tokens:
    (prompt, truncated)."""
    for start in range(len(examples) + 1):
        prompt = layout(examples[start:])
        if n_tokens(gpt, prompt) <= budget:
            return prompt, start > 0
    raise ValueError(f"the prompt does not fit in {budget} tokens even without examples")


# ---------------------------------------------------------------- the tasks


def summarize(gpt, article: str, *, cue: str = TLDR, max_new_tokens: int = 100, temperature: float = 1.0,
              top_k: int = 2, n_sentences: int = 3, seed=None, **options) -> TaskOutput:  # fmt: skip
    """Summarise an article as Section 3.6 did: `article + cue`, then `max_new_tokens` tokens sampled from the top
    k = 2 at temperature 1 ("Top-k random sampling with k = 2", 100 tokens), of which the first `n_sentences` = 3
    sentences are the summary. `options` go to `gpt.complete` (top_p, repetition_penalty, ...)."""
    check_model(gpt)
    check_text(article, "article")
    check_text(cue, "cue")
    if not is_integer(n_sentences) or n_sentences < 1:
        raise ValueError(f"n_sentences must be an integer >= 1, got {n_sentences!r}")
    prompt, truncated = fit_passage(gpt, article, lambda a: a + cue, room(gpt, max_new_tokens))
    settings = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, seed=seed, **options)
    generated = gpt.complete(prompt, **settings)
    return TaskOutput(first_sentences(generated, n_sentences), prompt, generated, settings, truncated)


def translation_prompt(examples, text, separator=" = "):
    """Example pairs "source = target", one a line, then "text =" (Section 3.7)."""
    lines = [f"{source}{separator}{target}" for source, target in examples]
    return "\n".join([*lines, f"{text}{separator.rstrip()}"])


def translate(gpt, text: str, examples, *, separator: str = " = ", max_new_tokens: int = 128,
              temperature: float = 0.0, seed=None, **options) -> TaskOutput:  # fmt: skip
    """Translate as Section 3.7 did: the example (source, target) pairs as "source = target" lines, then
    "text =", and greedy decoding (temperature 0), of which the first generated sentence is the translation.
    The direction is the examples': give (english, french) pairs to translate English into French. Generation
    stops at the end of the line; `max_new_tokens` bounds a line that never ends."""
    check_model(gpt)
    check_text(text, "text")
    examples = check_pairs(examples, "examples")
    layout = lambda chosen: translation_prompt(chosen, text, separator)  # noqa: E731
    prompt, truncated = fit_examples(gpt, examples, layout, room(gpt, max_new_tokens))
    settings = dict(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, stop="\n", **options)
    generated = gpt.complete(prompt, **settings)
    return TaskOutput(first_sentences(generated, 1), prompt, generated, settings, truncated)


def conversation(history, question):
    """The turns so far as "Q: ..." / "A: ..." lines, then the new question and a final "A:"."""
    turns = [f"Q: {q}\nA: {a}" for q, a in history]
    return "\n".join([*turns, f"Q: {question}\nA:"])


def answer(gpt, story: str, history, question: str, *, max_new_tokens: int = 32, temperature: float = 0.0,
           seed=None, **options) -> TaskOutput:  # fmt: skip
    """Answer a question about a document as Section 3.5 did for CoQA: the document, a blank line, the
    conversation so far (`history`, a list of (question, answer) pairs) as Q:/A: lines, the question and a final
    "A:"; greedy decoding, up to the end of the line."""
    check_model(gpt)
    check_text(story, "story")
    check_text(question, "question")
    talk = conversation(check_pairs(history, "history"), question)
    prompt, truncated = fit_passage(gpt, story, lambda s: f"{s}\n\n{talk}", room(gpt, max_new_tokens))
    settings = dict(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, stop="\n", **options)
    generated = gpt.complete(prompt, **settings)
    return TaskOutput(first_line(generated), prompt, generated, settings, truncated)


def qa_prompt(examples, question):
    """Example pairs as "Q: ..." / "A: ..." lines, a blank line between pairs, then the question and "A:"."""
    pairs = [f"Q: {q}\nA: {a}" for q, a in examples]
    return "\n\n".join([*pairs, f"Q: {question}\nA:"])


def answer_from_memory(gpt, question: str, examples, *, max_new_tokens: int = 16, temperature: float = 0.0,
                       seed=None, **options) -> TaskOutput:  # fmt: skip
    """Answer a question with no document, as Section 3.8 did for Natural Questions: example (question, answer)
    pairs, then the question; greedy decoding, up to the end of the line. `probability` is the product of the
    answer tokens' probabilities given the prompt (0 for an empty answer); the paper ranks answers by it."""
    check_model(gpt)
    check_text(question, "question")
    examples = check_pairs(examples, "examples")
    prompt, truncated = fit_examples(gpt, examples, lambda chosen: qa_prompt(chosen, question),
                                     room(gpt, max_new_tokens))  # fmt: skip
    settings = dict(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, **options)
    prompt_ids = gpt.encode_prompt(prompt)
    new = gpt.generate(prompt_ids, **settings)
    answer_ids, text = until_line_end(gpt, new)
    generated = gpt.tokenizer.decode(new)
    return TaskOutput(text, prompt, generated, settings, truncated, answer_probability(gpt, prompt_ids, answer_ids))


def until_line_end(gpt, new):
    """The generated tokens that hold the first line (a token that holds the line break too counts when it starts
    the line's text), and that line's text, stripped."""
    line = b""
    for i, token in enumerate(new):
        piece = gpt.tokenizer.decode_bytes([token])
        if b"\n" in piece:
            head = piece.split(b"\n", 1)[0]
            return new[: i + 1] if head else new[:i], (line + head).decode("utf-8", errors="replace").strip()
        line += piece
    return list(new), line.decode("utf-8", errors="replace").strip()


def answer_probability(gpt, prompt_ids, answer_ids):
    """exp(sum of log p(answer token | prompt, earlier answer tokens)), by `gpt.score`; 0 for no answer."""
    if not answer_ids:
        return 0.0
    score = gpt.score(list(prompt_ids) + list(answer_ids), prepend_eot=False)
    return math.exp(float(score.logprobs[-len(answer_ids) :].sum()))


# ---------------------------------------------------------------- data sets, one item a JSON line

# The fields of each task's JSON Lines, as the `datasets` hub ships them: CNN/Daily Mail (abisee/cnn_dailymail),
# WMT-14 fr-en's {"translation": {...}} flattened to {"en", "fr"}, CoQA (stanfordnlp/coqa: "answers" is a dict whose
# "input_text" holds the answers; a plain list is taken too) and Natural Questions open (nq_open: "answer" is a list
# of accepted answers; a string is taken too).
FIELDS = {"summarize": ("article", "highlights"), "translate": ("en", "fr"), "qa": ("story", "questions", "answers"),
          "nq": ("question", "answer")}  # fmt: skip


def field(item, name, kinds):
    if name not in item:
        raise ValueError(f"missing field {name!r}")
    if not isinstance(item[name], kinds):
        raise ValueError(f"field {name!r} must be {' or '.join(k.__name__ for k in kinds)}")
    return item[name]


def strings(value, name):
    if not value or not all(isinstance(s, str) for s in value):
        raise ValueError(f"field {name!r} must hold one or more strings")
    return list(value)


def check_item(task, item):
    """One JSON object of a task's file, as the task takes it: (article, highlights), (en, fr), (story, [(question,
    answer), ...]) or (question, [accepted answers]). A missing or ill-typed field is a ValueError naming it."""
    if not isinstance(item, dict):
        raise ValueError(f"each line must be a JSON object with the fields {', '.join(FIELDS[task])}")
    if task in ("summarize", "translate"):
        return tuple(field(item, name, (str,)) for name in FIELDS[task])
    if task == "nq":
        gold = field(item, "answer", (str, list))
        return field(item, "question", (str,)), strings([gold] if isinstance(gold, str) else gold, "answer")
    story, questions = field(item, "story", (str,)), strings(field(item, "questions", (list,)), "questions")
    answers = field(item, "answers", (list, dict))
    if isinstance(answers, dict):
        answers = field(answers, "input_text", (list,))
    answers = strings(answers, "answers")
    if len(answers) != len(questions):
        raise ValueError(f"{len(questions)} questions but {len(answers)} answers")
    return story, list(zip(questions, answers))


def run_item(gpt, task, item, examples=(), stem=True, **settings):
    """Run a task on one checked item (`check_item`) and score it: a JSON-ready record. `examples` are the
    (source, target) or (question, answer) pairs of translate and nq; `settings` go to the task's function."""
    if task == "summarize":
        article, highlights = item
        out = summarize(gpt, article, **settings)
        return {"summary": out.text, "generated": out.generated, "truncated": out.truncated,
                **rouge(out.text, highlights, stem=stem)}  # fmt: skip
    if task == "translate":
        source, reference = item
        out = translate(gpt, source, examples, **settings)
        return {"translation": out.text, "reference": reference, "truncated": out.truncated}
    if task == "nq":
        question, gold = item
        out = answer_from_memory(gpt, question, examples, **settings)
        return {"answer": out.text, "probability": out.probability, "exact_match": exact_match(out.text, gold),
                "f1": token_f1(out.text, gold), "truncated": out.truncated}  # fmt: skip
    story, turns = item
    predictions = [answer(gpt, story, turns[:i], q, **settings) for i, (q, _) in enumerate(turns)]
    texts = [p.text for p in predictions]
    return {"answers": texts, "f1": [token_f1(t, gold) for t, (_, gold) in zip(texts, turns)],
            "exact_match": [exact_match(t, gold) for t, (_, gold) in zip(texts, turns)],
            "truncated": any(p.truncated for p in predictions)}  # fmt: skip


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def report(task, records):
    """The metrics over a task's records (`run_item`), on the paper's 0-100 scale."""
    if task == "summarize":
        return {"articles": len(records), **{k: 100 * mean([r[k] for r in records]) for k in ROUGE_KEYS}}
    if task == "translate":
        score = bleu([r["translation"] for r in records], [r["reference"] for r in records]) if records else math.nan
        return {"sentences": len(records), "bleu": score}
    if task == "nq":
        confident = sorted(records, key=lambda r: -r["probability"])[: math.ceil(len(records) / 100)]
        return {"questions": len(records), "exact_match": 100 * mean([r["exact_match"] for r in records]),
                "f1": 100 * mean([r["f1"] for r in records]),
                "exact_match_most_confident_1pct": 100 * mean([r["exact_match"] for r in confident])}  # fmt: skip
    f1 = [x for r in records for x in r["f1"]]
    return {"stories": len(records), "questions": len(f1), "f1": 100 * mean(f1),
            "exact_match": 100 * mean([x for r in records for x in r["exact_match"]])}  # fmt: skip
