# %% [markdown]
# # Lab: the shared model in 8, 4, 3 and 2 bits
#
# This lab runs the three cached experiments of the lab package `llmkb.lab.topics.quantization`:
#
# * `quantization/sizes` stores the shared model as FP32, FP16, BF16, int8 per channel, int4/int3/int2 at several
#   group sizes, with AWQ, after QAT, and as llama.cpp GGUF files (written and read back), and scores each on the
#   same held-out text: perplexity against bytes;
# * `quantization/errors` quantizes one layer at a time, measures weight and activation outliers, and compares the
#   error of per-tensor and per-group scales on one matrix;
# * `quantization/qat` compares post-training quantization with quantization-aware fine-tuning over three seeds,
#   beside a float fine-tuning control.
#
# The page shows the `full` profile; run it yourself with `llmkb lab run quantization --profile full` (about a
# minute on two CPU cores once the shared model is trained). Every variant is a *copy* of the model built by
# `llmkb.quant.model.quantize_model`; the original is never modified.

# %%
import torch

from llmkb import lab
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.quantization.names import ERRORS, QAT, SIZES
from llmkb.quant import QuantSpec, quantize_dequantize

# %% [markdown]
# ## One matrix, three quantizers
# A random matrix with a few large weights: one scale for the tensor, one per row, one per group of 32.

# %%
g = torch.Generator().manual_seed(0)
w = torch.randn(64, 128, generator=g) * 0.02
w[torch.rand(64, 128, generator=g) < 0.005] *= 50
errors = {
    spec.label: float(((w - quantize_dequantize(w, spec)) ** 2).mean())
    for spec in (QuantSpec(4, True, "tensor"), QuantSpec(4, True, "channel"), QuantSpec(4, True, "group", 32))
}
show_table(
    {"columns": ["quantizer", "mean squared error"], "rows": [[k, f"{v:.2e}"] for k, v in errors.items()]}
)

# %% [markdown]
# ## Perplexity against bytes

# %%
sizes = lab.run(SIZES)
show_table(sizes["table"])
show_figure(sizes, "pareto")
print(sizes["text"]["frontier"])
print(sizes["text"]["gguf"])

# %% [markdown]
# ## Where the error comes from

# %%
errs = lab.run(ERRORS)
print(errs["text"]["sensitivity"])
show_figure(errs, "sensitivity")
show_figure(errs, "histogram")
show_figure(errs, "activations")

# %% [markdown]
# ## PTQ vs QAT

# %%
qat = lab.run(QAT)
print(qat["text"]["int3 g128"])
print(qat["text"]["uint2 g32"])
show_figure(qat, "recovery")
