# %% [markdown]
# # Lab: tokenization & embeddings
#
# This lab reads four cached experiments from `llmkb.lab.topics.tokenization`:
#
# * `tokenization/bpe` trains the page's byte-level BPE on CPython's pydoc topics (GPT-4 split pattern, one
#   special token), saves it, exports it for the browser widget and measures numbers, leading spaces and
#   the same sentence in several scripts;
# * `tokenization/walkthrough` cuts code and prose with the GPT-4 split pattern and replays training merge by
#   merge on a toy corpus with the naive trainer;
# * `tokenization/vocab-sweep` measures bytes per token and tokens per word against vocabulary size, on
#   held-out prose (pydoc) and code (standard-library sources), and the gain of each doubling of the merges;
# * `tokenization/embeddings` compares one-hot vectors with the byte embeddings of the shared model.
#
# Results are cached, so re-running costs nothing unless the code or the config changed. The page shows the
# `full` profile; run it with `llmkb lab run tokenization --profile full` (well under a minute on two CPU
# cores once the shared model is trained). To try other sizes or corpora, edit the `profiles` of the
# experiments in `llmkb/lab/topics/tokenization/experiments.py` and re-run.

# %%
from IPython.display import HTML

from llmkb.lab.kit import table_rows
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.tokenization.analysis import compression, show_tokens, truncated
from llmkb.lab.topics.tokenization.names import TOPIC
from llmkb.tokenize import BPETokenizer, render_html
from llmkb.tokenize.naive import train_naive

bpe = TOPIC.run("bpe")
tok = BPETokenizer.load(bpe.dir / "tokenizer")
print(f"profile {bpe.profile}: {tok}")
print(bpe["stats"])

# %% [markdown]
# ## Encode, decode, look at tokens
# `show_tokens` writes each token in angle brackets `⟨⟩` (`␣` = space, `⏎` = newline); `render_html` is the
# coloured version shown on the page.

# %%
text = "The default value is evaluated once, when the function is defined."
ids = tok.encode(text)
assert tok.decode(ids) == text
print(len(ids), "tokens:", ids)
print(show_tokens(tok, text))
HTML(render_html(tok, text + " naïve 東京 <b>not bold</b>"))

# %% [markdown]
# ## The split pattern and a training run by hand
# How GPT-4's pattern cuts code and prose, then the naive trainer on a toy corpus, merge by merge. Change the
# corpus below and watch the merges change; the fast trainer always agrees.

# %%
walk = TOPIC.run("walkthrough")
for row in table_rows(walk["pieces"]):
    print(f"{row['text']:>32}  {row['pieces']}")
for row in table_rows(walk["trace"]):
    print(
        f"{row['step']:3d}  {row['pair']:>14} x{row['count']}  -> {row['new token']:>12}  {row['tokens after']}"
    )
corpus = "hug " * 10 + "pug " * 5 + "pun " * 12 + "bun " * 4 + "hugs " * 5
merges = train_naive(corpus, 8)
assert merges == BPETokenizer.train(corpus, 256 + 8).merges
print([BPETokenizer(merges).token_bytes(256 + i) for i in range(len(merges))])

# %% [markdown]
# ## Fewer merges, longer sequences
# The first `k` merges of a trained tokenizer are the tokenizer of size `256 + k` (training is greedy), so
# cutting the merge list shows what a smaller vocabulary would do to the same sentence.

# %%
n = len(tok.merges)
for k in sorted({0, min(64, n), n // 2, n}):
    small = truncated(tok, k)
    st = compression(small, text)
    print(f"{small.vocab_size:5d} ids: {st['tokens']:4.0f} tokens, {st['bytes_per_token']:.2f} bytes/token")

# %% [markdown]
# ## Failure cases
# Numbers, leading spaces, and the same sentence in other scripts.

# %%
for row in table_rows(bpe["numbers"]):
    print(f"{row['text']:>12}  {row['tokens']}")
for row in table_rows(bpe["scripts"]):
    print(f"{row['language']:>9}: {row['tokens']:4d} tokens, {row['tokens_per_char']:.2f} per character")

# %% [markdown]
# ## Vocabulary size on prose and code

# %%
sweep = TOPIC.run("vocab-sweep")
for row in table_rows(sweep["table"]):
    print({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()})
for row in table_rows(sweep["gains"]):
    print(f"merges {row['merges']:>12}: prose +{row['prose']:.1%}, code +{row['code']:.1%} bytes per token")
show_figure(sweep, "bytes-per-token")

# %% [markdown]
# ## One-hot vs learned embeddings
# The group table compares the mean cosine within a group of bytes with the mean cosine to other bytes.

# %%
emb = TOPIC.run("embeddings")
print("largest off-diagonal cosine between one-hot vectors:", emb["one_hot_max_off_diagonal"])
for row in table_rows(emb["table"]):
    print(f"{row['group']:>12}: within {row['learned within']:+.2f}, between {row['learned between']:+.2f}")
print("case pairs:", emb["case_pairs"]["learned"])
show_figure(emb, "cosine")

# %%
show_figure(emb, "pca")
