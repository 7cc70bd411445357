"""`python -m gptlite.eval --task summarize|translate|qa|nq`: metrics, the --out file, resuming, one-line errors."""

import json

import pytest

from gptlite.eval import main, numbered_jsonl
from gptlite.metrics import bleu, rouge

ARTICLES = [
    {"article": "The king is dead. The lords of the court went to war.", "highlights": "The king is dead.\nWar."},
    {"article": "Romeo loves Juliet, and they meet at a feast.", "highlights": "Romeo meets Juliet at a feast."},
    {"article": "A storm at sea wrecks the ship of the duke.", "highlights": "The duke's ship is wrecked."},
]
PAIRS = [("good morning", "bonjour"), ("thank you", "merci"), ("my lord", "monseigneur"), ("good night", "bonne nuit"),
         ("the king", "le roi"), ("the queen", "la reine")]  # fmt: skip
COQA = {"story": "Romeo loves Juliet. They meet at a feast in Verona.", "questions": ["Who loves Juliet?", "Where?"],
        "answers": {"input_text": ["Romeo", "in Verona"], "answer_start": [0, 30]}}  # fmt: skip
NQ = [("Who loves Juliet?", ["Romeo"]), ("Who is the king of Denmark?", ["Claudius"]), ("Who killed Tybalt?", "Romeo"),
      ("Who wrote Hamlet?", ["Shakespeare", "William Shakespeare"])]  # fmt: skip


def write_jsonl(path, items):
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return str(path)


def run_json(capsys, args):
    assert main([*args, "--json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


def records(path):
    header, *lines = open(path, encoding="utf-8").read().splitlines()
    return json.loads(header), [json.loads(line) for line in lines]


def test_summarize_reports_mean_rouge_of_the_first_sentences_of_each_tldr(tmp_path, capsys):
    data, out = write_jsonl(tmp_path / "cnndm.jsonl", ARTICLES), str(tmp_path / "out.jsonl")
    report = run_json(capsys, [data, "--task", "summarize", "--max-new-tokens", "30", "--out", out])
    header, rows = records(out)
    assert header["task"] == "summarize" and header["seed"] == 0 and [r["line"] for r in rows] == [1, 2, 3]
    for row, item in zip(rows, ARTICLES):
        assert row["summary"] and row["generated"].strip().startswith(row["summary"][:10])
        assert {k: row[k] for k in ("rouge1", "rouge2", "rougeL")} == rouge(row["summary"], item["highlights"], True)
    assert report["articles"] == 3 and report["task"] == "summarize"
    for k in ("rouge1", "rouge2", "rougeL"):
        assert report[k] == pytest.approx(100 * sum(r[k] for r in rows) / 3)
    again = run_json(capsys, [data, "--task", "summarize", "--max-new-tokens", "30", "--seed", "0"])
    assert again["rouge1"] == report["rouge1"]  # seeded


def test_an_interrupted_run_resumes_from_its_out_file_with_the_same_metrics(tmp_path, capsys):
    data = write_jsonl(tmp_path / "cnndm.jsonl", ARTICLES)
    full, partial = tmp_path / "full.jsonl", tmp_path / "partial.jsonl"
    options = ["--task", "summarize", "--max-new-tokens", "30"]
    expected = run_json(capsys, [data, *options, "--out", str(full)])
    header, rows = records(full)
    kept = dict(rows[0], generated=rows[0]["generated"] + " [kept]")  # marks the record a resumed run must reuse
    cut = json.dumps(rows[1])[:25]  # the line being written when the run was stopped
    partial.write_text("\n".join(json.dumps(x) for x in [header, kept]) + "\n" + cut, encoding="utf-8")
    resumed = run_json(capsys, [data, *options, "--out", str(partial)])
    assert {k: v for k, v in resumed.items() if k != "seconds"} == {k: v for k, v in expected.items() if k != "seconds"}
    assert records(partial) == (header, [kept, *rows[1:]])


def test_an_out_file_of_another_run_is_refused_and_left_alone(tmp_path, capsys):
    data, out = write_jsonl(tmp_path / "cnndm.jsonl", ARTICLES), tmp_path / "out.jsonl"
    run_json(capsys, [data, "--task", "summarize", "--out", str(out), "--max-new-tokens", "20"])
    before = out.read_text(encoding="utf-8")
    assert main([data, "--task", "summarize", "--out", str(out), "--seed", "1", "--quiet"]) == 2
    assert "not the output of this run" in capsys.readouterr().err and out.read_text(encoding="utf-8") == before


def test_translate_takes_its_examples_from_the_first_lines_and_reports_corpus_bleu(tmp_path, capsys):
    data, out = write_jsonl(tmp_path / "wmt.jsonl", [{"en": en, "fr": fr} for en, fr in PAIRS]), tmp_path / "o.jsonl"
    options = ["--task", "translate", "--examples", "3", "--max-new-tokens", "20"]
    report = run_json(capsys, [data, *options, "--out", str(out)])
    _, rows = records(out)
    translations, references = [r["translation"] for r in rows], [r["reference"] for r in rows]
    assert [r["line"] for r in rows] == [4, 5, 6] and references == ["bonne nuit", "le roi", "la reine"]
    assert report["sentences"] == 3 and report["bleu"] == bleu(translations, references)
    out.unlink()
    run_json(capsys, [data, *options, "--direction", "fr-en", "--out", str(out)])
    assert [r["reference"] for r in records(out)[1]] == ["good night", "the king", "the queen"]


def test_qa_answers_each_question_of_a_coqa_story_after_the_gold_history(tmp_path, capsys):
    data, out = write_jsonl(tmp_path / "coqa.jsonl", [COQA, dict(COQA, answers=["Romeo", "Verona"])]), "o.jsonl"
    report = run_json(capsys, [data, "--task", "qa", "--out", str(tmp_path / out)])
    _, rows = records(tmp_path / out)
    assert [len(r["answers"]) for r in rows] == [2, 2] and report["stories"] == 2 and report["questions"] == 4
    assert report["f1"] == pytest.approx(100 * sum(f for r in rows for f in r["f1"]) / 4)


def test_nq_reports_exact_match_and_the_most_confident_answers(tmp_path, capsys):
    data, out = write_jsonl(tmp_path / "nq.jsonl", [{"question": q, "answer": a} for q, a in NQ]), "o.jsonl"
    report = run_json(capsys, [data, "--task", "nq", "--examples", "2", "--out", str(tmp_path / out)])
    _, rows = records(tmp_path / out)
    assert [r["line"] for r in rows] == [3, 4] and all(0 <= r["probability"] <= 1 for r in rows)
    top = max(rows, key=lambda r: r["probability"])
    assert report["questions"] == 2 and report["exact_match_most_confident_1pct"] == 100 * top["exact_match"]
    assert report["exact_match"] == 100 * sum(r["exact_match"] for r in rows) / 2


def test_prints_the_metrics_as_aligned_lines(tmp_path, capsys):
    data = write_jsonl(tmp_path / "cnndm.jsonl", ARTICLES[:1])
    assert main([data, "--task", "summarize", "--max-new-tokens", "10", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ROUGE-1 F1" in out and "ROUGE-L F1" in out and "articles" in out


@pytest.mark.parametrize(
    "task, lines, message",
    [
        ("summarize", [ARTICLES[0], {"article": "x"}], "data.jsonl:2: missing field 'highlights'"),
        ("summarize", [{"article": 3, "highlights": "x"}], "data.jsonl:1: field 'article' must be str"),
        ("translate", [{"en": "x", "fr": "y"}, ["en", "fr"]], "data.jsonl:2: each line must be a JSON object"),
        ("qa", [dict(COQA, answers=["one"])], "data.jsonl:1: 2 questions but 1 answers"),
        ("qa", [dict(COQA, answers={"text": ["a", "b"]})], "data.jsonl:1: missing field 'input_text'"),
        ("nq", [{"question": "q", "answer": []}], "data.jsonl:1: field 'answer' must hold one or more strings"),
        ("nq", [{"question": "q", "answer": "a"}], "nothing to score after the 8 example lines"),
        ("qa", [dict(COQA, questions=["why " * 200, "?"])], "data.jsonl:1: the prompt does not fit in 124 tokens"),
    ],
)
def test_bad_lines_get_one_line_naming_the_line_and_the_field(tmp_path, capsys, task, lines, message):
    data = write_jsonl(tmp_path / "data.jsonl", lines)
    assert main([data, "--task", task, "--max-new-tokens", "4", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_progress_bar_moves_by_each_line_once_its_item_is_done(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"a": 1}\n\n{"b": "é"}\n{"c": 3}', encoding="utf-8")
    told = []
    items = numbered_jsonl(str(path), told.append)
    assert next(items) == (1, {"a": 1}) and told == []
    assert next(items) == (3, {"b": "é"}) and told == [9, 1]
    assert list(items) == [(4, {"c": 3})] and sum(told) == path.stat().st_size
