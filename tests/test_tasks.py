"""The zero-shot tasks: prompts laid out as documented, the paper's settings honoured, the generations cut right."""

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest

from gptlite import GPT
from gptlite.model import log_softmax
from gptlite.tasks import (
    TLDR,
    answer,
    answer_from_memory,
    first_line,
    first_sentences,
    sentences,
    summarize,
    translate,
    until_line_end,
)

from helpers import MODELS

ARTICLE = "The king is dead. The lords of the court went to war."
PAIRS = [("good morning", "bonjour"), ("thank you", "merci"), ("my lord", "monseigneur")]


@pytest.fixture(scope="module")
def bard():
    return GPT.from_pretrained("gptlite-shakespeare")


def test_sentences_end_at_line_breaks_and_at_final_punctuation_before_white_space():
    text = 'He paid $3.14 today. "Yes!" he said...  Then (quietly.) he left?\n\nA line without an end\nlast'
    assert sentences(text) == ["He paid $3.14 today.", '"Yes!"', "he said...", "Then (quietly.)", "he left?",
                               "A line without an end", "last"]  # fmt: skip
    assert sentences("U.S. troops") == ["U.S.", "troops"]  # an abbreviation ends a sentence: a simple splitter
    assert sentences("") == [] and sentences(" \n \n") == []
    assert first_sentences(" One. Two!\nThree? Four.", 3) == "One. Two! Three?"
    assert first_sentences("Only one", 3) == "Only one"
    assert first_line(" Paris, France \nQ: next") == "Paris, France" and first_line("") == ""


def test_a_long_run_of_punctuation_is_split_in_linear_time():
    start = time.perf_counter()
    line = "!" * 200_000 + "x " + "?" * 100_000 + ")" * 100_000 + "y"  # each run is followed by a letter
    assert sentences(line) == [line]
    assert time.perf_counter() - start < 5  # a backtracking pattern takes hours


def test_summarize_prompts_with_tldr_and_samples_100_tokens_from_the_top_2(bard):
    out = summarize(bard, ARTICLE, seed=5)
    assert out.prompt == ARTICLE + "\nTL;DR:" and TLDR == "\nTL;DR:" and not out.truncated
    assert out.settings == dict(max_new_tokens=100, temperature=1.0, top_k=2, seed=5)
    assert out.generated == bard.complete(out.prompt, 100, temperature=1.0, top_k=2, seed=5)
    assert out.text == " ".join(sentences(out.generated)[:3])
    assert out.generated != bard.complete(out.prompt, 100, seed=5)  # not complete's own defaults


def test_summarize_settings_can_be_overridden(bard):
    out = summarize(bard, ARTICLE, cue="\nIn short:", max_new_tokens=12, temperature=0.0, n_sentences=1, top_p=0.5)
    assert out.prompt == ARTICLE + "\nIn short:"
    assert out.settings == dict(max_new_tokens=12, temperature=0.0, top_k=2, seed=None, top_p=0.5)
    assert out.generated == bard.complete(out.prompt, 12, temperature=0.0)
    assert out.text == (sentences(out.generated) or [""])[0]


def test_a_long_article_is_cut_at_its_end_to_leave_room_for_the_summary(bard):
    article = " ".join(f"Line {i} of the play, and the king speaks." for i in range(40))
    out = summarize(bard, article, max_new_tokens=100, seed=1)
    ids = bard.encode_prompt(out.prompt)
    assert out.truncated and out.prompt.endswith("\nTL;DR:") and len(ids) <= 128 - 100
    kept = out.prompt[: -len("\nTL;DR:")]
    assert article.startswith(kept) and len(kept) > 10
    longer = bard.tokenizer.encode(article)[: len(bard.tokenizer.encode(kept)) + 1]
    assert len(bard.encode_prompt(bard.tokenizer.decode(longer) + "\nTL;DR:")) > 28  # one token more would not fit


def test_translate_lays_out_example_pairs_and_decodes_greedily_to_the_first_sentence(bard):
    out = translate(bard, "good night", PAIRS, max_new_tokens=40)
    assert out.prompt == "good morning = bonjour\nthank you = merci\nmy lord = monseigneur\ngood night ="
    assert out.settings == dict(max_new_tokens=40, temperature=0.0, seed=None, stop="\n")
    assert out.generated == bard.complete(out.prompt, 40, temperature=0.0, stop="\n")
    assert "\n" not in out.generated and out.text == first_sentences(out.generated, 1)
    reverse = translate(bard, "bonne nuit", [(fr, en) for en, fr in PAIRS], max_new_tokens=40)
    assert reverse.prompt.startswith("bonjour = good morning\n") and reverse.prompt.endswith("\nbonne nuit =")


def test_the_earliest_examples_are_left_out_when_they_do_not_fit(bard):
    pairs = [(f"sentence number {i}", f"phrase numéro {i}") for i in range(30)]
    out = translate(bard, "the last one", pairs, max_new_tokens=40)
    assert out.truncated and len(bard.encode_prompt(out.prompt)) <= 128 - 40
    lines = out.prompt.split("\n")
    kept = len(lines) - 1
    assert 0 < kept < 30 and lines[:-1] == [f"{en} = {fr}" for en, fr in pairs[30 - kept :]]
    one_more = "\n".join([f"{pairs[29 - kept][0]} = {pairs[29 - kept][1]}", out.prompt])
    assert len(bard.encode_prompt(one_more)) > 128 - 40


def test_answer_conditions_on_the_document_and_the_conversation_then_a_final_a(bard):
    story = "Romeo loves Juliet. They meet at a feast in Verona."
    out = answer(bard, story, [("Who loves Juliet?", "Romeo"), ("Where?", "Verona")], "When do they meet?")
    expected = f"{story}\n\nQ: Who loves Juliet?\nA: Romeo\nQ: Where?\nA: Verona\nQ: When do they meet?\nA:"
    assert out.prompt == expected and not out.truncated
    assert out.settings == dict(max_new_tokens=32, temperature=0.0, seed=None, stop="\n")
    assert out.generated == bard.complete(expected, 32, temperature=0.0, stop="\n")
    assert out.text == out.generated.strip()
    assert answer(bard, story, [], "Who?").prompt == f"{story}\n\nQ: Who?\nA:"


def test_a_long_story_is_cut_and_the_conversation_kept(bard):
    story = " ".join(f"In scene {i} the duke walks in the garden." for i in range(30))
    out = answer(bard, story, [("Who walks?", "the duke")], "Where?", max_new_tokens=16)
    assert out.truncated and len(bard.encode_prompt(out.prompt)) <= 128 - 16
    kept, talk = out.prompt.split("\n\n")
    assert story.startswith(kept) and talk == "Q: Who walks?\nA: the duke\nQ: Where?\nA:"


def test_answer_from_memory_reports_the_probability_of_its_greedy_answer(bard):
    examples = [("What say you?", "I say nothing, my lord."), ("Where is the king?", "He is gone to the court.")]
    out = answer_from_memory(bard, "What is your name?", examples, max_new_tokens=12)
    expected = "Q: What say you?\nA: I say nothing, my lord.\n\nQ: Where is the king?\nA: He is gone to the court.\n\n"
    assert out.prompt == expected + "Q: What is your name?\nA:"
    assert out.settings == dict(max_new_tokens=12, temperature=0.0, seed=None)
    prompt_ids = bard.encode_prompt(out.prompt)
    new = bard.generate(prompt_ids, 12, temperature=0.0)
    assert out.generated == bard.tokenizer.decode(new) and out.text == first_line(out.generated)
    n_answer = next(i for i, t in enumerate(new) if "\n" in bard.tokenizer.decode([t]))  # no token mixes the two
    assert out.text and n_answer > 0
    ids = prompt_ids + new[:n_answer]
    logprobs = log_softmax(bard(ids).astype(np.float64))  # [n, n_vocab]
    expected = math.exp(sum(logprobs[len(prompt_ids) - 1 + i, t] for i, t in enumerate(new[:n_answer])))
    assert 0 < out.probability < 1 and out.probability == pytest.approx(expected, rel=1e-5)


def test_the_first_line_of_tokens_keeps_a_token_whose_text_starts_it():
    pieces = {1: b" Par", 2: b"is", 3: b"\n", 4: b"x.\nQ", 5: b"\xc3", 6: b"\xa9"}
    gpt = SimpleNamespace(tokenizer=SimpleNamespace(decode_bytes=lambda ids: b"".join(pieces[i] for i in ids)))
    assert until_line_end(gpt, [1, 2, 3, 1]) == ([1, 2], "Paris")
    assert until_line_end(gpt, [1, 4, 2]) == ([1, 4], "Parx.")
    assert until_line_end(gpt, [3, 1]) == ([], "")
    assert until_line_end(gpt, [5, 6, 1]) == ([5, 6, 1], "é Par")


def test_an_empty_answer_has_probability_zero(tiny):
    out = answer_from_memory(tiny, "q", [], max_new_tokens=1, logit_bias={198: 100.0})  # 198: GPT-2's "\n"
    assert out.text == "" and out.probability == 0.0 and out.generated == "\n"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: summarize(g, None), "article must be a string"),
        (lambda g: summarize(g, "x", max_new_tokens=128), "leaves no room"),
        (lambda g: summarize(g, "x", max_new_tokens=True), "max_new_tokens must be an integer"),
        (lambda g: summarize(g, "x", n_sentences=0), "n_sentences must be"),
        (lambda g: translate(g, "x", [("a",)]), "examples must be a list of"),
        (lambda g: translate(g, "word " * 200, [], max_new_tokens=8), "does not fit"),
        (lambda g: answer(g, "story", [("q", 1)], "q"), "history must be"),
        (lambda g: answer(g, "story", [], "why " * 200), "even without its passage"),
        (lambda g: answer_from_memory(g, 3, []), "question must be a string"),
    ],
)
def test_bad_arguments_get_one_clear_error(bard, call, message):
    with pytest.raises(ValueError, match=message):
        call(bard)


def test_a_model_without_a_tokenizer_is_refused():
    gpt = GPT.from_pretrained(MODELS / "depth6")
    assert gpt.tokenizer is None
    with pytest.raises(ValueError, match="need a model with a tokenizer"):
        summarize(gpt, "x")
