"""Quantization lab: the shared model stored in fewer bits, and what each bit costs.

* ``quantization/sizes`` evaluates FP32, FP16, BF16, int8 per channel, int4 and int3 at several group sizes,
  AWQ, QAT and llama.cpp's GGUF types (files written and read back) on the same held-out windows: perplexity
  against bytes, with the Pareto frontier.
* ``quantization/errors`` quantizes one layer at a time, measures weight and activation outliers per layer and
  histograms the error of per-tensor vs per-group scales on the most outlier-heavy matrix.
* ``quantization/qat`` compares post-training quantization with quantization-aware fine-tuning at 4 bits and
  below, over three seeds, with a float fine-tuning control.
"""

from . import experiments_errors, experiments_qat, experiments_sizes, figures  # noqa: F401
