"""Pictures of what the model computed, as self-contained HTML and as plain text.

Each view shows itself three ways: inline in Jupyter (`_repr_html_`), as an HTML
file that opens in any browser (`save(path)`), and as text in a terminal
(`str(view)`). The HTML carries its own CSS and JavaScript and loads nothing
from the network, so a saved page works offline and can be mailed around.

* `TokenView`: the tokens of a text coloured by how likely the model found each
  one; hovering shows the likeliest alternatives at that place.
* `SplitView`: how a tokenizer alone cuts a text, tokens in alternating colours
  with their ids (`Tokenizer.view(text)`: GPT-2's, GPT-4's, GPT-4o's, ...).
* `AttentionView`: every layer's and head's attention pattern, picked with two
  menus, as a heatmap (queries down, keys across) and as a token-to-token view
  (point at a token to shade the tokens it attends to).
* `LogitLensView`: layers down, positions across: the prediction the residual
  stream would give if it were decoded at that layer.
* `TraceView`: a generation token by token, with each token's probability and
  the alternatives.
"""

import base64
import html
import itertools
import json

import numpy as np

CSS = """
.gptlite { font: 13px/1.5 system-ui, sans-serif; color: #222; max-width: 100%; overflow-x: auto; }
.gptlite h3 { font-size: 14px; margin: 12px 0 6px; }
.gptlite .note { color: #666; font-size: 12px; margin: 4px 0; }
.gptlite .tok { white-space: pre; font-family: ui-monospace, Menlo, Consolas, monospace; border-radius: 3px;
  padding: 1px 1px; margin: 0 1px 0 0; cursor: default; display: inline-block; }
.gptlite .tokens { line-height: 2; }
.gptlite .legend span { display: inline-block; padding: 0 6px; margin-right: 2px; border-radius: 3px; }
.gptlite table { border-collapse: collapse; }
.gptlite td.cell { width: 14px; height: 14px; padding: 0; border: 1px solid #f4f4f4; }
.gptlite th { font-weight: normal; font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre;
  padding: 0 4px; }
.gptlite th.key { writing-mode: vertical-rl; transform: rotate(180deg); height: 70px; text-align: left; }
.gptlite th.query { text-align: right; }
.gptlite .lens td { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre; padding: 1px 4px;
  border: 1px solid #eee; }
.gptlite .pick { margin: 4px 12px 8px 0; }
.gptlite .strip .tok.selected { outline: 2px solid #d62728; }
.gptlite .panels { display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap; }
"""

ATTENTION_JS = """
(function () {
  if (!window.gptliteAttention) {
    window.gptliteAttention = function (id) {
      var root = document.getElementById(id);
      var data = JSON.parse(root.querySelector("script.data").textContent);
      var raw = atob(data.patterns), bytes = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      var n = data.tokens.length, nHead = data.n_head;
      var layer = root.querySelector("select.layer"), head = root.querySelector("select.head");
      var cells = root.querySelectorAll("td.cell"), strip = root.querySelectorAll(".strip .tok");
      var query = n - 1;
      function weight(q, k) {
        return bytes[((+layer.value * nHead + +head.value) * n + q) * n + k] / 255;
      }
      function shade(w) { return "rgba(31, 90, 200, " + w.toFixed(3) + ")"; }
      function draw() {
        cells.forEach(function (cell) {
          var w = weight(+cell.dataset.q, +cell.dataset.k);
          cell.style.background = shade(w);
          cell.title = data.tokens[+cell.dataset.q] + " \\u2192 " + data.tokens[+cell.dataset.k] + ": " + w.toFixed(3);
        });
        strip.forEach(function (tok, k) {
          tok.style.background = k <= query ? shade(weight(query, k)) : "";
          tok.classList.toggle("selected", k === query);
        });
        root.querySelector(".which").textContent = "layer " + layer.value + ", head " + head.value +
          ": what " + JSON.stringify(data.tokens[query]) + " attends to";
      }
      strip.forEach(function (tok, k) {
        tok.addEventListener("mouseenter", function () { query = k; draw(); });
      });
      layer.addEventListener("change", draw);
      head.addEventListener("change", draw);
      draw();
    };
  }
})();
"""

_ids = itertools.count()


def _shown(token):
    """A token as it should appear on screen: newlines and tabs as arrows, other control characters escaped."""
    token = token.replace("\n", "\u21b5").replace("\t", "\u2192")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in token)


def _json_in_html(data):
    """JSON that can sit inside a <script> element: no "</" that could close it early."""
    return json.dumps(data).replace("</", "<\\/")


def _probability_colour(p):
    """Green for a token the model expected, through yellow, to red for a surprise (hue 0-120)."""
    return f"hsl({120 * float(p) ** 0.5:.0f}, 75%, 78%)"


def _alternatives_title(alternatives):
    return "\n".join(f"{a.probability:7.2%}  {_shown(a.token)!r}" for a in alternatives)


class View:
    """A picture: `_repr_html_` for Jupyter, `save(path)` for a browser, `str` for a terminal.

    Each kind of view defines `body_html(uid)`, its HTML without a page around it (`uid` is the
    id of the element that holds it), and `script(uid)` if it needs JavaScript.
    """

    title = ""

    def script(self, uid):
        return ""

    def _repr_html_(self):
        uid = f"gptlite-{next(_ids)}"
        script = self.script(uid)
        return (
            f'<div class="gptlite" id="{uid}"><style>{CSS}</style>{self.body_html(uid)}'
            + (f"<script>{script}</script>" if script else "")
            + "</div>"
        )

    def save(self, path) -> None:
        """Write a self-contained HTML page with this picture."""
        save_page(path, self.title, [self])

    def __repr__(self):
        return str(self)


def save_page(path, title, views):
    """One HTML page holding several views, written atomically (no half-written file is ever left)."""
    from .files import atomic_write

    parts = []
    for view in views:
        uid = f"gptlite-{next(_ids)}"
        script = view.script(uid)
        parts.append(f'<section class="gptlite" id="{uid}">{view.body_html(uid)}</section>')
        if script:
            parts.append(f"<script>{script}</script>")
    page = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>body {{ margin: 16px; }} {CSS}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    try:
        with atomic_write(path, "w") as f:
            f.write(page)
    except OSError as e:  # named by the page's path, not by the temporary file beside it
        raise OSError(e.errno, e.strerror, str(path)) from None


class TokenView(View):
    """Tokens coloured by their probability given the tokens before them."""

    title = "tokens"

    def __init__(self, tokens, probabilities, alternatives):
        self.tokens = tokens  # [n_seq] strings
        self.probabilities = probabilities  # [n_seq]: None for the first token (nothing predicts it)
        self.alternatives = alternatives  # [n_seq] lists of TopToken: what the model expected at each place

    def body_html(self, uid):
        spans = []
        for token, p, alternatives in zip(self.tokens, self.probabilities, self.alternatives):
            if p is None:
                spans.append(
                    f'<span class="tok" style="background:#eee" title="(first token: no prediction)">'
                    f"{html.escape(_shown(token))}</span>"
                )
                continue
            title = f"p = {p:.2%}\nexpected:\n{_alternatives_title(alternatives)}"
            spans.append(
                f'<span class="tok" style="background:{_probability_colour(p)}" title="{html.escape(title)}">'
                f"{html.escape(_shown(token))}</span>"
            )
        legend = "".join(
            f'<span style="background:{_probability_colour(p)}">{p:.0%}</span>' for p in (0.01, 0.1, 0.5, 1)
        )
        return (
            f"<h3>Tokens, coloured by the model's probability for each</h3>"
            f'<div class="tokens">{"".join(spans)}</div>'
            f'<div class="note legend">probability: {legend} &nbsp; (hover over a token for the alternatives)</div>'
        )

    def __str__(self):
        lines = ["  pos  probability  token             expected instead"]
        for i, (token, p, alternatives) in enumerate(zip(self.tokens, self.probabilities, self.alternatives)):
            expected = ", ".join(f"{_shown(a.token)!r} {a.probability:.0%}" for a in alternatives[:3])
            shown = "" if p is None else f"{p:11.2%}"
            lines.append(f"{i:5d}  {shown:>11s}  {_shown(token)!r:16.16s}  {expected}")
        return "\n".join(lines)


class SplitView(View):
    """A text cut into tokens, with no model: alternating colours show where each token starts; hovering shows
    its id."""

    title = "tokens"

    def __init__(self, tokens, ids, name=""):
        self.tokens, self.ids, self.name = tokens, ids, name  # [n_tokens] strings and ids; the tokenizer's name

    def body_html(self, uid):
        colours = ("#dbeafe", "#fde68a")  # alternating, so that two tokens side by side are told apart
        spans = "".join(
            f'<span class="tok" style="background:{colours[i % 2]}" title="id {int(token_id)}">'
            f"{html.escape(_shown(token))}</span>"
            for i, (token, token_id) in enumerate(zip(self.tokens, self.ids))
        )
        name = f" by {html.escape(self.name)}" if self.name else ""
        return f'<h3>{len(self.tokens)} tokens{name}</h3><div class="tokens">{spans}</div>'

    def __str__(self):
        return f"{len(self.tokens)} tokens: " + "|".join(_shown(t) for t in self.tokens)


class AttentionView(View):
    """Attention patterns [n_layer, n_head, n_seq, n_seq] with a layer and head picker."""

    title = "attention"

    def __init__(self, tokens, patterns):
        self.tokens = tokens
        self.patterns = patterns

    def body_html(self, uid):
        n_layer, n_head, n_seq, _ = self.patterns.shape
        quantised = np.rint(np.clip(self.patterns, 0, 1) * 255).astype(np.uint8)  # a shade per weight: 1/255 is plenty
        data = {
            "tokens": self.tokens,
            "n_layer": n_layer,
            "n_head": n_head,
            "patterns": base64.b64encode(quantised.tobytes()).decode("ascii"),
        }
        options = lambda n: "".join(f'<option value="{i}">{i}</option>' for i in range(n))  # noqa: E731
        tokens = [html.escape(_shown(t)) for t in self.tokens]
        header = "".join(f'<th class="key">{t}</th>' for t in tokens)
        rows = "".join(
            f'<tr><th class="query">{tokens[q]}</th>'
            + "".join(f'<td class="cell" data-q="{q}" data-k="{k}"></td>' for k in range(n_seq))
            + "</tr>"
            for q in range(n_seq)
        )
        strip = "".join(f'<span class="tok">{t}</span>' for t in tokens)
        return (
            "<h3>Attention</h3>"
            f'<label class="pick">layer <select class="layer">{options(n_layer)}</select></label>'
            f'<label class="pick">head <select class="head">{options(n_head)}</select></label>'
            f'<div class="note which"></div>'
            f'<div class="panels"><table class="heatmap"><tr><th></th>{header}</tr>{rows}</table>'
            f'<div class="strip tokens" style="max-width: 40em">{strip}'
            '<div class="note">point at a token: the others are shaded by how much it attends to them; '
            "rows of the heatmap are queries, columns keys</div></div></div>"
            f'<script type="application/json" class="data">{_json_in_html(data)}</script>'
        )

    def script(self, uid):
        return ATTENTION_JS + f'window.gptliteAttention("{uid}");'

    def __str__(self):
        n_layer, n_head, n_seq, _ = self.patterns.shape
        lines = [
            f"attention: {n_layer} layers x {n_head} heads over {n_seq} tokens; "
            f"what the last token {_shown(self.tokens[-1])!r} attends to most, head by head:"
        ]
        for layer in range(n_layer):
            best = self.patterns[layer, :, -1].argmax(axis=-1)  # [n_head]
            heads = "  ".join(
                f"{_shown(self.tokens[k])!r:.10s} {self.patterns[layer, h, -1, k]:.2f}" for h, k in enumerate(best)
            )
            lines.append(f"  h.{layer}: {heads}")
        return "\n".join(lines)


class LogitLensView(View):
    """Layers down, positions across: the likeliest next token if the residual stream were decoded there."""

    title = "logit lens"

    def __init__(self, layers, tokens, top_tokens, top_probs, next_probs):
        self.layers = layers  # [n_layer + 1] names: "embed", "h.0", ...
        self.tokens = tokens  # [n_seq]
        self.top_tokens = top_tokens  # [n_layer + 1][n_seq] strings
        self.top_probs = top_probs  # [n_layer + 1, n_seq]
        self.next_probs = next_probs  # [n_layer + 1, n_seq - 1]: probability of the token that really came next

    def body_html(self, uid):
        header = "".join(f"<th>{html.escape(_shown(t))}</th>" for t in self.tokens)
        rows = []
        for layer, name in enumerate(self.layers):
            cells = []
            for position, token in enumerate(self.top_tokens[layer]):
                p = self.top_probs[layer, position]
                title = f"{name}, after {_shown(self.tokens[position])!r}: {_shown(token)!r} {p:.2%}"
                if position + 1 < len(self.tokens):
                    title += f"; p(actual next token) = {self.next_probs[layer, position]:.2%}"
                title = html.escape(title)
                cells.append(
                    f'<td style="background:{_probability_colour(p)}" title="{title}">{html.escape(_shown(token))}</td>'
                )
            rows.append(f"<tr><th>{name}</th>{''.join(cells)}</tr>")
        return (
            "<h3>Logit lens: the prediction after each layer</h3>"
            '<div class="note">row: the residual stream after that layer, through ln_f and the output head; '
            "column: the input token; cell: the likeliest next token, coloured by its probability</div>"
            f'<table class="lens"><tr><th></th>{header}</tr>{"".join(rows)}</table>'
        )

    def __str__(self):
        width = 10
        cut = lambda s: repr(_shown(s))[:width].ljust(width)  # noqa: E731
        lines = [
            "logit lens: the likeliest next token after each layer (rows) at each position (columns)",
            " " * 8 + " ".join(cut(t) for t in self.tokens),
        ]
        for name, row in zip(self.layers, self.top_tokens):
            lines.append(f"{name:>7s} " + " ".join(cut(t) for t in row))
        return "\n".join(lines)


class TraceView(View):
    """A generation: the prompt, then each new token coloured by its probability, with the alternatives."""

    title = "generation trace"

    def __init__(self, prompt, steps):
        self.prompt = prompt
        self.steps = steps  # [(chosen TopToken, [alternative TopToken])]

    def body_html(self, uid):
        spans = []
        for chosen, alternatives in self.steps:
            title = f"p = {chosen.probability:.2%}\nalternatives:\n{_alternatives_title(alternatives)}"
            spans.append(
                f'<span class="tok" style="background:{_probability_colour(chosen.probability)}" '
                f'title="{html.escape(title)}">{html.escape(_shown(chosen.token))}</span>'
            )
        return (
            "<h3>Generation, token by token</h3>"
            f'<div class="tokens"><span class="tok" style="color:#666">{html.escape(self.prompt)}</span>'
            f"{''.join(spans)}</div>"
            '<div class="note">each new token is coloured by the probability the model gave it; '
            "hover for the alternatives</div>"
        )

    def __str__(self):
        lines = [f"prompt: {self.prompt!r}", "  step  probability  token             alternatives"]
        for i, (chosen, alternatives) in enumerate(self.steps):
            others = ", ".join(f"{_shown(a.token)!r} {a.probability:.0%}" for a in alternatives[:3])
            lines.append(f"{i:6d}  {chosen.probability:11.2%}  {_shown(chosen.token)!r:16.16s}  {others}")
        return "\n".join(lines)
