# %% [markdown]
# # Lab: positional embeddings
#
# Four experiments, defined in the package `llmkb/lab/topics/positional_embeddings/` and cached by the site
# build; the trained ones repeat every run with several seeds:
#
# 1. **compare** — the same small byte-level GPT trained on CPython's pydoc topics with each of
#    `none`, `sinusoidal`, `learned`, `rope`, `alibi` (only `GPTConfig.positional` changes);
# 2. **extrapolation** — those checkpoints evaluated at 1×, 2× and 4× their training length, loss per
#    position, and the RoPE checkpoints again with position interpolation (`rope-pi`) and an NTK-aware base;
# 3. **animation** — the vectors the page's 3-D widget draws (RoPE rotations, sinusoidal and learned
#    tables);
# 4. **ablation** — reversal, an order-sensitive synthetic task, with and without positional information,
#    and the attention entropy per head.
#
# The cells below read the cached results (the profile comes from `$LLMKB_PROFILE`: `quick` in tests,
# `full` on the published site). To change an experiment, edit its `profiles=` config in the package and
# re-run `llmkb lab run positional-embeddings --profile full`; the cache notices the change and re-runs only
# what depends on it.

# %%
from llmkb import lab
from llmkb.lab.kit import fmt, show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.positional_embeddings.names import ABLATION, ANIMATION, COMPARE, EXTRAPOLATION, VARIANTS

compare = lab.run(COMPARE)
print("profile:", compare.profile, "| variants:", ", ".join(VARIANTS), "| seeds:", compare["seeds"])
show_table(compare["table"])
print("ranking (a < b only when every seed of a is below every seed of b):", compare["ranking"])

# %%
show_figure(compare, "val-loss")

# %% [markdown]
# ## Extrapolation: 1×, 2×, 4× the training length
# Every model was built with room for 4× the training length and trained on 1×; the learned table's
# extra rows were never updated (`learned_table.untrained_rows_max_change` is their largest change).
# `rope + PI` and `rope + NTK` are the RoPE checkpoints run with rescaled angles at scale window / T.

# %%
extra = lab.run(EXTRAPOLATION)
show_table(
    compare["learned_table"],
    caption="the learned position table: rows inside T (trained) and past T (never updated)",
)
show_table(extra["table"])
print("beyond T:", extra["ranking_long"])
print("from 1x to 4x windows, the mean loss ends", extra["longer_vs_1x_text"])
print("RoPE pairs: wavelengths", ", ".join(fmt(float(x), ".1f") for x in extra["rope"]["wavelengths"]))

# %%
show_figure(extra, "per-position")

# %% [markdown]
# ## The data behind the 3-D widget
# RoPE turns pair *i* of a vector by *m·θᵢ* at position *m*; here are the angles the first pairs reach at
# the last position, read back from the exported vectors.

# %%
import numpy as np

anim = lab.run(ANIMATION)
rope = anim["widget"]["rope"]
rotated = np.asarray(rope["rotated"])
half = rope["head_dim"] // 2
m = rotated.shape[0] - 1
angles = np.arctan2(rotated[m, half:], rotated[m, :half])
rows = []
for i in range(4):
    expected = np.angle(np.exp(1j * m * rope["theta"][i]))
    rows.append(
        {"pair": i, "theta": rope["theta"][i], f"angle at m={m}": angles[i], "m*theta, wrapped": expected}
    )
show_table(rows, decimals=4)

# %% [markdown]
# ## Ablation: reversal with and without position

# %%
abl = lab.run(ABLATION)
show_table(abl["task"], caption="the task")
show_table(abl["table"])

# %%
show_table(abl["removed_table"])
print("removing the encoding", abl["removal"]["changes"])

# %%
show_figure(abl, "entropy")

# %%
show_figure(abl, "maps")
