# %% [markdown]
# # Lab: finetuning, instruction tuning and RLHF on a tiny model
#
# This lab runs the five cached experiments of the lab package `llmkb.lab.topics.finetuning`, each starting
# where the one before it stopped:
#
# * `finetuning/domain` finetunes the shared model on Python source, fully and with LoRA at several ranks, and
#   measures the loss on code (new) and on prose (old) as it goes;
# * `finetuning/sft` adds chat tokens and instruction-tunes the shared model on digit tasks, with and without
#   prompt-loss masking, scoring exact match per task and on held-out compositions;
# * `finetuning/reward` samples responses from the SFT model, pairs them by a programmatic judge and trains a
#   Bradley–Terry reward model;
# * `finetuning/ppo` runs PPO against that reward model for several KL coefficients;
# * `finetuning/dpo` trains DPO on the same pairs.
#
# Results are cached: re-running costs nothing unless the code or config changed. The page shows the `full`
# profile; run it yourself with `llmkb lab run finetuning --profile full`. To change steps, ranks or the KL
# sweep, edit the `profiles` in `llmkb/lab/topics/finetuning/experiments_*.py`.

# %%
from llmkb import lab
from llmkb.data.instruct import Example, collate, decode_response, encode
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.finetuning.names import DOMAIN, DPO, PPO, REWARD, SFT
from llmkb.train.reward import judge

# %% [markdown]
# ## One instruction, by hand
# The template, the positions that carry a loss with prompt masking, and the judge's score of three responses.

# %%
ex = Example("sort reverse", "48", "84")
ids, prompt_len = encode(ex)
x, y = collate([(ids, prompt_len)], mask_prompt=True)
print(f"{len(ids)} ids, prompt {prompt_len}, scored {int((y != -100).sum())}")
for answer in ("84", "48", "8x"):
    ids_out = [*answer.encode(), 258]  # the answer, then <end>
    text, ended = decode_response(ids_out)
    print(f"{text!r}: ended {ended}, judge {judge(ex, ids_out):.2f}")

# %% [markdown]
# ## Finetuning on a new domain: full vs LoRA

# %%
domain = lab.run(DOMAIN)
show_table(domain["table"])
print(domain["headline"])
show_figure(domain, "curves")
show_figure(domain, "params")

# %% [markdown]
# ## Instruction tuning

# %%
sft = lab.run(SFT)
show_table(sft["table"])
print(sft["masking"])
print(sft["held_out"])
show_figure(sft, "tasks")

# %% [markdown]
# ## Reward model, PPO and DPO

# %%
reward = lab.run(REWARD)
print(reward["headline"])
ppo = lab.run(PPO)
show_table(ppo["table"])
print(ppo["headline"])
show_figure(ppo, "curves")
print(lab.run(DPO)["headline"])
