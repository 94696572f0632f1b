"""Scaling-laws lab: models of many sizes trained on the shared corpus, their costs, and the laws they follow.

* ``scaling-laws/sweep`` trains one model per size (widths × a fixed depth, ≥ 30× apart in non-embedding
  parameters in the full profile) with a constant learning rate after warm-up and reads the held-out loss at
  several token budgets; fits L(N), L(D) and L(N, D) with bootstrap intervals; counts FLOPs against 6ND.
* ``scaling-laws/profiles`` measures the peak memory of a training step against size, batch and sequence
  length (in a subprocess whose resident size follows its allocations), beside the formula's weights +
  gradients + AdamW state + saved activations, and times steps at each batch and sequence length.
* ``scaling-laws/optimal`` asks the fitted law for the compute-optimal size and token count at the sweep's
  largest compute, compares it with the ~20 tokens per parameter rule, and trains that one model to check.
"""

from . import experiments_gpu, experiments_optimal, experiments_profile, experiments_sweep, figures  # noqa: F401
