# %% [markdown]
# # Lab: the KV cache — speed, hits and misses, memory
#
# Three cached experiments from the package `llmkb.lab.topics.kv_cache`:
#
# * `kv-cache/speedup` times greedy `GPT.generate` with and without the cache on a model of the shared shape
#   (random weights, RoPE, `max_seq_len` large enough for the longest run), interleaving the modes round by
#   round, compares the ratio with the theoretical token-forward and FLOP ratios, and fits a per-call cost
#   model `c0 + c1 tokens + c2 pairs` whose predictions say when the speed-up grows;
# * `kv-cache/hitmiss` records which keys/values every forward call of the trained shared model reused (hit),
#   computed (miss) or had evicted, for plain caching, no caching, a sliding window and prefix reuse, and checks
#   the recordings against the simulation in `llmkb.infer.kvtrace`;
# * `kv-cache/memory` measures cache bytes against $2 \cdot L \cdot H_{kv} \cdot D \cdot T \cdot b$, the
#   resident memory a filled cache costs a fresh process, and, for published models at their own context, the
#   batch from which the cache outweighs the weights.
#
# Results are cached, so re-running costs nothing unless code or config changed. The page shows the `full`
# profile: `llmkb lab run kv-cache --profile full` (about a minute and a half on two CPU cores; the uncached
# 1024-token run dominates). For a quick ratio on your machine: `llmkb bench kv-cache`. To change lengths,
# repeats or prompts, edit the `profiles` in `llmkb/lab/topics/kv_cache/experiments*.py`.

# %%
from llmkb import lab
from llmkb.infer.kvtrace import decode_cost, decode_trace
from llmkb.lab.kit import table_rows
from llmkb.lab.notebook import show_figure
from llmkb.nn import GPTConfig

speed = lab.run("kv-cache/speedup")
print(f"profile {speed.profile}; model {speed['model']}")
for row in table_rows(speed["table"]):
    print(row)

# %% [markdown]
# ## Measured vs theoretical speed-up
# The dashed lines are what counting work predicts; the measured points fall short because a one-token call
# still pays a fixed cost. The dash-dotted lines are a three-parameter cost model fitted to every forward call,
# with and without its fixed cost per call.

# %%
show_figure(speed, "speedup")

# %%
print("fitted cost per call:", speed["fit"])
for row in table_rows(speed["predictions"]):
    print(row)
show_figure(speed, "latency")

# %% [markdown]
# ## The theory by itself
# `decode_cost` counts token-forwards, attention pairs and FLOPs of the forward calls that generation makes.
# The token-forward ratio grows like $N/2$; with a sliding window the attention part stops growing.

# %%
site = GPTConfig.preset("shared")
for n in (64, 256, 1024, 4096):
    nc, wc = decode_cost(site, 16, n, use_cache=False), decode_cost(site, 16, n)
    print(
        f"N={n:5d}  forwards x{nc['token_forwards'] / wc['token_forwards']:7.1f}  FLOPs x{nc['flops'] / wc['flops']:7.1f}"
    )

# %% [markdown]
# ## Hits, misses, evictions
# One row per forward call, one column per position: blue hit, orange miss, grey evicted.

# %%
hm = lab.run("kv-cache/hitmiss")
for row in table_rows(hm["table"]):
    print(row)
print("prefix reuse check:", hm["prefix_check"])
show_figure(hm, "grids")

# %% [markdown]
# The same grids come from the simulation alone; for example a window of 3 over a 4-token prompt:

# %%
print(decode_trace(prompt_len=4, new_tokens=6, window=3).grid)

# %%
show_figure(hm, "prefix-hit-rate")

# %% [markdown]
# ## Memory

# %%
mem = lab.run("kv-cache/memory")
for row in table_rows(mem["scale"]):
    print(row)
show_figure(mem, "memory")
