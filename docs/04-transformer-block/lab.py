# %% [markdown]
# # Lab: one transformer block, a stack of them, and surgery on Q, K, V
#
# This lab runs the four cached experiments of the package `llmkb.lab.topics.transformer_block`:
#
# * `transformer-block/depth`: the same small model with more and more blocks, trained on a synthetic sorting
#   task whose best loss is 0. It records loss curves, parameter counts and time per step.
# * `transformer-block/norm`: pre-norm vs post-norm at the deepest depth, with and without learning-rate
#   warm-up, plus a stack without residual connections.
# * `transformer-block/surgery`: operations on Q, K, V and the residual, each applied to a trained model
#   and switched on in a model trained from scratch, with checks of the QK circuit and of the relabelings.
# * `transformer-block/shared-block`: the Llama-style block of the shared model: its parameters by part and its
#   QK circuit with RoPE.
#
# Results are cached; re-running costs nothing unless the code or the config changed. The page shows the
# `full` profile; reproduce it with `llmkb lab run transformer-block --profile full` (about two minutes on two
# CPU cores, plus the shared model's training if it is not cached yet). To try another task, depth range or
# width, edit the `profiles` of the experiments in `llmkb/lab/topics/transformer_block/` and re-run.

# %%
import torch

from llmkb import lab
from llmkb.lab.kit import fmt, show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.transformer_block.analysis import operate
from llmkb.lab.topics.transformer_block.names import OPERATIONS
from llmkb.nn import GPT, GPTConfig, TransformerBlock, count_parameters

depth = lab.run("transformer-block/depth")
print(f"profile {depth.profile}: {depth['task']}, {depth['task_text']}")
print(f"uniform guess {fmt(depth['chance_loss'], '.3f')} nats, best possible {fmt(depth['best_loss'])}")

# %% [markdown]
# ## One block, by hand
# A pre-norm block is `h = x + MHA(LN1(x))`, `y = h + FFN(LN2(h))`. Using the block's own sub-modules, the two
# lines reproduce its output exactly. The page's tests do the same with separately built parts and against
# PyTorch's `nn.TransformerEncoderLayer`.

# %%
torch.manual_seed(0)
cfg = GPTConfig(d_model=32, n_heads=4, n_layers=1)
block = TransformerBlock(cfg).eval()
x = torch.randn(1, 5, 32)
with torch.no_grad():
    h = x + block.attn(block.norm1(x))[0]
    y = h + block.ffn(block.norm2(h))
    print("max |block(x) - by hand| =", fmt(float((block(x)[0] - y).abs().max()), ".1e"))
print(
    "parameters per block:",
    sum(p.numel() for p in block.parameters()),
    "= 12 d^2 + 13 d =",
    12 * 32**2 + 13 * 32,
)
print("whole model (tied head):", count_parameters(cfg), "=", GPT(cfg).num_parameters())

# %% [markdown]
# ## The shared model's block
# RoPE, RMSNorm, SwiGLU, no biases, tied embeddings. Its parameters by part, counted three ways that must agree,
# and its attention weights recomputed from `W_Q^T R_(n-m) W_K` alone.

# %%
shared = lab.run("transformer-block/shared-block")
show_table(
    {k: shared["model"][k] for k in ("d_model", "n_layers", "n_heads", "head_dim", "ffn_dim", "positional")}
)
show_table(shared["table"], formats={"share": ".1%"})
print(f"total: {shared['total']:,} parameters")
show_table(shared["circuit"], formats={"exact": ".1e", "without_rotation": ".3f"}, caption="QK circuit")

# %% [markdown]
# ## The depth sweep

# %%
show_table(depth["table"])

# %%
show_figure(depth, "curves")

# %%
show_figure(depth, "cost")

# %% [markdown]
# ## Pre-norm vs post-norm (and no residual) at the deepest depth

# %%
norm = lab.run("transformer-block/norm")
show_table(norm["table"])
print("best:", norm["best"], "| worst:", norm["worst"])
show_figure(norm, "curves")

# %% [markdown]
# ## Q, K, V surgery
# Each operation, with the verdict the experiment computed from its numbers.

# %%
surgery = lab.run("transformer-block/surgery")
show_table(surgery["baseline"], caption="baseline")
show_table(surgery["checks"], caption="checks on the trained models")
show_table(surgery["verdicts"])
summary = surgery["summary"]
print(summary[0].upper() + summary[1:])

# %%
show_figure(surgery, "effects")

# %% [markdown]
# ## Operating on a model yourself
# `with operate(model, name) as m:` runs a model with one operation switched on (hooks; a copy for
# `random_qk`) and restores it afterwards. Here it is applied to an untrained model, only to show the
# mechanics: with `zero_v`, changing the first token no longer changes any later position's output.

# %%
torch.manual_seed(0)
small = GPT(GPTConfig(vocab_size=9, d_model=16, n_heads=4, n_layers=2, max_seq_len=12)).eval()
idx = torch.randint(0, 9, (1, 8))
other = idx.clone()
other[0, 0] = (idx[0, 0] + 1) % 9
for name in ("none", "zero_v"):
    with operate(small, name) as m, torch.no_grad():
        moved = float((m(idx).logits[0, 1:] - m(other).logits[0, 1:]).abs().max())
    print(f"{name:>7}: largest change of later logits = {fmt(moved, '.2e')}")
print("operations:", ", ".join(OPERATIONS))
