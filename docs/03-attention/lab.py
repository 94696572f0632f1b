# %% [markdown]
# # Lab: self-attention and multi-head attention
#
# Five experiments, defined in the package `llmkb/lab/topics/attention/` (`experiments_model.py` and
# `experiments_cost.py`) and cached by the site build:
#
# 1. **heads** — every layer and head of the shared model (the byte-level GPT the build trains once) on one
#    sentence: attention maps, per-head scores measured from them and a label per head;
# 2. **query** — one query of that sentence through its sharpest head: scores, softmax weights and the
#    output as the weighted sum of the values, recomputed from the head's own `q`, `k`, `v`;
# 3. **causality** — the Jacobian norms ‖∂ logits_t / ∂ embedding_s‖ of the same model, by autograd;
# 4. **scaling** — softmax of random `q·k` over a realistic number of keys with and without the `1/√d`, at real head widths;
# 5. **memory** — measured bytes of the `(B, H, T, T)` weight matrix vs its inputs, and the FLOPs.
#
# The profile comes from `$LLMKB_PROFILE` (`quick` in tests, `full` on the published site). To change an
# experiment, edit its `profiles=` config (or `SENTENCE`, `QUERY_POSITION` in `names.py`) and run
# `llmkb lab run attention --profile full`: the cache re-runs only what changed.

# %%
import numpy as np

from llmkb import lab
from llmkb.lab.kit import fmt, show_table
from llmkb.lab.notebook import show_figure

heads = lab.run("attention/heads")
print("profile:", heads.profile, "| sentence:", repr(heads["sentence"]))
show_table(heads["table"], decimals=2)

# %%
show_figure(heads, "maps")

# %% [markdown]
# The labels come from the scores above (`classify_head`), tried in order: the largest of `prev`, `first`,
# `self` names the head when it is at least 0.4; then `space` ≥ 0.5 (word-boundary), `induction` ≥ 0.3,
# `local` ≥ 0.7; else the normalized entropy decides between `broad` and `mixed`. The sentences the page
# prints are computed from the same rows:

# %%
show_table(heads["notes"])

# %%
show_figure(heads, "examples")

# %% [markdown]
# ## One query, step by step
# The lab reads the head's `q`, `k`, `v` through hooks that change nothing, recomputes
# `s = q·k/√d → a = softmax(s) → o = Σ a_j v_j`, and checks both against the model's own numbers.

# %%
qry = lab.run("attention/query")
print(qry["note"])
print(qry["scale_note"])
w = np.asarray(qry["weights"])
assert abs(w.sum() - 1) < 1e-9 and np.allclose(w @ np.asarray(qry["values"]), qry["output"])

# %%
show_figure(qry, "walkthrough")

# %% [markdown]
# ## Causality through autograd
# Every entry above the diagonal is a norm of gradients that must be *exactly* zero; the perturbation
# check changes every byte after the middle and compares the logits before it.

# %%
cau = lab.run("attention/causality")
norms = np.asarray(cau["norms"])
keys = ("max_above_diagonal", "min_on_or_below_diagonal", "max_past_logit_change", "max_future_logit_change")
show_table({k: cau[k] for k in keys})
assert cau["max_above_diagonal"] == 0.0 and np.all(np.triu(norms, 1) == 0)

# %%
show_figure(cau, "jacobian")

# %% [markdown]
# ## Why 1/√d

# %%
sc = lab.run("attention/scaling")
print(sc["summary"])
show_table(sc["real"], sig=3)

# %%
show_table(sc["table"], sig=3)

# %%
show_figure(sc, "entropy")

# %% [markdown]
# ## Quadratic memory and FLOPs

# %%
mem = lab.run("attention/memory")
print(
    "log-log slopes of measured bytes vs T:",
    ", ".join(f"{k} {fmt(v, '.2f')}" for k, v in mem["slope"].items()),
)
show_table(mem["table"])

# %%
show_figure(mem, "memory")
