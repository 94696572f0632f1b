# %% [markdown]
# # Lab: tokenization & embeddings
#
# This lab reads three cached experiments from `llmkb.lab.topics.tokenization`:
#
# * `tokenization/bpe` trains the page's byte-level BPE on CPython's pydoc topics (GPT-4 split pattern, one
#   special token), saves it, exports it for the browser widget and measures numbers, leading spaces and
#   the same sentence in several scripts;
# * `tokenization/vocab-sweep` measures bytes per token and tokens per word against vocabulary size, on
#   held-out prose (pydoc) and code (standard-library sources);
# * `tokenization/embeddings` compares one-hot vectors with the byte embeddings of the shared model.
#
# Results are cached, so re-running costs nothing unless the code or the config changed. The page shows the
# `full` profile; run it with `llmkb lab run tokenization --profile full` (well under a minute on two CPU
# cores once the shared model is trained). To try other sizes or corpora, edit the `profiles` of the
# experiments in `llmkb/lab/topics/tokenization.py` and re-run.

# %%
from IPython.display import HTML

from llmkb import lab
from llmkb.lab.registry import get_figure
from llmkb.lab.topics.tokenization import compression, show_tokens, table_rows, truncated
from llmkb.tokenize import BPETokenizer, render_html

bpe = lab.run("tokenization/bpe")
tok = BPETokenizer.load(bpe.dir / "tokenizer")
print(f"profile {bpe.profile}: {tok}")
print(bpe["stats"])

# %% [markdown]
# ## Encode, decode, look at tokens
# `show_tokens` writes each token in angle brackets `⟨⟩` (`␣` = space, `↵` = newline); `render_html` is the coloured
# version shown on the page.

# %%
text = "The default value is evaluated once, when the function is defined."
ids = tok.encode(text)
assert tok.decode(ids) == text
print(len(ids), "tokens:", ids)
print(show_tokens(tok, text))
HTML(render_html(tok, text + " naïve 東京 <b>not bold</b>"))

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
sweep = lab.run("tokenization/vocab-sweep")
for row in table_rows(sweep["table"]):
    print({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()})
get_figure("tokenization/vocab-sweep", "bytes-per-token").fn(sweep)

# %% [markdown]
# ## One-hot vs learned embeddings
# The group table compares the mean cosine within a group of bytes with the mean cosine to other bytes.

# %%
emb = lab.run("tokenization/embeddings")
print("largest off-diagonal cosine between one-hot vectors:", emb["one_hot_max_off_diagonal"])
for row in table_rows(emb["table"]):
    print(f"{row['group']:>12}: within {row['learned within']:+.2f}, between {row['learned between']:+.2f}")
print("case pairs:", emb["case_pairs"]["learned"])
get_figure("tokenization/embeddings", "cosine").fn(emb)

# %%
get_figure("tokenization/embeddings", "pca").fn(emb)
