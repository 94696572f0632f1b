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

from llmkb.lab.kit import fmt, show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.tokenization.analysis import compression, show_tokens, truncated
from llmkb.lab.topics.tokenization.names import TOPIC
from llmkb.tokenize import BPETokenizer, render_html
from llmkb.tokenize.naive import train_naive

bpe = TOPIC.run("bpe")
tok = BPETokenizer.load(bpe.dir / "tokenizer")
print(f"profile {bpe.profile}: {tok}")
show_table(bpe["stats"], formats={"bytes_per_token": ".2f", "train_seconds": ".1f", "corpus_chars": ","})

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
show_table(walk["pieces"])
print("toy corpus:", walk["corpus"])
show_table(walk["trace"])
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
rows = []
for k in sorted({0, min(64, n), n // 2, n}):
    small = truncated(tok, k)
    st = compression(small, text)
    rows.append(
        {
            "merges": k,
            "ids": small.vocab_size,
            "tokens": int(st["tokens"]),
            "bytes/token": st["bytes_per_token"],
        }
    )
show_table(rows, formats={"bytes/token": ".2f"})

# %% [markdown]
# ## Failure cases
# Numbers, leading spaces, and the same sentence in other scripts.

# %%
show_table(bpe["numbers"])
show_table(bpe["spaces"])
show_table(bpe["scripts"], formats={"tokens_per_char": ".2f", "vs_english": ".2f"})

# %% [markdown]
# ## The longest token
# Runs of one repeated character are collapsed; the note and the context come from the experiment.

# %%
longest = bpe["longest"]
print(longest["view"], f"  ({bpe['longest_bytes']} bytes; {longest['legend']})")
print(longest["note"])
print(longest["context"])

# %% [markdown]
# ## Vocabulary size on prose and code

# %%
sweep = TOPIC.run("vocab-sweep")
show_table(sweep["table"], decimals=2)
show_table(sweep["gains"], formats={"prose": "+.1%", "code": "+.1%"}, caption="gain in bytes per token")
show_figure(sweep, "bytes-per-token")

# %% [markdown]
# ## One-hot vs learned embeddings
# The group table compares the mean cosine within a group of bytes with the mean cosine to other bytes.

# %%
emb = TOPIC.run("embeddings")
print("largest off-diagonal cosine between one-hot vectors:", fmt(emb["one_hot_max_off_diagonal"]))
show_table(emb["table"], decimals=2)
cases = {k: emb["case_pairs"][k] for k in ("learned", "random")}
show_table(
    [
        {"matrix": k, "pairs": int(v["pairs"]), "same letter": v["same"], "other capitals": v["other"]}
        for k, v in cases.items()
    ],
    decimals=2,
)
show_figure(emb, "cosine")

# %%
show_figure(emb, "pca")
