"""The task metrics against their reference implementations (scripts/make_metric_fixtures.py wrote the scores)."""

import json

import pytest

from gptlite.metrics import bleu, exact_match, normalize_answer, porter_stem, rouge, rouge_tokens, token_f1

from helpers import FIXTURES

REF = json.loads((FIXTURES / "metrics.json").read_text(encoding="utf-8"))


def test_the_porter_stemmer_equals_nltks_default_mode_on_every_word():
    words, stems = REF["porter"]["words"], REF["porter"]["stems"]
    assert len(words) > 3000 and sum(w != s for w, s in zip(words, stems)) > 1000  # most words do change
    assert [porter_stem(w) for w in words] == stems


def test_rouge_equals_rouge_score_on_every_pair():
    cases = REF["rouge"]
    assert len(cases) >= 400 and {c["stem"] for c in cases} == {False, True}
    assert sum(0 < c["rouge2"] < 1 for c in cases) > 100  # partial overlaps, not only 0 and 1
    for c in cases:
        got = rouge(c["prediction"], c["reference"], stem=c["stem"])
        assert got == pytest.approx({k: c[k] for k in ("rouge1", "rouge2", "rougeL")}, abs=1e-12), c


def test_stemming_changes_rouge_where_only_the_suffixes_differ():
    assert rouge("the cats were running", "the cat was run")["rouge1"] == pytest.approx(0.25)
    assert rouge("the cats were running", "the cat was run", stem=True)["rouge1"] == pytest.approx(0.75)
    assert rouge_tokens("Ünïcode, ALL-CAPS 3.14!") == ["n", "code", "all", "caps", "3", "14"]


def test_bleu_equals_sacrebleu_corpus_bleu_on_every_corpus():
    cases = REF["bleu"]
    assert sum(len(c["predictions"]) > 1 for c in cases) > 90
    assert sum(isinstance(c["references"][0], list) for c in cases) >= 40  # several reference streams
    assert sum(c["bleu"] > 0 for c in cases) > 100
    for c in cases:
        assert bleu(c["predictions"], c["references"]) == pytest.approx(c["bleu"], abs=1e-9), c


def test_one_reference_per_prediction_is_one_reference_stream():
    predictions = ["the cat sat on the mat .", "a dog ran in the park"]
    references = ["the cat sat on a mat .", "the dog ran in the park"]
    assert bleu(predictions, references) == bleu(predictions, [references])
    assert bleu(predictions, [references, [None, "a dog ran in the park"]]) > bleu(predictions, references)


def test_token_f1_and_exact_match_equal_the_squad_script_on_every_pair():
    cases = REF["squad"]
    assert sum(0 < c["f1"] < 1 for c in cases) > 100 and sum(c["exact_match"] for c in cases) > 50
    for c in cases:
        assert normalize_answer(c["prediction"]).split() == c["tokens"], c
        assert token_f1(c["prediction"], c["answer"]) == pytest.approx(c["f1"], abs=1e-6), c  # theirs is float32
        assert exact_match(c["prediction"], c["answer"]) == c["exact_match"], c


def test_several_gold_answers_count_the_best():
    assert token_f1("a black cat", ["dog", "the black cat sat"]) == pytest.approx(0.8)
    assert exact_match("The Cat!", ["dog", "cat"]) == 1.0
    assert exact_match("cat", ["dog", "cats"]) == 0.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rouge(None, "x"), "prediction must be a string"),
        (lambda: bleu([], ["x"]), "non-empty list"),
        (lambda: bleu(["x"], "x"), "references must be"),
        (lambda: bleu(["x", "y"], ["x"]), "1 references for 2 predictions"),
        (lambda: bleu(["x"], [[None]]), "prediction 0 has no reference"),
        (lambda: bleu(["x"], [[1]]), "lists of strings"),
        (lambda: token_f1("x", []), "non-empty list"),
        (lambda: exact_match(3, "x"), "prediction must be a string"),
    ],
)
def test_bad_arguments_get_one_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
