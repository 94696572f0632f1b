"""The tokenization lab: the widget's JavaScript encoder (run in node) against llmkb.tokenize, the lab's
helpers (truncated tokenizers, compression, cosines, groups, neighbours, PCA) and its three experiments
on small configs (a tiny random model stands in for the shared model)."""

from __future__ import annotations

import html
import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch

from llmkb.data.corpus import load_corpus
from llmkb.lab import Result, RunContext
from llmkb.lab.registry import figures_of, get_experiment
from llmkb.lab.shared_model import SHARED_MODEL
from llmkb.lab.topics import tokenization as T
from llmkb.nn import GPT, GPTConfig
from llmkb.tokenize import BPETokenizer, export_vocab_json
from llmkb.tokenize.visualize import token_label

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
WIDGET = ROOT / "docs" / "assets" / "widgets" / "tokenizer.js"

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
    return BPETokenizer.train(corpus, 256 + 300 + 1, pattern="gpt4", special_tokens=[T.EOT])


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
    small = BPETokenizer.train(corpus, 256 + 120 + 1, pattern="gpt4", special_tokens=[T.EOT])
    cut = T.truncated(tok, 120)
    assert cut.merges == small.merges and cut.special_tokens == small.special_tokens == {T.EOT: 376}
    assert T.truncated(tok, 0).encode("abc") == [97, 98, 99]
    with pytest.raises(ValueError):
        T.truncated(tok, len(tok.merges) + 1)


def test_split_holdout_and_compression(tok: BPETokenizer) -> None:
    text = "one two\n\nthree four\n\nfive six seven\n\neight"
    head, tail = T.split_holdout(text, 0.3)
    assert head + "\n\n" + tail == text and tail and head
    with pytest.raises(ValueError):
        T.split_holdout("no blank line", 0.5)
    with pytest.raises(ValueError):
        T.split_holdout(text, 1.0)
    byte_level = T.truncated(tok, 0)
    st = T.compression(byte_level, "héllo wörld")
    assert st["bytes_per_token"] == 1.0 and st["tokens"] == 13 and st["tokens_per_word"] == 6.5
    assert T.compression(tok, "the function returns the value")["bytes_per_token"] > 1.5
    with pytest.raises(ValueError):
        T.compression(tok, "   ")


def test_as_table_keeps_the_column_order() -> None:
    rows = [{"z": 1, "a": 2.5}, {"z": 3, "a": 4.0}]
    table = T.as_table(rows)
    assert table == {"columns": ["z", "a"], "rows": [[1, 2.5], [3, 4.0]]}
    assert T.table_rows(table) == rows and T.as_table([]) == {"columns": [], "rows": []}


def test_show_tokens_marks_whitespace(tok: BPETokenizer) -> None:
    assert T.show_tokens(T.truncated(tok, 0), "a b\n") == "⟨a⟩⟨␣⟩⟨b⟩⟨↵⟩"
    assert T.show_tokens(tok, T.EOT, allowed_special="all") == f"⟨{T.EOT}⟩"


def test_cosines_groups_neighbours() -> None:
    emb = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.0, -3.0], [0.0, 0.0]], dtype=torch.float64)
    sim = T.cosine_matrix(emb)
    ref = torch.nn.functional.cosine_similarity(emb[:, None, :], emb[None, :, :], dim=-1, eps=1e-12)
    torch.testing.assert_close(sim, ref)
    assert torch.equal(T.cosine_matrix(torch.eye(4)), torch.eye(4))
    rows = T.group_cosines(sim[:4, :4], ["x", "x", "y", "y"])
    assert [r["group"] for r in rows] == ["x", "y"]
    assert rows[1]["within"] == pytest.approx(-1.0) and rows[0]["within"] == pytest.approx(float(sim[0, 1]))
    assert rows[0]["between"] == pytest.approx(float(sim[:2, 2:].mean()))
    near = T.nearest_neighbours(sim[:4, :4], 1, 5)
    assert [i for i, _ in near] == [0, 2, 3]
    assert [v for _, v in near] == pytest.approx([float(sim[1, j]) for j in (0, 2, 3)])


def test_case_pairs() -> None:
    ids = [ord(c) for c in "abAB"]
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.1, 1.0]])
    cp = T.case_pair_cosines(T.cosine_matrix(emb), ids)
    assert cp["pairs"] == 2.0 and cp["same"] > 0.99 and cp["other"] < 0.2


def test_pca_matches_the_covariance_eigenvectors() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=gen, dtype=torch.float64) * torch.tensor([5.0, 3, 1, 1, 1, 1])
    coords, explained = T.pca_2d(x)
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
    ctx = _ctx(tmp_path, "tokenization/bpe")
    res = T.bpe({"vocab_size": 300, "max_chars": 40_000}, ctx)
    tok = BPETokenizer.load(ctx.out_dir / "tokenizer")
    assert res["widget"]["vocab"] == export_vocab_json(tok) and tok.vocab_size == 300
    assert res["widget"]["examples"] == T.WIDGET_EXAMPLES
    out = res["sample_html"]
    assert "<script" not in out and "&lt;" in out and "&amp;" in out
    chunks = re.findall(r'<span class="llmkb-tok[^"]*" data-id="(\d+)"[^>]*>([^<]*)</span>', out)
    shown = "".join(html.unescape(c) for _, c in chunks)  # split characters appear as \\xNN escapes
    assert '"na' in shown and " & <script>alert(1)</script> " in shown
    assert [int(i) for i, _ in chunks] == tok.encode(T.SAMPLE)
    assert res["special"]["as_special"] == 1 and res["special"]["as_text"] > 1
    langs = {r["language"]: r for r in T.table_rows(res["scripts"])}
    assert res["scripts"]["columns"][:2] == ["language", "chars"]
    assert langs["English"]["vs_english"] == 1.0 and set(langs) == set(T.PARALLEL)
    # a pydoc-trained tokenizer has no merges for CJK: 3 UTF-8 bytes -> 3 tokens per character
    assert langs["Chinese"]["tokens"] == langs["Chinese"]["utf8_bytes"] == 3 * langs["Chinese"]["chars"]
    rows = T.table_rows(res["numbers"]) + T.table_rows(res["spaces"])
    assert rows and all(r["n"] == len(r["ids"].split()) for r in rows)
    assert res["longest_bytes"] >= 2 and "⟩ ⟨" in res["longest_words"]
    json.dumps(res)  # JSON-able


def test_vocab_sweep_experiment(tmp_path: Path) -> None:
    cfg = {"extra": [0, 64, 192], "prose_chars": 40_000, "code_chars": 40_000, "holdout": 0.2}
    res = T.vocab_sweep(cfg, _ctx(tmp_path, "tokenization/vocab-sweep"))
    bpt = res["bytes_per_token"]
    assert bpt.shape == (3, 2, 2) and np.all(bpt[0] == 1.0)  # 256 = plain bytes
    assert np.all(np.diff(bpt[:, 0, 0]) > 0) and np.all(np.diff(bpt[:, 1, 1]) > 0)
    assert np.all(np.diff(res["tokens_per_word"], axis=0) < 0)
    assert [r["vocab"] for r in T.table_rows(res["table"])] == [256, 320, 448]
    _draw_all("tokenization/vocab-sweep", res, tmp_path)


def test_embeddings_experiment_on_a_tiny_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model_dir = tmp_path / "site" / "model"
    GPT(GPTConfig.preset("tiny")).save(model_dir)
    site = Result(SHARED_MODEL, "quick", "k", model_dir.parent, {}, ran=False)
    res = T.embeddings(
        {"min_count": 20, "k": 3, "seed": 0}, _ctx(tmp_path, "tokenization/embeddings", {SHARED_MODEL: site})
    )
    n = len(res["labels"])
    assert res["one_hot_max_off_diagonal"] == 0.0
    assert res["sim_learned"].shape == (n, n) and res["pca"].shape == (n, 2)
    assert {"digits", "vowels", "upper"} <= {r["group"] for r in T.table_rows(res["table"])}
    assert res["neighbours"]["columns"] == ["byte", "#1", "#2", "#3"]
    assert isinstance(res["case_verdict"], str)
    _draw_all("tokenization/embeddings", res, tmp_path)


def _draw_all(name: str, data: dict[str, Any], tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    res = Result(name, "quick", "k", tmp_path, dict(data), ran=True)
    figs = figures_of(name)
    assert figs
    for f in figs:
        plt.close(f.fn(res))


def test_profiles_are_registered() -> None:
    for name in ("tokenization/bpe", "tokenization/vocab-sweep", "tokenization/embeddings"):
        exp = get_experiment(name)
        assert exp.topic == "tokenization" and set(exp.profiles) == {"quick", "full"}
    full = get_experiment("tokenization/vocab-sweep").config("full")
    assert [256 + k for k in full["extra"]] == [256, 384, 768, 1280, 2304, 4352]
    assert get_experiment("tokenization/embeddings").needs == (SHARED_MODEL,)
