# %% [markdown]
# # Lab: mixture of experts, from two experts to sixty-four
#
# This lab runs the three cached experiments of the lab package `llmkb.lab.topics.mixture_of_experts`:
#
# * `mixture-of-experts/train` trains a dense model and top-1 (Switch) MoE models with 2, 4 and 8 experts on
#   the shared corpus, at equal active and at equal total parameters, plus the 8-expert model without the
#   balancing loss, several seeds each;
# * `mixture-of-experts/routing` routes English prose, Python code and synthetic copy/sort tasks through the
#   trained 8-expert models and measures how the experts share the bytes;
# * `mixture-of-experts/flops` counts one layer's FLOPs with `FlopCounterMode` and times it, dense, sparse and
#   dense simulation, from 2 to 64 experts.
#
# Results are cached: re-running costs nothing unless the code or config changed. The page shows the `full`
# profile; run it yourself with `llmkb lab run mixture-of-experts --profile full` (about a minute on two CPU
# cores). To change the expert counts, the steps or the seeds, edit the `profiles` in
# `llmkb/lab/topics/mixture_of_experts/experiments_*.py` and re-run.

# %%
import torch

from llmkb import lab
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.mixture_of_experts.names import FLOPS, ROUTING, TRAIN
from llmkb.nn import MoE, MoEConfig

# %% [markdown]
# ## One layer, by hand
# Two experts, top-1, and a capacity of one assignment per expert: of four tokens, the first that picks each
# expert is served and the others are dropped (their output row is zero; the residual carries them).

# %%
torch.manual_seed(0)
layer = MoE(8, 16, settings=MoEConfig(n_experts=2, top_k=1, routing="switch", capacity_factor=0.5))
x = torch.randn(1, 4, 8)
y = layer(x)
print("experts chosen:", layer.router(x[0]).argmax(-1).tolist())
print("rows served:   ", (y[0].abs().sum(-1) > 0).tolist())
print(f"dropped share: {layer.stats.dropped:.0%}, load: {layer.stats.load.tolist()}")

# %% [markdown]
# ## Dense vs MoE, equal active and equal total parameters

# %%
train = lab.run(TRAIN)
print(f"profile {train.profile}: {train['steps']} steps, {train['seeds_text']}")
show_figure(train, "curves")
print("equal active:", train["active_verdict"])
print("equal total: ", train["total_verdict"])
show_table(train["table"])

# %% [markdown]
# ## Which experts the datasets and the kinds of byte go to

# %%
routing = lab.run(ROUTING)
show_figure(routing, "by-dataset")
print(routing["specialist"])
show_figure(routing, "by-kind")
print(routing["kinds_vs_datasets"])

# %% [markdown]
# ## With and without the balancing loss

# %%
show_figure(routing, "entropy")
print(routing["verdict"])
print("at the end of training:", train["short_run"])
show_table(routing["table"])

# %% [markdown]
# ## Counted FLOPs and wall time

# %%
flops = lab.run(FLOPS)
show_figure(flops, "cost")
print(flops["flat"])
print(flops["overhead"])
print(flops["time_vs_flops"])
show_table(flops["table"])
show_table(flops["time_table"])
