# %% [markdown]
# # Lab: scratchpads, majority votes and GRPO
#
# This lab runs the three cached experiments of the lab package `llmkb.lab.topics.reasoning`:
#
# * `reasoning/direct-vs-cot` trains the same small GPT, for the same steps, to answer sums directly or after a
#   digit-by-digit scratchpad, over several seeds, and measures greedy accuracy per number of digits;
# * `reasoning/self-consistency` samples many chains per question from both models and votes on their answers:
#   accuracy against the number of chains and the tokens they cost;
# * `reasoning/grpo` trains the scratchpad model further with GRPO, the verifier as its reward.
#
# Results are cached: re-running costs nothing unless the code or config changed. The page shows the `full`
# profile; run it yourself with `llmkb lab run reasoning --profile full`. To change the sizes, steps or seeds,
# edit the `profiles` in `llmkb/lab/topics/reasoning/experiments_*.py`.

# %%
import torch

from llmkb import lab
from llmkb.data.instruct import END_ID, decode_response
from llmkb.data.reasoning_tasks import FORMATS, make_problems, verify
from llmkb.infer.self_consistency import majority_vote
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.reasoning.analysis import load_model, prompts
from llmkb.lab.topics.reasoning.names import DIRECT_VS_COT, GRPO, SELF_CONSISTENCY
from llmkb.train.grpo import group_advantages
from llmkb.train.sequences import generate_responses

# %% [markdown]
# ## One problem of each kind, difficulty 2
# The direct target is `#` and the answer; the scratchpad writes the steps first.

# %%
for task in ("add", "mul", "sort", "word"):
    p = make_problems(task, [2], 1, seed=1)[0]
    print(f"{p.prompt}\n  direct:     {p.target('direct')}\n  scratchpad: {p.target('scratchpad')}")

# %% [markdown]
# ## Direct answer against scratchpad

# %%
formats = lab.run(DIRECT_VS_COT)
print(f"profile {formats.profile}: {formats['steps']} steps, {formats['seeds_text']} per format")
show_table(formats["table"])
print(formats["verdict"])
show_figure(formats, "accuracy")
show_table(formats["examples"])

# %% [markdown]
# ## Ask the trained models yourself
# Greedy answers of the first seed's models to a few new sums; change the sizes to try longer ones.

# %%
fresh = make_problems("add", [1, 2, 3], 3, seed=42)
for fmt in FORMATS:
    model = load_model(formats, fmt)
    for p, out in zip(fresh, generate_responses(model, prompts(fresh, fmt), 44, END_ID), strict=True):
        text = decode_response(out)[0]
        print(f"{fmt:>10}  {p.prompt:>9}  {text:<40} {'right' if verify(p, text) else 'wrong'}")

# %% [markdown]
# ## Majority vote over sampled chains
# The vote's tie rule: the earliest-sampled answer wins, unparseable chains (`None`) never vote.

# %%
print(majority_vote(["12", "15", "15", "12"]), majority_vote([None, None, "9"]))
votes = lab.run(SELF_CONSISTENCY)
show_table(votes["table"])
print(votes["verdict"])
show_figure(votes, "compute")

# %% [markdown]
# ## GRPO
# Group-relative advantages of two groups of four rewards, then the measured run.

# %%
print(group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])))
rl = lab.run(GRPO)
show_table(rl["table"])
print(rl["verdict"])
show_figure(rl, "curves")
