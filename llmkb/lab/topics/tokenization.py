"""Tokenization lab: a byte-level BPE trained at build time, measured, and shown in the browser.

Three experiments:

* ``tokenization/bpe`` trains the page's tokenizer (:class:`llmkb.tokenize.BPETokenizer`, GPT-4 split
  pattern, one special token) on the pydoc corpus, saves it in the result directory (``tokenizer/``),
  exports it for the live JavaScript widget (:func:`llmkb.tokenize.export_vocab_json`), renders a sample
  with :func:`llmkb.tokenize.render_html`, and measures the classic failure cases: numbers, leading
  spaces, and the same sentence in several scripts.
* ``tokenization/vocab-sweep`` measures compression (UTF-8 bytes per token) and fertility (tokens per
  word) against vocabulary size, on held-out prose (pydoc) and code (standard-library sources), for
  tokenizers trained on each. BPE learns merges greedily, so the tokenizer of vocabulary ``256 + k`` is
  the first ``k`` merges of a bigger one (:func:`truncated`): one training run per corpus serves every size.
* ``tokenization/embeddings`` compares one-hot vectors (orthogonal, every cosine 0) with the byte
  embeddings the shared model learned: cosine heatmaps, group statistics (digits, vowels, case pairs,
  punctuation...), nearest neighbours and a 2-D PCA projection.

The helpers are plain functions, tested in ``tests/test_lab_tokenization.py``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from llmkb.data.corpus import load_corpus
from llmkb.lab import Result, RunContext, experiment, figure
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.tokenize import BPETokenizer, export_vocab_json, render_html
from llmkb.tokenize.visualize import token_label

__all__ = [
    "BYTE_GROUPS",
    "EOT",
    "HEATMAP_BYTES",
    "PARALLEL",
    "SAMPLE",
    "WIDGET_EXAMPLES",
    "as_table",
    "case_pair_cosines",
    "compression",
    "cosine_matrix",
    "group_cosines",
    "nearest_neighbours",
    "pca_2d",
    "selected_bytes",
    "show_tokens",
    "split_holdout",
    "table_rows",
    "truncated",
]

EOT = "<|endoftext|>"
"""The special token of the page's tokenizer (GPT-2's end-of-text marker)."""

SAMPLE = 'Tokenizers read bytes: "naïve café" & <script>alert(1)</script> 東京 🙂 x = 12345 + 678.9'
"""The sentence rendered statically with :func:`llmkb.tokenize.render_html` (hostile on purpose)."""

WIDGET_EXAMPLES: dict[str, str] = {
    "prose": "The default value of a parameter is evaluated once, when the function is defined.",
    "code": 'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n',
    "numbers": "In 2024, 1234567 + 89 = 1234656; pi is 3.14159.",
    "multilingual": "Grüße aus Zürich · Привет · 東京の天気 · مرحبا · नमस्ते",
    "emoji": "family: 👨\u200d👩\u200d👧 thumbs: 👍🏽 flags: 🇫🇷",
    "special": f"end of one document{EOT}start of the next",
}
"""Texts the widget offers as one-click examples."""

PARALLEL: dict[str, str] = {
    "English": "The old library opens at nine in the morning and closes when the sun goes down.",
    "German": "Die alte Bibliothek öffnet um neun Uhr morgens und schließt, wenn die Sonne untergeht.",
    "French": "La vieille bibliothèque ouvre à neuf heures du matin et ferme au coucher du soleil.",
    "Spanish": "La antigua biblioteca abre a las nueve de la mañana y cierra cuando se pone el sol.",
    "Russian": "Старая библиотека открывается в девять утра и закрывается, когда садится солнце.",
    "Greek": "Η παλιά βιβλιοθήκη ανοίγει στις εννέα το πρωί και κλείνει όταν δύει ο ήλιος.",
    "Arabic": "تفتح المكتبة القديمة في التاسعة صباحًا وتغلق عند غروب الشمس.",
    "Hindi": "पुराना पुस्तकालय सुबह नौ बजे खुलता है और सूरज ढलने पर बंद हो जाता है।",
    "Chinese": "老图书馆早上九点开门，太阳落山时关门。",
    "Japanese": "古い図書館は朝九時に開き、日が沈むと閉まります。",
    "Korean": "오래된 도서관은 아침 아홉 시에 문을 열고 해가 지면 문을 닫는다.",
}
"""One sentence and its translations (written for this page), for tokens-per-character by script."""

_WORDLIKE = re.compile(rb" ?[A-Za-z]+")
_NUMBERS = ("7", "42", "2024", "12345", "1234567", "3.14159", "1,000,000", " 2024", "0x1F")
_SPACES = ("print", " print", "Print", " PRINT", "the", " the", "  the", "The", " The")

BYTE_GROUPS: dict[str, str] = {
    "digits": "0123456789",
    "vowels": "aeiou",
    "consonants": "bcdfghjklmnpqrstvwxyz",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "punctuation": ".,;:!?'\"()[]{}",
    "operators": "+-*/=<>%&|^~",
    "space": " \n",
}
"""Groups of bytes whose learned embeddings are compared (only bytes frequent in the corpus are kept)."""

HEATMAP_BYTES = "0123456789aeiounrstlAEIOUNRSTL.,;:()[]\"'+-*/=<> \n"
"""The bytes of the heatmap figure (in this order), a readable subset of :data:`BYTE_GROUPS`."""


# --------------------------------------------------------------------------------------------------
# tokenizer helpers
# --------------------------------------------------------------------------------------------------


def split_holdout(text: str, fraction: float) -> tuple[str, str]:
    """Split a corpus into a training head and a held-out tail, at a blank line.

    Args:
        text: The corpus.
        fraction: Approximate share of characters that go to the held-out tail, in ``(0, 1)``.

    Returns:
        ``(train, held_out)``; their concatenation (with the blank line between them) is ``text``.

    Raises:
        ValueError: ``fraction`` is not in ``(0, 1)`` or there is no blank line to cut at.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    cut = text.find("\n\n", int(len(text) * (1.0 - fraction)))
    if cut < 0:
        cut = text.rfind("\n\n")
    if cut <= 0:
        raise ValueError("the corpus has no blank line to split at")
    return text[:cut], text[cut + 2 :]


def truncated(tok: BPETokenizer, n_merges: int) -> BPETokenizer:
    """The tokenizer made of the first ``n_merges`` merges of ``tok`` (same pattern and special tokens).

    Training is greedy — each merge is chosen from counts that depend only on the merges before it — so
    this equals training on the same corpus with ``vocab_size = 256 + n_merges (+ specials)``.

    Raises:
        ValueError: ``n_merges`` is negative or more than ``tok`` has.
    """
    merges = tok.merges
    if not 0 <= n_merges <= len(merges):
        raise ValueError(f"n_merges must be in 0..{len(merges)}, got {n_merges}")
    specials = sorted(tok.special_tokens, key=tok.special_tokens.__getitem__)
    return BPETokenizer(merges[:n_merges], pattern=tok.pattern, special_tokens=specials)


def compression(tok: BPETokenizer, text: str) -> dict[str, float]:
    """Compression statistics of ``tok`` on ``text`` (special-token strings encoded as plain text).

    Returns:
        ``tokens``; ``bytes_per_token`` (UTF-8 bytes / tokens, higher = better compression);
        ``chars_per_token``; ``tokens_per_word`` (fertility: tokens / whitespace-separated words).

    Raises:
        ValueError: ``text`` is empty or has no word.
    """
    words = len(text.split())
    if not text or words == 0:
        raise ValueError("compression needs a text with at least one word")
    n = len(tok.encode_ordinary(text))
    return {
        "tokens": float(n),
        "bytes_per_token": len(text.encode("utf-8")) / n,
        "chars_per_token": len(text) / n,
        "tokens_per_word": n / words,
    }


def show_tokens(tok: BPETokenizer, text: str, *, allowed_special: str | frozenset[str] = frozenset()) -> str:
    """The tokens of ``text`` as one line: each token in angle brackets ``⟨⟩``, space as ``␣``, newline as ``↵``.

    Args:
        tok: The tokenizer.
        text: The text.
        allowed_special: Passed to :meth:`llmkb.tokenize.BPETokenizer.encode`.
    """
    ids = tok.encode(text, allowed_special=allowed_special)
    return "".join(_bracket(tok.token_bytes(i)) for i in ids)


def _bracket(data: bytes) -> str:
    # angle brackets, not square ones: "[a][b]" in a Markdown table would read as a reference link
    return f"⟨{_visible(token_label(data))}⟩"


def _visible(label: str) -> str:
    return label.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")


def _rows_for(tok: BPETokenizer, texts: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for text in texts:
        ids = tok.encode(text)
        rows.append(
            {
                "text": _visible(text),
                "tokens": show_tokens(tok, text),
                "ids": " ".join(map(str, ids)),
                "n": len(ids),
            }
        )
    return rows


def as_table(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows of dicts as ``{"columns": [...], "rows": [[...], ...]}``, keeping the column order.

    The lab cache stores JSON with sorted keys, so a plain list of dicts would come back with its columns
    in alphabetical order; this is the form ``lab.table`` renders in the given order.
    """
    columns = list(rows[0]) if rows else []
    return {"columns": columns, "rows": [[r[c] for c in columns] for r in rows]}


def table_rows(table: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The inverse of :func:`as_table`: one dict per row."""
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


# --------------------------------------------------------------------------------------------------
# embedding helpers
# --------------------------------------------------------------------------------------------------


def cosine_matrix(emb: Tensor) -> Tensor:
    """Pairwise cosine similarity of the rows of ``emb``.

    ``cos(u, v) = u·v / (|u| |v|)``; a zero row gets similarity 0 with everything.

    Args:
        emb: ``(N, D)`` vectors.

    Returns:
        ``(N, N)`` similarities in ``[-1, 1]``.
    """
    norms = emb.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (N, 1)
    unit = emb / norms  # (N, D)
    return (unit @ unit.T).clamp(-1.0, 1.0)  # (N, N)


def selected_bytes(counts: Counter[int] | dict[int, int], min_count: int) -> list[tuple[str, int]]:
    """The bytes of :data:`BYTE_GROUPS` that occur at least ``min_count`` times, as ``(group, byte)``.

    Args:
        counts: Byte value -> occurrences in the training corpus.
        min_count: Rarer bytes are left out (their embeddings barely moved from initialisation).
    """
    out = []
    for group, chars in BYTE_GROUPS.items():
        out.extend((group, ord(c)) for c in chars if counts.get(ord(c), 0) >= min_count)
    return out


def group_cosines(sim: Tensor, groups: Sequence[str]) -> list[dict[str, Any]]:
    """Mean cosine within each group (distinct pairs) and between the group and every other item.

    Args:
        sim: ``(N, N)`` cosine matrix.
        groups: The group of each of the ``N`` items.

    Returns:
        One row per group with at least two members: ``group``, ``n``, ``within``, ``between``.
    """
    labels = np.asarray(groups)
    s = sim.detach().cpu().double().numpy()
    rows = []
    for g in dict.fromkeys(groups):
        inside = labels == g
        n = int(inside.sum())
        if n < 2 or inside.all():
            continue
        block = s[np.ix_(inside, inside)]
        within = (block.sum() - np.trace(block)) / (n * (n - 1))
        between = s[np.ix_(inside, ~inside)].mean()
        rows.append({"group": g, "n": n, "within": float(within), "between": float(between)})
    return rows


def case_pair_cosines(sim: Tensor, byte_ids: Sequence[int]) -> dict[str, float]:
    """Cosine of each lowercase letter with its own uppercase vs with the other uppercase letters.

    Args:
        sim: ``(N, N)`` cosine matrix.
        byte_ids: The byte value of each of the ``N`` items.

    Returns:
        ``pairs`` (number of letters present in both cases), ``same`` (mean cos(x, X)) and ``other``
        (mean cos(x, Y) over Y ≠ X); NaN means when no pair is present.
    """
    index = {b: i for i, b in enumerate(byte_ids)}
    lowers = [b for b in byte_ids if ord("a") <= b <= ord("z") and b - 32 in index]
    uppers = [index[b - 32] for b in lowers]
    same, other = [], []
    for b in lowers:
        i, j = index[b], index[b - 32]
        same.append(float(sim[i, j]))
        other.extend(float(sim[i, k]) for k in uppers if k != j)
    nan = float("nan")
    return {
        "pairs": float(len(lowers)),
        "same": float(np.mean(same)) if same else nan,
        "other": float(np.mean(other)) if other else nan,
    }


def nearest_neighbours(sim: Tensor, query: int, k: int) -> list[tuple[int, float]]:
    """The ``k`` items most similar to item ``query`` (itself excluded), most similar first.

    Returns:
        ``(index, cosine)`` pairs.
    """
    row = sim[query].clone()
    row[query] = -float("inf")
    vals, idx = torch.topk(row, min(k, row.numel() - 1))
    return [(int(i), float(v)) for v, i in zip(vals, idx, strict=True)]


def pca_2d(emb: Tensor) -> tuple[Tensor, Tensor]:
    """Project rows onto their first two principal components (SVD of the centred matrix).

    With ``X - mean = U S Vᵀ``, the coordinates are ``(X - mean) V[:, :2]`` and component ``i`` explains
    ``S_i² / Σ S_j²`` of the variance (Pearson 1901; computed with ``torch.linalg.svd``).

    Args:
        emb: ``(N, D)`` vectors, ``N >= 2``.

    Returns:
        ``(coords, explained)``: ``(N, 2)`` coordinates and the ``(2,)`` explained-variance ratios.
    """
    x = emb.double() - emb.double().mean(dim=0, keepdim=True)  # (N, D)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)  # s: (min(N, D),), vh: (min(N, D), D)
    coords = x @ vh[:2].T  # (N, 2)
    var = s.square()
    return coords, var[:2] / var.sum()


def _case_verdict(gap: float) -> str:
    if gap > 0.15:
        return "clearly closer to its own capital than to the other capitals: the model has paired the cases"
    if gap > 0.02:
        return (
            "only slightly closer to its own capital than to the other capitals: case separates the letters "
            "more than their identity joins them"
        )
    return "no closer to its own capital than to the other capitals: case pairs have not been learned"


def _byte_label(b: int) -> str:
    return {32: "␣", 10: "↵", 9: "⇥"}.get(b, chr(b))


# --------------------------------------------------------------------------------------------------
# experiments
# --------------------------------------------------------------------------------------------------


@experiment(
    "tokenization/bpe",
    topic="tokenization",
    profiles={
        "quick": {"vocab_size": 512, "max_chars": 150_000},
        "full": {"vocab_size": 4096, "max_chars": None},
    },
    title="Train the page's byte-level BPE on pydoc; export it for the widget; failure cases",
)
def bpe(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train, save and export the tokenizer; measure numbers, leading spaces and scripts."""
    corpus = load_corpus("pydoc")
    if cfg["max_chars"]:
        corpus = corpus[: cfg["max_chars"]]
    t0 = time.perf_counter()
    tok = BPETokenizer.train(corpus, cfg["vocab_size"], pattern="gpt4", special_tokens=[EOT])
    seconds = time.perf_counter() - t0
    tok.save(ctx.out_dir / "tokenizer")

    n_learned = len(tok.merges)
    by_length = sorted(range(256, 256 + n_learned), key=lambda i: (-len(tok.token_bytes(i)), i))
    wordlike = [i for i in by_length if _WORDLIKE.fullmatch(tok.token_bytes(i))]
    english = len(tok.encode(PARALLEL["English"]))
    scripts = []
    for lang, text in PARALLEL.items():
        n = len(tok.encode(text))
        scripts.append(
            {
                "language": lang,
                "chars": len(text),
                "utf8_bytes": len(text.encode("utf-8")),
                "tokens": n,
                "tokens_per_char": n / len(text),
                "vs_english": n / english,
            }
        )
    eot_as_text = tok.encode(EOT, disallowed_special=())
    return {
        "widget": {"vocab": export_vocab_json(tok), "examples": WIDGET_EXAMPLES},
        "sample": SAMPLE,
        "sample_html": render_html(tok, SAMPLE),
        "stats": {
            "vocab_size": tok.vocab_size,
            "merges": n_learned,
            "corpus_chars": len(corpus),
            "train_seconds": seconds,
            "bytes_per_token": compression(tok, corpus)["bytes_per_token"],
        },
        "first_merges": " ".join(_bracket(tok.token_bytes(256 + i)) for i in range(20)),
        "longest_words": " ".join(_bracket(tok.token_bytes(i)) for i in wordlike[:12]),
        "longest_bytes": len(tok.token_bytes(by_length[0])) if by_length else 1,
        "longest_token": _visible(token_label(tok.token_bytes(by_length[0]))) if by_length else "",
        "numbers": as_table(_rows_for(tok, _NUMBERS)),
        "spaces": as_table(_rows_for(tok, _SPACES)),
        "scripts": as_table(scripts),
        "worst_script": max(scripts, key=lambda r: r["vs_english"])["language"],
        "special": {
            "as_special": len(tok.encode(EOT, allowed_special="all")),
            "as_text": len(eot_as_text),
            "as_text_tokens": "".join(_bracket(tok.token_bytes(i)) for i in eot_as_text),
        },
    }


@experiment(
    "tokenization/vocab-sweep",
    topic="tokenization",
    profiles={
        "quick": {"extra": [0, 128, 512], "prose_chars": 150_000, "code_chars": 150_000, "holdout": 0.15},
        "full": {
            "extra": [0, 128, 512, 1024, 2048, 4096],
            "prose_chars": None,
            "code_chars": 1_000_000,
            "holdout": 0.1,
        },
    },
    title="Bytes per token and tokens per word vs vocabulary size, on prose and on code",
)
def vocab_sweep(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train one tokenizer per corpus at the largest size; evaluate every prefix on held-out text."""
    prose = load_corpus("pydoc")
    if cfg["prose_chars"]:
        prose = prose[: cfg["prose_chars"]]
    code = load_corpus("stdlib", max_chars=cfg["code_chars"])
    data = {"prose": split_holdout(prose, cfg["holdout"]), "code": split_holdout(code, cfg["holdout"])}
    extra = sorted(cfg["extra"])
    trained: dict[str, BPETokenizer] = {}
    seconds: dict[str, float] = {}
    for name, (train_text, _) in data.items():
        t0 = time.perf_counter()
        trained[name] = BPETokenizer.train(train_text, 256 + extra[-1], pattern="gpt4")
        seconds[name] = time.perf_counter() - t0
    rows = []
    grid = np.zeros((len(extra), 2, 2))  # (size, trained on prose|code, evaluated on prose|code)
    fertility = np.zeros((len(extra), 2))  # (size, evaluated on prose|code), own-domain tokenizer
    for s, k in enumerate(ctx.progress(extra, total=len(extra), desc="vocab sizes")):
        row: dict[str, Any] = {"vocab": 256 + k}
        for a, train_name in enumerate(data):
            tok = truncated(trained[train_name], k)
            for b, eval_name in enumerate(data):
                st = compression(tok, data[eval_name][1])
                grid[s, a, b] = st["bytes_per_token"]
                if a == b:
                    fertility[s, b] = st["tokens_per_word"]
        row.update(
            {
                "prose bytes/token": grid[s, 0, 0],
                "code bytes/token": grid[s, 1, 1],
                "prose tok. on code": grid[s, 0, 1],
                "code tok. on prose": grid[s, 1, 0],
                "prose tokens/word": fertility[s, 0],
                "code tokens/word": fertility[s, 1],
            }
        )
        rows.append(row)
    return {
        "vocab": np.array([256 + k for k in extra]),
        "bytes_per_token": grid,
        "tokens_per_word": fertility,
        "table": as_table(rows),
        "train_seconds": seconds,
        "chars": {name: {"train": len(tr), "heldout": len(ho)} for name, (tr, ho) in data.items()},
        "largest": 256 + extra[-1],
        "gain": {
            "prose": float(grid[-1, 0, 0] / grid[0, 0, 0]),
            "code": float(grid[-1, 1, 1] / grid[0, 1, 1]),
            "prose_on_code_extra": float(grid[-1, 1, 1] / grid[-1, 0, 1] - 1.0),
        },
    }


@experiment(
    "tokenization/embeddings",
    topic="tokenization",
    profiles={"quick": {"min_count": 20, "k": 5, "seed": 0}, "full": {"min_count": 20, "k": 5, "seed": 0}},
    needs=[SHARED_MODEL],
    title="One-hot vs learned byte embeddings of the shared model: cosines, groups, neighbours, PCA",
)
def embeddings(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Compare one-hot vectors with the shared model's token embeddings on frequent bytes."""
    model, _ = load_shared_model(ctx.need(SHARED_MODEL))
    weight = model.tok_emb.weight.detach().double()  # (256, d)
    counts = Counter(load_corpus("pydoc").encode("utf-8"))
    chosen = selected_bytes(counts, cfg["min_count"])
    groups = [g for g, _ in chosen]
    ids = [b for _, b in chosen]
    labels = [_byte_label(b) for b in ids]

    one_hot = torch.eye(256, dtype=torch.float64)[ids]  # (N, 256)
    sim_one_hot = cosine_matrix(one_hot)  # (N, N)
    off_diag = sim_one_hot - torch.diag(torch.diagonal(sim_one_hot))
    assert float(off_diag.abs().max()) == 0.0, "one-hot vectors must be exactly orthogonal"
    assert torch.equal(torch.diagonal(sim_one_hot), torch.ones(len(ids), dtype=torch.float64))

    learned = weight[ids]  # (N, d)
    sim = cosine_matrix(learned)  # (N, N)
    gen = torch.Generator().manual_seed(cfg["seed"])
    random_emb = torch.randn(weight.shape, generator=gen, dtype=torch.float64)[ids]  # (N, d)
    sim_random = cosine_matrix(random_emb)

    learned_groups = group_cosines(sim, groups)
    random_groups = {r["group"]: r for r in group_cosines(sim_random, groups)}
    table = [
        {
            "group": r["group"],
            "bytes": r["n"],
            "learned within": r["within"],
            "learned between": r["between"],
            "random within": random_groups[r["group"]]["within"],
            "one-hot within": 0.0,
        }
        for r in learned_groups
    ]
    cases = case_pair_cosines(sim, ids)
    cases_random = case_pair_cosines(sim_random, ids)

    queries = [c for c in "aeA0.( s" if ord(c) in ids]
    neighbours = []
    for c in queries:
        q = ids.index(ord(c))
        near = nearest_neighbours(sim, q, cfg["k"])
        neighbours.append(
            {"byte": _byte_label(ord(c))}
            | {f"#{n + 1}": f"{labels[i]}  {v:.2f}" for n, (i, v) in enumerate(near)}
        )
    coords, explained = pca_2d(learned)
    structured = [r["group"] for r in learned_groups if r["within"] - r["between"] > 0.1]
    return {
        "labels": labels,
        "groups": groups,
        "heatmap_index": [ids.index(ord(c)) for c in HEATMAP_BYTES if ord(c) in ids],
        "sim_learned": sim.float(),
        "sim_random": sim_random.float(),
        "one_hot_max_off_diagonal": float(off_diag.abs().max()),
        "table": as_table(table),
        "case_pairs": {"learned": cases, "random": cases_random},
        "neighbours": as_table(neighbours),
        "case_verdict": _case_verdict(cases["same"] - cases["other"]),
        "pca": coords.float(),
        "pca_explained": explained.float(),
        "pca_explained_total": float(explained.sum()),
        "d_model": int(weight.shape[1]),
        "structured_groups": ", ".join(structured) if structured else "none",
        "n_structured": len(structured),
    }


# --------------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------------


@figure("tokenization/vocab-sweep", "bytes-per-token", caption="Compression vs vocabulary size")
def _fig_bytes_per_token(res: Result):
    import matplotlib.pyplot as plt

    vocab = np.asarray(res["vocab"])
    bpt = np.asarray(res["bytes_per_token"])  # (S, train, eval)
    tpw = np.asarray(res["tokens_per_word"])  # (S, eval)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    ax.plot(vocab, bpt[:, 0, 0], "o-", label="prose tokenizer on prose")
    ax.plot(vocab, bpt[:, 1, 1], "s-", label="code tokenizer on code")
    ax.plot(vocab, bpt[:, 0, 1], "o--", label="prose tokenizer on code")
    ax.plot(vocab, bpt[:, 1, 0], "s--", label="code tokenizer on prose")
    ax.set_xscale("log", base=2)
    ax.set_xticks(vocab, [str(v) for v in vocab], minor=False)
    ax.minorticks_off()
    ax.set_xlabel("vocabulary size")
    ax.set_ylabel("UTF-8 bytes per token (held out)")
    ax.legend(fontsize=8)
    ax2.plot(vocab, tpw[:, 0], "o-", label="prose")
    ax2.plot(vocab, tpw[:, 1], "s-", label="code")
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(vocab, [str(v) for v in vocab], minor=False)
    ax2.minorticks_off()
    ax2.set_xlabel("vocabulary size")
    ax2.set_ylabel("tokens per word (fertility)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _draw_heatmap(ax: Any, sim: np.ndarray, labels: Sequence[str], title: str) -> Any:
    im = ax.imshow(sim, vmin=-1.0, vmax=1.0, cmap="RdBu_r")
    ax.set_xticks(range(len(labels)), labels, fontsize=6.5, fontfamily="monospace")
    ax.set_yticks(range(len(labels)), labels, fontsize=6.5, fontfamily="monospace")
    ax.tick_params(length=0)
    ax.grid(False)
    ax.set_title(title)
    return im


@figure("tokenization/embeddings", "cosine", caption="Cosine similarity: one-hot vs learned byte embeddings")
def _fig_cosine(res: Result):
    import matplotlib.pyplot as plt

    idx = np.asarray(res["heatmap_index"], dtype=int)
    labels = [res["labels"][i] for i in idx]
    sim = np.asarray(res["sim_learned"])[np.ix_(idx, idx)]
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 6.0), layout="constrained")
    _draw_heatmap(axes[0], np.eye(len(idx)), labels, "one-hot: identity (every off-diagonal = 0)")
    im = _draw_heatmap(axes[1], sim, labels, "learned by the shared model")
    fig.colorbar(im, ax=axes, shrink=0.7, label="cosine similarity")
    return fig


@figure("tokenization/embeddings", "pca", caption="Learned byte embeddings, first two principal components")
def _fig_pca(res: Result):
    import matplotlib.pyplot as plt

    coords = np.asarray(res["pca"])
    explained = np.asarray(res["pca_explained"])
    groups = list(res["groups"])
    fig, ax = plt.subplots(figsize=(7.0, 5.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for g_i, g in enumerate(dict.fromkeys(groups)):
        mask = np.array([x == g for x in groups])
        ax.scatter(coords[mask, 0], coords[mask, 1], s=12, color=colours[g_i % len(colours)], label=g)
        for (x, y), lab in zip(coords[mask], np.asarray(res["labels"])[mask], strict=True):
            ax.annotate(
                lab, (x, y), fontsize=7, fontfamily="monospace", xytext=(2, 2), textcoords="offset points"
            )
    ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({explained[1]:.0%} of variance)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig
