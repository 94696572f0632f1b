# %% [markdown]
# # Lab: scaling laws on a CPU, measured and fitted
#
# This lab runs the three cached experiments of the lab package `llmkb.lab.topics.scaling_laws`:
#
# * `scaling-laws/sweep` trains one model per size at a constant learning rate and reads its held-out loss at
#   several token budgets, then fits L(N), L(D) and L(N, D) with bootstrap intervals;
# * `scaling-laws/profiles` measures the peak memory of a training step against the formula (weights, gradients,
#   AdamW state, activations) and times steps at several batch sizes and lengths;
# * `scaling-laws/optimal` asks the fitted law for the compute-optimal size at the sweep's largest compute and
#   trains that model once to check.
#
# Results are cached, and each run of the sweep is also stored on its own, so an interrupted sweep resumes. The
# page shows the `full` profile; run it yourself with `llmkb lab run scaling-laws --profile full` (a few minutes
# on two CPU cores). To change the sizes or budgets, edit the `profiles` in
# `llmkb/lab/topics/scaling_laws/experiments_sweep.py` and re-run.

# %%
import numpy as np

from llmkb import lab
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.scaling_laws.names import OPTIMAL, PROFILES, SWEEP
from llmkb.metrics.scaling import LawFit, compute_optimal

# %% [markdown]
# ## A law, by hand
# A made-up law with equal exponents: doubling compute multiplies both N and D by about √2.

# %%
law = LawFit("ND", {"E": 1.5, "A": 100.0, "alpha": 0.3, "B": 100.0, "beta": 0.3}, cost=0.0)
for c in (1e15, 2e15):
    n, d = compute_optimal(law, c)
    print(f"C = {c:.0e}: N = {n:,.0f}, D = {d:,.0f}, loss {float(law.predict(n, d)):.3f}")

# %% [markdown]
# ## The sweep and the fitted laws

# %%
sweep = lab.run(SWEEP)
print(
    f"profile {sweep.profile}: {sweep['sizes']} sizes x {sweep['budgets']} budgets, {sweep['span']:.0f}x in N"
)
show_table(sweep["table"])
show_figure(sweep, "loss-vs-size")
show_figure(sweep, "loss-vs-compute")
show_table(sweep["exponents"])
print(sweep["exponent_text"])
print(sweep["flops_text"])

# %% [markdown]
# ## Memory and time

# %%
profiles = lab.run(PROFILES)
show_table(profiles["table"])
show_figure(profiles, "memory")

# %% [markdown]
# ## The compute-optimal check

# %%
optimal = lab.run(OPTIMAL)
print(optimal["text"])
show_figure(optimal, "frontier")
print("tokens per parameter at the recommendation:", np.round(optimal["tokens_per_parameter"], 2))
