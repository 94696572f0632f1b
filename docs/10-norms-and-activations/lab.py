# %% [markdown]
# # Lab: normalization and activations
#
# This lab runs the four cached experiments of the lab package `llmkb.lab.topics.norms_and_activations`:
#
# * `norms-and-activations/cost` counts the parameters of the Llama-style and GPT-2 blocks part by part and
#   times LayerNorm against RMSNorm alone;
# * `norms-and-activations/grid` trains {LayerNorm, RMSNorm} x {GELU, SwiGLU} x {pre, post} over several seeds
#   with training dynamics recorded by the trainer (`TrainConfig(dynamics=True)`);
# * `norms-and-activations/stability` sweeps the learning rate of pre- and post-norm blocks with and without
#   warm-up and finds where each diverges;
# * `norms-and-activations/depth` reads every layer of deeper models at initialization and after training.
#
# Results are cached: re-running costs nothing unless the code or config changed. The page shows the `full`
# profile; run it yourself with `llmkb lab run norms-and-activations --profile full`. To change a width, the
# seeds or the learning rates, edit the `profiles` in `llmkb/lab/topics/norms_and_activations/experiments*.py`.

# %%
import torch

from llmkb import lab
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.norms_and_activations.names import COST, DEPTH, GRID, STABILITY
from llmkb.nn.ffn import FFNS

cost = lab.run(COST)
print(f"profile {cost.profile}")
show_table(cost["table"])

# %% [markdown]
# ## The activations, side by side
# The MLP activations of the registry on a few inputs: ReLU is flat below zero, GELU and SiLU dip slightly
# negative and are smooth.

# %%
z = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
rows = [{"z": float(v)} for v in z]
for name in ("relu", "gelu", "gelu-exact", "silu"):
    act = FFNS[name](4, 8).act
    for row, value in zip(rows, act(z), strict=True):
        row[name] = round(float(value), 4)
show_table(rows)

# %% [markdown]
# ## The grid
# Loss curves (mean ± sd over seeds), held-out loss and tokens/s of every variant.

# %%
grid = lab.run(GRID)
show_figure(grid, "curves")
print(grid["verdict"])
show_table(grid["table"])

# %%
print(grid["speed_verdict"])
print(cost["speed_verdict"])
show_table(cost["speed_table"])

# %% [markdown]
# ## Training dynamics
# Per-layer gradient norms and the update/weight ratio, recorded through hooks during the grid's runs.

# %%
show_figure(grid, "dynamics")
show_table([{"variant": r["variant"], "update/weight ratio, first step": r["update_ratio"][0],
             "last step": r["update_ratio"][-1]} for r in grid["rows"]])  # fmt: skip

# %% [markdown]
# ## Stability: learning rate and warm-up

# %%
stability = lab.run(STABILITY)
show_figure(stability, "lr-sweep")
print(stability["verdict"])
show_table(stability["table"])

# %% [markdown]
# ## Activations across depth

# %%
depth = lab.run(DEPTH)
show_figure(depth, "residual-norm")
show_figure(depth, "histograms")
print(depth["verdict"])
show_table(depth["table"])
