# %% [markdown]
# # Lab: long contexts — what attention costs, and what happens past the training length
#
# Three cached experiments of the lab package `llmkb.lab.topics.long_context`:
#
# * `long-context/benchmark` times naive, chunked, SDPA (each backend this PyTorch build has) and
#   sliding-window attention, forward and forward + backward, and measures each call's peak memory in a fresh
#   process (the same code as `llmkb bench attention`);
# * `long-context/context` scores the positional lab's checkpoints, trained at a short context, from half to
#   sixteen times that length, for RoPE, RoPE + PI, RoPE + NTK, ALiBi, a sliding window and learned positions,
#   and finds each variant's collapse point;
# * `long-context/window` runs the RoPE checkpoints with sliding windows of several sizes, and measures how far
#   back a token can still change the last prediction;
# * `long-context/passkey` trains a tiny sliding-window model and a full-attention one on passkey retrieval and
#   scores each distance, against the window's reach L·(w−1).
#
# Run them yourself with `llmkb lab run long-context --profile full`; the benchmark alone, at any lengths, with
# `llmkb bench attention --lengths 1024 8192 --modes forward backward`.

# %%
import torch
from torch.nn import functional as F

from llmkb import lab
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.long_context.names import BENCHMARK, CONTEXT, PASSKEY, WINDOW
from llmkb.nn import chunked_attention

bench = lab.run(BENCHMARK)
print(f"profile {bench.profile}: lengths {bench['lengths']}, backward up to {bench['max_backward']}")
print(bench["unavailable_text"])

# %% [markdown]
# ## The kernel is exact
# Before timing it: the chunked kernel against PyTorch's SDPA on a causal, grouped-query case.

# %%
torch.manual_seed(0)
q, k, v = torch.randn(1, 4, 300, 16), torch.randn(1, 2, 300, 16), torch.randn(1, 2, 300, 16)
blocks: list[tuple[int, int]] = []
out = chunked_attention(q, k, v, chunk_size=64, trace=blocks)
ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
print(f"max |chunked - sdpa| = {float((out - ref).abs().max()):.1e}; key blocks read: {len(blocks)}")

# %% [markdown]
# ## Time and memory

# %%
show_figure(bench, "time")

# %%
show_figure(bench, "memory")

# %%
print(bench["summary"])
show_table(bench["ratio_table"])

# %% [markdown]
# ## Perplexity vs context length

# %%
ctx = lab.run(CONTEXT)
show_figure(ctx, "perplexity")

# %%
show_table(ctx["table"])
print(ctx["collapse_text"])

# %% [markdown]
# ## Sliding windows: window size and reach

# %%
win = lab.run(WINDOW)
show_figure(win, "window-size")
show_table(win["table"])
print(win["window_text"])

# %%
show_figure(win, "reach")
print(win["reach_text"])

# %% [markdown]
# ## Passkey retrieval vs distance

# %%
key = lab.run(PASSKEY)
show_figure(key, "accuracy")
print(key["passkey_text"])
