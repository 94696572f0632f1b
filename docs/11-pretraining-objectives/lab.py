# %% [markdown]
# # Lab: causal, masked and prefix language modeling on one backbone
#
# This lab runs the two cached experiments of the lab package `llmkb.lab.topics.pretraining_objectives`:
#
# * `pretraining-objectives/train` trains one tiny model three ways — CLM, MLM (15 %, 80/10/10) and prefix LM —
#   on the same windows of a prose + task-line mixture, same steps and compute, over several seeds, with the
#   site's one trainer (`llmkb.train.train` given an `ObjectiveData`), and records each one's held-out loss by
#   tokens seen and by tokens predicted;
# * `pretraining-objectives/samples` scores every model on free generation, a middle-span cloze and four
#   conditional tasks, also off its own job, and records attention maps.
#
# Results are cached: re-running costs nothing unless the code or config changed. The page shows the `full`
# profile; run it yourself with `llmkb lab run pretraining-objectives --profile full`. To change the steps, the
# seeds or the tasks, edit the `profiles` in `llmkb/lab/topics/pretraining_objectives/experiments_*.py`.

# %%
import torch

from llmkb import lab
from llmkb.data.objectives import MASK_ID, mlm_batch, prefix_lm_batch
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.pretraining_objectives.names import SAMPLES, TRAIN

# %% [markdown]
# ## One batch of each objective, by hand
# Where the loss is taken: MLM on the selected positions, prefix LM on the continuation (`-100` = no loss).

# %%
text = torch.tensor([list(b"the mask decides what the model may see")])
g = torch.Generator().manual_seed(0)
mlm = mlm_batch(text, g, rate=0.3)
print("MLM input: ", "".join("_" if t == MASK_ID else chr(t) for t in mlm.x[0].tolist()))  # [MASK] as _
print(f"MLM scores {mlm.predicted} of {mlm.seen} positions")
prefix = prefix_lm_batch(text, prefix_len=9)
print(f"prefix LM (P = 9) scores {prefix.predicted} of {prefix.seen} positions")

# %% [markdown]
# ## Learning curves at equal compute

# %%
train = lab.run(TRAIN)
print(f"profile {train.profile}: {train['steps']} steps, {train['seeds_text']}")
show_figure(train, "curves")
print(train["headline"])
show_table(train["table"])

# %% [markdown]
# ## Sample quality and behaviours

# %%
samples = lab.run(SAMPLES)
show_table(samples["table"])
print(samples["verdict_text"])
print(samples["examples"])
show_figure(samples, "masks")
