# %% [markdown]
# # Lab: grouped-query attention, from MHA to MQA
#
# This lab runs the three cached experiments of the lab package `llmkb.lab.topics.grouped_query_attention`:
#
# * `grouped-query-attention/bench` times cached decode steps at 256 … 2048 cached positions and a prefill,
#   for every number of key/value heads from MHA to MQA, at a tiny and a wider width, and checks each cache it
#   allocates against the formula `2 L H_kv D T B b`;
# * `grouped-query-attention/quality` trains one small model per number of key/value heads on the shared
#   corpus, several seeds each, and scores them on the same held-out text;
# * `grouped-query-attention/uptrain` converts the trained MHA models with `llmkb.nn.gqa.convert_mha_to_gqa`
#   (mean-pooling or keeping the first head of each group), uptrains them briefly and compares them with
#   the grouped models trained from scratch.
#
# Results are cached: re-running costs nothing unless the code or config changed. The page shows the `full`
# profile; run it yourself with `llmkb lab run grouped-query-attention --profile full` (about a minute on two
# CPU cores). To change a width, a context or the number of seeds, edit the `profiles` in
# `llmkb/lab/topics/grouped_query_attention/experiments_*.py` and re-run.

# %%
import torch

from llmkb import lab
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.grouped_query_attention.names import BENCH, QUALITY, UPTRAIN
from llmkb.nn import GPT, GPTConfig, KVCache
from llmkb.nn.gqa import convert_mha_to_gqa

bench = lab.run(BENCH)
print(f"profile {bench.profile}: {bench['checked_caches']} caches allocated and checked against the formula")

# %% [markdown]
# ## The cache, by hand
# One cache per number of key/value heads for the shared model's shape with 8 query heads: the bytes follow
# `2 L H_kv D T B b`; the parameters shrink far less (only `W_K` and `W_V` lose columns).

# %%
rows = []
for n_kv in (8, 4, 2, 1):
    cfg = GPTConfig.preset("shared", n_heads=8, n_kv_heads=n_kv)
    cache = KVCache(cfg, batch_size=1, max_len=1024)
    formula = 2 * cfg.n_layers * n_kv * cfg.head_dim * 1024 * 1 * 4
    assert cache.nbytes == formula
    rows.append({"kv heads": n_kv, "cache bytes (1,024 positions)": cache.nbytes,
                 "parameters": GPT(cfg).num_parameters()})  # fmt: skip
show_table(rows)

# %% [markdown]
# ## Decode speed at two widths
# Filled markers are memory-bound points: reading the cache is at least half of the step's fitted time.

# %%
show_figure(bench, "decode")
print("tiny width:", bench["regimes"]["tiny"])
print("wide width:", bench["regimes"]["wide"])
show_table(bench["table"])

# %%
show_table(bench["prefill_table"])

# %% [markdown]
# ## What the bandwidth bound says for Llama 2

# %%
show_table(bench["real"])

# %% [markdown]
# ## Group size vs held-out loss

# %%
quality = lab.run(QUALITY)
show_figure(quality, "frontier")
print(quality["verdict"])
show_table(quality["table"])

# %% [markdown]
# ## Converting a trained MHA model
# A conversion on a fresh model first: the new key heads are the means of the old ones, group by group.

# %%
torch.manual_seed(0)
mha = GPT(GPTConfig.preset("shared", n_heads=8))
gqa = convert_mha_to_gqa(mha, n_kv_heads=2)
old = mha.blocks[0].attn.k_proj.weight.view(2, 4, 16, 128)
print("group means:", torch.allclose(gqa.blocks[0].attn.k_proj.weight.view(2, 16, 128), old.mean(1)))

# %%
uptrain = lab.run(UPTRAIN)
show_figure(uptrain, "recovery")
print(uptrain["verdict"])
show_table(uptrain["table"])
