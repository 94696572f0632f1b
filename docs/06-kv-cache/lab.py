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
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.nn import GPTConfig

speed = lab.run("kv-cache/speedup")
print(f"profile {speed.profile}")
show_table(speed["model"], caption="the timed model")
show_table(speed["table"])

# %% [markdown]
# ## Measured vs theoretical speed-up
# The dashed lines are what counting work predicts; the measured points fall short because a one-token call
# still pays a fixed cost. The dash-dotted lines are a three-parameter cost model fitted to every forward call,
# with and without its fixed cost per call.

# %%
show_figure(speed, "speedup")

# %%
show_table(speed["fit"], formats={"overhead_share": ".0%"}, caption="fitted cost per call")
print(speed["headline"]["fit_reading"])
show_table(speed["predictions"])
print(speed["predictions_text"])
show_figure(speed, "latency")

# %% [markdown]
# ## The theory by itself
# `decode_cost` counts token-forwards, attention pairs and FLOPs of the forward calls that generation makes.
# The token-forward ratio grows like $N/2$; with a sliding window the attention part stops growing.

# %%
site = GPTConfig.preset("shared")
rows = []
for n in (64, 256, 1024, 4096):
    nc, wc = decode_cost(site, 16, n, use_cache=False), decode_cost(site, 16, n)
    rows.append(
        {
            "new tokens N": n,
            "token-forward ratio": nc["token_forwards"] / wc["token_forwards"],
            "FLOP ratio": nc["flops"] / wc["flops"],
        }
    )
show_table(rows, decimals=1)

# %% [markdown]
# ## Hits, misses, evictions
# One row per forward call, one column per position: blue hit, orange miss, grey evicted.

# %%
hm = lab.run("kv-cache/hitmiss")
show_table(hm["table"])
show_table(hm["prefix_check"], caption="prefix reuse check")
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
show_table(mem["scale"])
print("the cache outweighs the weights from a batch of", mem["overtaking"])
show_figure(mem, "memory")
