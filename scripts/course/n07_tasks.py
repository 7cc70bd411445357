"""Notebook 07, "Zero-shot tasks, as the GPT-2 paper ran them" (written to notebooks/ by scripts/make_notebooks.py)."""

from course.cells import code, md

CELLS = [
    md("""
# 7. Zero-shot tasks, as the GPT-2 paper ran them

The GPT-2 paper (Radford et al. 2019, Sections 3.5-3.8) asks a plain language model to summarise, translate and
answer questions with nothing but a prompt: no training for the task, just text laid out the way such a task
looks on the web. `gptlite.tasks` builds those prompts with the paper's settings, and `gptlite.metrics` scores
the answers as the field's reference packages do.

Say it plainly first: the bundled model has 3.7M parameters and has read only Shakespeare. It does not summarise
the news, translate French or know who wrote anything. What it shows here is the protocol: the exact prompt, the
generation settings, how the output is cut, and how the metrics read it. The last cells run the same with `gpt2`
on a machine with network.
"""),
    code("""
from gptlite import GPT
from gptlite.metrics import bleu, exact_match, normalize_answer, rouge, rouge_tokens, token_f1
from gptlite.tasks import TLDR, answer, answer_from_memory, conversation, qa_prompt, sentences, summarize
from gptlite.tasks import translate, translation_prompt

gpt = GPT.from_pretrained("gptlite-shakespeare")
gpt
"""),
    md("""
## Summarise: the article, then TL;DR:

Section 3.6: "we add the text TL;DR: after the article and generate 100 tokens with Top-k random sampling with
k = 2", and the summary is the first 3 generated sentences. OpenAI's layout (openai/gpt-2#33) puts TL;DR: on a
line of its own. The prompt and the 100 new tokens must fit in the context together: 1024 tokens for gpt2, only
128 here, so the article is cut at its end until the whole prompt has at most 28 tokens.
"""),
    code("""
article = ("The city council voted on Tuesday to close the old bridge over the river for repairs. "
           "Traffic will move to the ferry until the work is done in the spring, officials said.")
highlights = "The old bridge will close for repairs.\\nTraffic moves to the ferry until spring."
print(repr(article + TLDR))
print(len(gpt.encode_prompt(article + TLDR)), "tokens; room beside 100 new ones:", gpt.config.n_ctx - 100)
"""),
    code("""
out = summarize(gpt, article, seed=0)
print("prompt:   ", repr(out.prompt), "(cut)" if out.truncated else "")
print("settings: ", out.settings)
print("generated:", repr(out.generated))
print("sentences:", sentences(out.generated)[:4])
print("summary:  ", repr(out.text))
"""),
    md("""
ROUGE compares the summary with the reference highlights word by word: lower-case runs of letters and digits,
optionally Porter-stemmed, then F1 over shared unigrams (ROUGE-1), bigrams (ROUGE-2) and the longest common
subsequence (ROUGE-L). A sonnet fragment scores near zero; a sensible summary would not.
"""),
    code("""
print(rouge_tokens(highlights, stem=True))
print("the model's:", rouge(out.text, highlights, stem=True))
print("a person's: ", rouge("The bridge closes for repairs; traffic takes the ferry.", highlights, stem=True))
"""),
    md("""
## Translate: example pairs, then "sentence ="

Section 3.7 conditions on example pairs `english sentence = french sentence` and then `english sentence =`,
decodes greedily and keeps the first generated sentence. The paper does not say how many pairs; the command
takes 8. BLEU (sacrebleu's corpus BLEU, 13a tokenisation) counts matching 1- to 4-grams, with a brevity
penalty.
"""),
    code("""
pairs = [("Good morning.", "Bonjour."), ("Thank you very much.", "Merci beaucoup."),
         ("Where is the king?", "Où est le roi ?")]
print(translation_prompt(pairs, "Good night."))
out = translate(gpt, "Good night.", pairs, max_new_tokens=24)
print("->", repr(out.generated), "->", repr(out.text), out.settings)
print("BLEU:", bleu([out.text], ["Bonne nuit."]))
print("a near miss:", bleu(["Bonne nuit, mon roi."], ["Bonne nuit, mon seigneur."]))
"""),
    md("""
## Answer about a passage (CoQA)

Section 3.5 gives the model the document, the conversation so far and a final `A:`, decodes greedily and reads
the answer to the end of the line. The metric is token F1 after the SQuAD/CoQA normalisation: lower-case, no
punctuation, no a/an/the.
"""),
    code("""
story = "Romeo loves Juliet. They meet at a feast in Verona, and marry in secret."
history = [("Who loves Juliet?", "Romeo")]
print(story + "\\n\\n" + conversation(history, "Where do they meet?"))
out = answer(gpt, story, history, "Where do they meet?", max_new_tokens=16)
print("->", repr(out.text))
print(normalize_answer("At a feast, in Verona!"), "| F1:", token_f1(out.text, "at a feast in Verona"),
      "| a close answer:", token_f1("a feast in Verona", "at a feast in Verona"))
"""),
    md("""
## Answer from memory (Natural Questions)

Section 3.8 seeds the context with question-answer pairs, then asks; exact match is the metric (GPT-2: 4.1%).
The probability of the answer matters too: on the 1% of questions it was most sure of, GPT-2 was right 63.1% of
the time. `probability` is the product of the answer tokens' probabilities.
"""),
    code("""
examples = [("What say you?", "I say nothing, my lord."), ("Where is the king?", "He is gone to the court.")]
print(qa_prompt(examples, "What is your name?"))
out = answer_from_memory(gpt, "What is your name?", examples, max_new_tokens=12)
print("->", repr(out.text), f"probability {out.probability:.2e}", "exact match:", exact_match(out.text, "Romeo"))
"""),
    md("""
## The same from the shell

`python -m gptlite.eval FILE --task summarize|translate|qa|nq` reads JSON Lines in the formats the `datasets` hub
ships, prints the metrics on the paper's 0-100 scale, and with `--out` keeps every generation and resumes an
interrupted run:
"""),
    code("""
import json, tempfile
from pathlib import Path
from gptlite.eval import main

folder = Path(tempfile.mkdtemp())
item = {"story": story, "questions": ["Who loves Juliet?", "Where do they meet?"],
        "answers": {"input_text": ["Romeo", "at a feast in Verona"]}}
(folder / "coqa.jsonl").write_text(json.dumps(item) + "\\n")
main([str(folder / "coqa.jsonl"), "--task", "qa", "--max-new-tokens", "16", "--out", str(folder / "out.jsonl"),
      "--quiet"])
print((folder / "out.jsonl").read_text())
"""),
    md("""
## With gpt2, on a machine with network

Set `RUN_GPT2 = True` to download gpt2 (548 MB, once) and run the same tasks with a model that has read the web.
The paper's numbers are for its largest model, 1542M parameters in the paper (OpenAI's folder calls it 1558M),
`gpt2-xl`; the README has the commands for each test set.
"""),
    code("""
RUN_GPT2 = False  # True: needs network the first time
if RUN_GPT2:
    big = GPT.from_pretrained("gpt2")
    print(summarize(big, article, seed=0).text)
    print(translate(big, "Good night.", pairs).text)
    print(answer(big, story, history, "Where do they meet?").text)
    qa = [("Who wrote the Odyssey?", "Homer"), ("What is the capital of Italy?", "Rome")]
    print(answer_from_memory(big, "Who wrote Hamlet?", qa))
"""),
]
