"""The tokenization lab: the widget's JavaScript encoder (run in node) against llmkb.tokenize; the lab's
analysis (truncated tokenizers, compression, doubling gains, split pieces against tiktoken's cl100k pattern,
the merge trace, cosines, groups, neighbours, PCA) and prose; its four experiments on small configs (a tiny
random model stands in for the shared model); and the page's written-out BPE code against the library's."""

from __future__ import annotations

import ast
import html
import inspect
import json
import random
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import regex
import tiktoken
import torch

from llmkb.data.corpus import load_corpus
from llmkb.lab import Result, RunContext
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import figures_of, get_experiment
from llmkb.lab.shared_model import SHARED_MODEL
from llmkb.lab.topics.tokenization import analysis as A
from llmkb.lab.topics.tokenization import analysis_embeddings as E
from llmkb.lab.topics.tokenization import experiments as X
from llmkb.lab.topics.tokenization import experiments_embeddings as XE
from llmkb.lab.topics.tokenization import names as N
from llmkb.lab.topics.tokenization import text as P
from llmkb.nn import GPT, GPTConfig
from llmkb.tokenize import GPT4_PATTERN, BPETokenizer, export_vocab_json
from llmkb.tokenize import naive as naive_bpe
from llmkb.tokenize.visualize import token_label

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
WIDGET = ROOT / "docs" / "assets" / "widgets" / "tokenizer.js"
PAGE = ROOT / "docs" / "01-tokenization" / "index.md"

# Text besides pydoc prose, so that the tokenizer learns tokens holding parts of multi-byte characters.
_EXTRA = "東京の天気は晴れ。漢字とかな。 👍🏽 👨\u200d👩\u200d👧 café naïve e\u0301 Привет мир مرحبا 12345 3.14\n\n\t  \n"

_FRAGMENTS = [
    "<script>alert('x')</script>",
    '"quoted"',
    "it's",
    "'LL",
    " & ",
    "&amp;",
    "😀",
    "👨\u200d👩\u200d👧",
    "👍🏽",
    "🇫🇷",
    "東京",
    "漢字",
    "e\u0301",
    "a\u0300\u0301",
    "Ωμέγα",
    "Привет",
    "مرحبا",
    "नमस्ते",
    " " * 17,
    "\t\t",
    "\n\n\n",
    "\r\n",
    "12345678",
    "3.14159",
    " the",
    "The",
    " function",
    "x=1;",
    "\u3000",
    "\u00a0",
    "\ufeff",
    "\x85",
    "<|endoftext|>",
    "<|endoftext|",
    "\ud83d",  # a lone surrogate
    "ſ",
]


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    corpus = [load_corpus("pydoc")[:60_000], _EXTRA * 20]
    return BPETokenizer.train(corpus, 256 + 300 + 1, pattern="gpt4", special_tokens=[N.EOT])


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "node (Debian package nodejs) is needed to run the widget's encoder"
    return node


_RUNNER = r"""
const fs = require("fs");
const [widget, vocabPath, textsPath] = process.argv.slice(2);
const { createEncoder, tokenLabel } = require(widget);
const vocab = JSON.parse(fs.readFileSync(vocabPath, "utf8"));
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
const enc = createEncoder(vocab);
const labels = [];
for (let id = 0; id < vocab.vocab_size; id++) labels.push(tokenLabel(enc.tokenBytes(id)).text);
const ids = texts.map((t) => ({ special: enc.encode(t, true), ordinary: enc.encode(t, false) }));
process.stdout.write(JSON.stringify({ ids, labels }));
"""


def _run_widget_encoder(tmp_path: Path, vocab: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    # surrogatepass keeps lone surrogates as JSON \ud83d escapes
    (tmp_path / "texts.json").write_bytes(json.dumps(texts).encode("utf-8", "surrogatepass"))
    (tmp_path / "run.js").write_text(_RUNNER)
    out = subprocess.run(
        [
            _node(),
            str(tmp_path / "run.js"),
            str(WIDGET),
            str(tmp_path / "vocab.json"),
            str(tmp_path / "texts.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_widget_encoder_equals_python(tok: BPETokenizer, tmp_path: Path) -> None:
    rng = random.Random(0)
    texts = [
        "",
        " ",
        "a",
        "x" * 3000,
        " " * 2000 + "y",
        "\n" * 50,
        _EXTRA,
        load_corpus("pydoc")[90_000:93_000],
    ]
    texts += ["".join(rng.choice(_FRAGMENTS) for _ in range(rng.randrange(1, 12))) for _ in range(400)]
    got = _run_widget_encoder(tmp_path, export_vocab_json(tok), texts)
    for text, js in zip(texts, got["ids"], strict=True):
        assert js["special"] == tok.encode(text, allowed_special="all"), repr(text)
        assert js["ordinary"] == tok.encode_ordinary(text), repr(text)
    # the widget's labels are render_html's: characters, plus \xNN for stray bytes of a split character
    assert got["labels"] == [token_label(tok.token_bytes(i)) for i in range(tok.vocab_size)]
    assert any("\\x" in label for label in got["labels"][256:])  # the check above covered partial tokens


def test_truncated_equals_training_at_the_smaller_size(tok: BPETokenizer) -> None:
    corpus = [load_corpus("pydoc")[:60_000], _EXTRA * 20]
    small = BPETokenizer.train(corpus, 256 + 120 + 1, pattern="gpt4", special_tokens=[N.EOT])
    cut = A.truncated(tok, 120)
    assert cut.merges == small.merges and cut.special_tokens == small.special_tokens == {N.EOT: 376}
    assert A.truncated(tok, 0).encode("abc") == [97, 98, 99]
    with pytest.raises(ValueError):
        A.truncated(tok, len(tok.merges) + 1)


def test_split_holdout_and_compression(tok: BPETokenizer) -> None:
    text = "one two\n\nthree four\n\nfive six seven\n\neight"
    head, tail = A.split_holdout(text, 0.3)
    assert head + "\n\n" + tail == text and tail and head
    with pytest.raises(ValueError):
        A.split_holdout("no blank line", 0.5)
    with pytest.raises(ValueError):
        A.split_holdout(text, 1.0)
    byte_level = A.truncated(tok, 0)
    st = A.compression(byte_level, "héllo wörld")
    assert st["bytes_per_token"] == 1.0 and st["tokens"] == 13 and st["tokens_per_word"] == 6.5
    assert A.compression(tok, "the function returns the value")["bytes_per_token"] > 1.5
    with pytest.raises(ValueError):
        A.compression(tok, "   ")


def test_doubling_gains_pick_only_doublings() -> None:
    gains = A.doubling_gains([0, 128, 256, 384, 768], [1.0, 1.5, 1.8, 2.0, 2.2])
    assert [k for k, _ in gains] == [128, 384]
    assert [g for _, g in gains] == pytest.approx([1.8 / 1.5 - 1, 2.2 / 2.0 - 1])
    assert A.doubling_gains([0, 100, 300], [1.0, 2.0, 3.0]) == []


def test_tokens_are_shown_with_the_kit_glyphs(tok: BPETokenizer) -> None:
    assert A.show_tokens(A.truncated(tok, 0), "a b\n") == "⟨a⟩⟨␣⟩⟨b⟩⟨⏎⟩"
    assert A.show_tokens(tok, N.EOT, allowed_special="all") == f"⟨{N.EOT}⟩"
    assert A.visible(" \t\n") == "␣⇥⏎"
    rows = A.token_rows(tok, [" the", "12345"])
    assert [r["n"] for r in rows] == [len(tok.encode(" the")), len(tok.encode("12345"))]
    assert rows[0]["text"] == "␣the" and rows[0]["ids"] == " ".join(map(str, tok.encode(" the")))
    assert A.longest_digit_run(tok, tok.encode("1234567 x9")) <= 3
    assert A.longest_digit_run(A.truncated(tok, 0), list(b"12")) == 1


def test_script_rows_flag_byte_only_scripts(tok: BPETokenizer) -> None:
    rows = {r["language"]: r for r in A.script_rows(tok, {"en": "the function", "zh": "东京"}, "en")}
    assert rows["en"]["vs_english"] == 1.0 and not rows["en"]["bytes_only"]
    assert rows["zh"]["bytes_only"] == (rows["zh"]["tokens"] == rows["zh"]["utf8_bytes"])


def _cl100k_pattern(monkeypatch: pytest.MonkeyPatch) -> str:
    """tiktoken's own cl100k_base split pattern, read without downloading its ranks."""
    import tiktoken_ext.openai_public as public

    monkeypatch.setattr(public, "load_tiktoken_bpe", lambda *args, **kwargs: {})
    return public.cl100k_base()["pat_str"]


def test_pieces_are_tiktokens_cl100k_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken splits each example with its cl100k pattern into exactly the pieces the page shows: with every
    piece as a whole token of the vocabulary, a different split would come out as single bytes."""
    pattern = _cl100k_pattern(monkeypatch)
    assert pattern == GPT4_PATTERN
    rows = A.piece_rows(GPT4_PATTERN, N.PIECE_EXAMPLES)
    for text, row in zip(N.PIECE_EXAMPLES, rows, strict=True):
        pieces = regex.findall(GPT4_PATTERN, text)
        ranks = {bytes([b]): b for b in range(256)}
        for p in pieces:
            ranks.setdefault(p.encode(), len(ranks))
        enc = tiktoken.Encoding("pieces", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
        assert [enc.decode_single_token_bytes(i) for i in enc.encode_ordinary(text)] == [
            p.encode() for p in pieces
        ]
        assert row["pieces"] == "".join(f"⟨{A.visible(p)}⟩" for p in pieces)
    # what the page says: one leading punctuation mark joins the word after it; digits come in threes
    assert rows[0]["pieces"] == "⟨x⟩⟨.append⟩⟨(print⟩⟨)⟩"
    assert "⟨123⟩⟨45⟩" in rows[2]["pieces"] and "⟨'t⟩" in rows[2]["pieces"]


def test_merge_trace_counts_the_pairs_it_merges() -> None:
    merges = naive_bpe.train_naive(N.TOY_CORPUS, 10, GPT4_PATTERN)
    rows = A.merge_trace(N.TOY_CORPUS, merges, GPT4_PATTERN)
    assert [r["step"] for r in rows] == list(range(1, 11))
    before = len(N.TOY_CORPUS.encode())
    for r in rows:  # no pair of the toy corpus overlaps itself, so each merge saves exactly `count` tokens
        assert r["tokens after"] == before - r["count"]
        before = r["tokens after"]
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)  # greedy
    assert rows[0]["pair"] == "⟨e⟩ + ⟨s⟩" and rows[0]["new token"] == "⟨es⟩"


def test_prose_phrases() -> None:
    assert P.doubling_verdict([[0.3, 0.2, 0.1], [0.2, 0.1]]) == "shrinks at every doubling"
    assert P.doubling_verdict([[0.1, 0.2], [0.1, 0.3]]).startswith("grows")
    assert (
        P.doubling_verdict([[0.3, 0.31, 0.1], [0.2, 0.1]]) == "shrinks overall, though not at every doubling"
    )
    assert P.doubling_verdict([[0.3, 0.1], [0.1, 0.3]]).startswith("neither")
    assert P.doubling_verdict([[0.3], [0.2]]).startswith("cannot")
    assert P.more_or_fewer(0.1234) == "12% more" and P.more_or_fewer(-0.05) == "5% fewer"
    assert P.more_or_fewer(0.001) == "as many"
    assert P.script_phrase(["Hindi"]) == "Hindi gets no merge at all: one token per UTF-8 byte"
    assert P.script_phrase(["A", "B"]).startswith("A and B get")
    assert P.script_phrase([]).startswith("every language")
    assert P.case_verdict(0.3).startswith("clearly") and P.case_verdict(0.05).startswith("only slightly")
    assert P.case_verdict(0.0).startswith("no closer")


_BORDER = b"+" + b"-" * 32 + b"+" + b"-" * 34 + b"+\n"  # the shape of the full profile's longest token


def test_the_longest_token_is_shown_and_explained() -> None:
    assert A.byte_runs(b"+--+") == [(43, 1), (45, 2), (43, 1)] and A.byte_runs(b"") == []
    view = A.run_view(_BORDER)
    assert view == "+ -×32 + -×34 +⏎"
    assert A.run_view(b" expression") == "␣expression" and A.run_view(b"    \n") == "␣×4 ⏎"
    assert (
        P.run_legend(view) == "runs of one character collapsed: -×32 is “-” 32 times in a row; ⏎ is a newline"
    )
    assert (
        P.run_legend("␣expression") == "␣ is a space" and P.run_legend("abc") == "every character is itself"
    )
    note = P.longest_token_note(_BORDER, 31, 465_048)
    assert note.startswith("It holds only 3 distinct characters (66 × “-”, 3 × “+” and 1 × “⏎”)")
    assert "a run of punctuation" in note and "occurs 31 times verbatim in the 465,048 characters" in note
    assert "a word with its leading space" in P.longest_token_note(b" expression", 1, 100)
    assert "occurs 1 time " in P.longest_token_note(b" expression", 1, 100)
    assert P.longest_token_note(b"    ", 5, 100).startswith("It is one character repeated, “␣”")
    corpus = b"title\n" + _BORDER + b"| a | b |\n" + _BORDER + b"end\n"
    assert A.first_context(corpus, _BORDER).splitlines() == ["title", _BORDER.decode().strip(), "| a | b |"]
    assert A.first_context(b"l0\nl1\nabc", b"abc") == "l1\nabc" and A.first_context(b"abc", b"x") == ""
    assert A.first_context(b"x" * 300, b"x", max_width=10) == "x" * 9 + "…"


def test_cosines_groups_neighbours() -> None:
    emb = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.0, -3.0], [0.0, 0.0]], dtype=torch.float64)
    sim = E.cosine_matrix(emb)
    ref = torch.nn.functional.cosine_similarity(emb[:, None, :], emb[None, :, :], dim=-1, eps=1e-12)
    torch.testing.assert_close(sim, ref)
    assert torch.equal(E.cosine_matrix(torch.eye(4)), torch.eye(4))
    rows = E.group_cosines(sim[:4, :4], ["x", "x", "y", "y"])
    assert [r["group"] for r in rows] == ["x", "y"]
    assert rows[1]["within"] == pytest.approx(-1.0) and rows[0]["within"] == pytest.approx(float(sim[0, 1]))
    assert rows[0]["between"] == pytest.approx(float(sim[:2, 2:].mean()))
    near = E.nearest_neighbours(sim[:4, :4], 1, 5)
    assert [i for i, _ in near] == [0, 2, 3]
    assert [v for _, v in near] == pytest.approx([float(sim[1, j]) for j in (0, 2, 3)])
    assert E.selected_bytes({ord("a"): 30, ord("0"): 5}, 20) == [("vowels", ord("a"))]


def test_case_pairs() -> None:
    ids = [ord(c) for c in "abAB"]
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.1, 1.0]])
    cp = E.case_pair_cosines(E.cosine_matrix(emb), ids)
    assert cp["pairs"] == 2.0 and cp["same"] > 0.99 and cp["other"] < 0.2


def test_pca_matches_the_covariance_eigenvectors() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=gen, dtype=torch.float64) * torch.tensor([5.0, 3, 1, 1, 1, 1])
    coords, explained = E.pca_2d(x)
    xc = (x - x.mean(0)).numpy()
    vals, vecs = np.linalg.eigh(np.cov(xc, rowvar=False))
    top = vecs[:, ::-1][:, :2]
    np.testing.assert_allclose(np.abs(coords.numpy()), np.abs(xc @ top), atol=1e-9)
    np.testing.assert_allclose(explained.numpy(), vals[::-1][:2] / vals.sum(), rtol=1e-9)


def _ctx(tmp_path: Path, name: str, needed: dict[str, Result] | None = None) -> RunContext:
    out = tmp_path / name.replace("/", "_")
    out.mkdir()
    return RunContext(name, "quick", out, _needed=needed or {})


def test_bpe_experiment(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, N.BPE)
    res = X.bpe({"vocab_size": 300, "max_chars": 40_000}, ctx)
    tok = BPETokenizer.load(ctx.out_dir / "tokenizer")
    assert res["widget"]["vocab"] == export_vocab_json(tok) and tok.vocab_size == 300
    assert res["widget"]["examples"] == N.WIDGET_EXAMPLES
    out = res["sample_html"]
    assert "<script" not in out and "&lt;" in out and "&amp;" in out
    chunks = re.findall(r'<span class="llmkb-tok[^"]*" data-id="(\d+)"[^>]*>([^<]*)</span>', out)
    shown = "".join(html.unescape(c) for _, c in chunks)  # split characters appear as \\xNN escapes
    assert '"na' in shown and " & <script>alert(1)</script> " in shown
    assert [int(i) for i, _ in chunks] == tok.encode(N.SAMPLE)
    special, as_text = res["special"], tok.encode(N.EOT, disallowed_special=())
    assert special["chars"] == len(N.EOT) and special["as_special"] == 1
    assert special["as_text"] == len(as_text) > 1 and special["as_text_tokens"] == A.bracketed(tok, as_text)
    langs = {r["language"]: r for r in table_rows(res["scripts"])}
    assert res["scripts"]["columns"][:2] == ["language", "chars"]
    assert langs["English"]["vs_english"] == 1.0 and set(langs) == set(N.PARALLEL)
    # a pydoc-trained tokenizer has no merges for CJK: 3 UTF-8 bytes -> 3 tokens per character
    assert langs["Chinese"]["tokens"] == langs["Chinese"]["utf8_bytes"] == 3 * langs["Chinese"]["chars"]
    assert langs["Chinese"]["bytes_only"] and "Chinese" in res["bytes_only"]
    assert res["worst_script"] == max(langs.values(), key=lambda r: r["vs_english"])["language"]
    rows = table_rows(res["numbers"]) + table_rows(res["spaces"])
    assert rows and all(r["n"] == len(r["ids"].split()) for r in rows)
    assert res["longest_digit_run"] <= 3
    assert res["longest_bytes"] >= 2 and "⟩ ⟨" in res["longest_words"]
    longest = res["longest"]  # the page's view of the longest token and why it is that long
    assert longest["note"].startswith("It ") and "verbatim" in longest["note"]
    assert str(res["longest_bytes"]) not in longest["note"].split(".")[0]  # the page says the length once
    assert longest["legend"] == P.run_legend(longest["view"])
    text = res["longest_token"].replace("␣", " ").replace("⏎", "\n").replace("⇥", "\t")
    assert longest["view"] == A.run_view(text.encode()) and text.strip() in longest["context"]
    json.dumps(res)  # JSON-able


def test_walkthrough_experiment(tmp_path: Path) -> None:
    res = X.walkthrough({"merges": 8}, _ctx(tmp_path, N.WALKTHROUGH))
    trace = table_rows(res["trace"])
    assert res["merges"] == len(trace) == 8 and res["tokens_after"] == trace[-1]["tokens after"]
    assert res["corpus_bytes"] == len(N.TOY_CORPUS.encode()) > trace[0]["tokens after"]
    assert res["trace"]["columns"] == ["step", "pair", "count", "new token", "tokens after"]
    assert [r["text"] for r in table_rows(res["pieces"])] == [A.visible(t) for t in N.PIECE_EXAMPLES]


def test_vocab_sweep_experiment(tmp_path: Path) -> None:
    cfg = {"extra": [0, 64, 128, 256], "prose_chars": 40_000, "code_chars": 40_000, "holdout": 0.2}
    res = X.vocab_sweep(cfg, _ctx(tmp_path, N.SWEEP))
    bpt = res["bytes_per_token"]
    assert bpt.shape == (4, 2, 2) and np.all(bpt[0] == 1.0)  # 256 = plain bytes
    assert np.all(np.diff(bpt[:, 0, 0]) > 0) and np.all(np.diff(bpt[:, 1, 1]) > 0)
    assert np.all(np.diff(res["tokens_per_word"], axis=0) < 0)
    assert [r["vocab"] for r in table_rows(res["table"])] == [256, 320, 384, 512]
    gains = table_rows(res["gains"])
    assert [g["merges"] for g in gains] == ["64 → 128", "128 → 256"]
    assert gains[0]["prose"] == pytest.approx(bpt[2, 0, 0] / bpt[1, 0, 0] - 1)
    assert res["doubling"]["from"] == 64 and res["doubling"]["to"] == 256
    assert res["doubling"]["last"]["code"] == pytest.approx(bpt[3, 1, 1] / bpt[2, 1, 1] - 1)
    assert res["gain"]["prose_on_code"] == P.more_or_fewer(res["gain"]["prose_on_code_extra"])
    _draw_all(N.SWEEP, res, tmp_path)


def test_embeddings_experiment_on_a_tiny_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model_dir = tmp_path / "site" / "model"
    GPT(GPTConfig.preset("tiny")).save(model_dir)
    site = Result(SHARED_MODEL, "quick", "k", model_dir.parent, {}, ran=False)
    res = XE.embeddings(
        {"min_count": 20, "k": 3, "seed": 0}, _ctx(tmp_path, N.EMBEDDINGS, {SHARED_MODEL: site})
    )
    n = len(res["labels"])
    assert res["one_hot_max_off_diagonal"] == 0.0
    assert res["sim_learned"].shape == (n, n) and res["pca"].shape == (n, 2)
    groups = table_rows(res["table"])
    assert {"digits", "vowels", "upper"} <= {r["group"] for r in groups}
    structured = [
        r["group"] for r in groups if r["learned within"] - r["learned between"] > XE.STRUCTURE_MARGIN
    ]
    assert res["n_structured"] == len(structured)
    assert res["neighbours"]["columns"] == ["byte", "#1", "#2", "#3"]
    assert "⏎" in res["labels"] and "␣" in res["labels"]
    assert res["positional"] == GPTConfig.preset("tiny").positional
    cases = res["case_pairs"]["learned"]
    assert res["case_verdict"] == P.case_verdict(cases["same"] - cases["other"])
    _draw_all(N.EMBEDDINGS, res, tmp_path)


def _draw_all(name: str, data: dict[str, Any], tmp_path: Path) -> None:
    """Render every figure of ``name`` as the site does: both themes, refused if its text is unreadable in
    the page column."""
    from llmkb.lab.render import render_figure

    res = Result(name, "quick", "k", tmp_path, dict(data), ran=True)
    figs = figures_of(name)
    assert figs
    for f in figs:
        r = render_figure(f, res)
        assert r.light.is_file() and r.dark.is_file() and r.width_in * 96 <= 688


def test_profiles_are_registered() -> None:
    for name in (N.BPE, N.WALKTHROUGH, N.SWEEP, N.EMBEDDINGS):
        exp = get_experiment(name)
        assert exp.topic == "tokenization" and set(exp.profiles) == {"quick", "full"}
    full = get_experiment(N.SWEEP).config("full")
    assert [256 + k for k in full["extra"]] == [256, 384, 512, 768, 1280, 2304, 4352]
    assert get_experiment(N.EMBEDDINGS).needs == (SHARED_MODEL,)


def _functions(source: str) -> dict[str, str]:
    """``name -> ast.dump`` of each top-level function in ``source``, without its docstring."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                node.body = body[1:]
            out[node.name] = ast.dump(node)
    return out


def test_the_page_shows_the_librarys_naive_bpe() -> None:
    """The page writes out the encoder and the naive trainer; they are the library's code, docstrings aside."""
    fences = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.S | re.M)
    on_page: dict[str, str] = {}
    for fence in fences:
        on_page |= _functions(textwrap.dedent(fence))
    library = _functions(inspect.getsource(naive_bpe))
    for name in ("encode_piece", "train_naive"):
        assert on_page.get(name) == library[name], f"the page's {name} differs from llmkb.tokenize.naive"
