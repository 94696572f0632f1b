# %% [markdown]
# # Lab: synthetic data, cleaning and deduplication
#
# This lab runs the four cached experiments of the lab package `llmkb.lab.topics.synthetic_data`:
#
# * `synthetic-data/generate` samples every generator and the shared model, measures them beside the real corpus
#   and records what each Gopher rule removes;
# * `synthetic-data/dedup` plants duplicates in a corpus, finds them with MinHash + LSH and checks the S-curve;
# * `synthetic-data/mixtures` trains one small model on 0–100 % synthetic text at equal tokens, over seeds;
# * `synthetic-data/collapse` trains each generation on the previous generation's samples.
#
# The page shows the `full` profile; run it yourself with `llmkb lab run synthetic-data --profile full`. To change
# a setting, edit the `profiles` in `llmkb/lab/topics/synthetic_data/experiments_*.py` and re-run.

# %%
from llmkb import lab
from llmkb.data.dedup import MinHasher, candidate_pairs, shingles
from llmkb.data.generate import generate
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.synthetic_data.names import COLLAPSE, DEDUP, GENERATE, MIXTURES

# %% [markdown]
# ## Make a few documents and find the near duplicates by hand

# %%
docs = [r["text"] for r in generate("grammar", 6, seed=1)]
docs.append(docs[0].replace("the", "a", 1))  # a near copy of document 0
sig = MinHasher(num_perm=100, seed=1).signatures(docs)
print(sorted(candidate_pairs(sig, bands=20, rows=5)))
print(len(shingles(docs[0])), "shingles in document 0")

# %% [markdown]
# ## Generators beside the real corpus, and what cleaning removes

# %%
gen = lab.run(GENERATE)
for name, sample in gen["samples"].items():
    print(f"--- {name}\n{sample[:200]}\n")
show_table(gen["stats_table"])
show_table(gen["model_table"])
show_table(gen["clean_table"])
print(gen["clean_text"])

# %% [markdown]
# ## Deduplication: planted pairs, the S-curve, the cost

# %%
dd = lab.run(DEDUP)
show_table(dd["metrics_table"])
print(dd["text"])
show_figure(dd, "s-curve")
show_table(dd["cost_table"])
show_figure(dd, "cost")

# %% [markdown]
# ## Real vs synthetic training text

# %%
mix = lab.run(MIXTURES)
show_table(mix["table"])
print(mix["text"])
show_figure(mix, "losses")

# %% [markdown]
# ## Training on a model's own samples

# %%
col = lab.run(COLLAPSE)
show_table(col["table"])
print(col["text"])
show_figure(col, "generations")
