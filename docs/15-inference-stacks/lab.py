# %% [markdown]
# # Lab: one model, five runtimes
#
# This lab runs the two cached experiments of `llmkb.lab.topics.inference_stacks`:
#
# * `inference-stacks/bench` generates with PyTorch eager (no cache), eager with the static KV cache, the
#   compiled decode step, Hugging Face Transformers and ONNX Runtime on the same prompts, at two batch sizes
#   and two prompt lengths: time to first token, tokens/s, latency percentiles, token agreement, memory;
# * `inference-stacks/parity` scores held-out text through each runtime and number format.
#
# The page shows the `full` profile; run it with `llmkb lab run inference-stacks --profile full`. To try
# other batch sizes or prompts, edit the `profiles` in `llmkb/lab/topics/inference_stacks/experiments.py`.

# %%
from llmkb import lab
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.inference_stacks.analysis import latency_stats
from llmkb.lab.topics.inference_stacks.names import BENCH, PARITY

# %% [markdown]
# ## From timestamps to serving metrics
# Four tokens of a batch of 2 after a 50-token prompt, ready at 0.5, 0.6, 0.7 and 0.8 s:

# %%
print(latency_stats([0.5, 0.6, 0.7, 0.8], batch=2, prompt_len=50))

# %% [markdown]
# ## The benchmark

# %%
bench = lab.run(BENCH)
print(f"profile {bench.profile}; {bench['tokens_verdict']}")
show_table(bench["table"])
print(bench["summary"])
show_figure(bench, "decode-speed")
show_figure(bench, "latency")
show_table(bench["memory"])

# %% [markdown]
# ## What a port changes

# %%
parity = lab.run(PARITY)
show_table(parity["table"])
print(parity["verdict"])
show_figure(parity, "drift")
