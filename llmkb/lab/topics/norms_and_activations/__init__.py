"""Normalization and activations lab: which norm, which feed-forward network, where the norm sits.

* ``norms-and-activations/cost`` counts the parameters of the modern (Llama-style) block and of the GPT-2
  block by formula, checks them against built modules, and times LayerNorm against RMSNorm alone.
* ``norms-and-activations/grid`` trains {LayerNorm, RMSNorm} x {GELU, SwiGLU} x {pre, post} at matched
  parameters over several seeds, recording training dynamics: loss curves, held-out loss, tokens/s, per-layer
  gradient norms and update/weight ratios.
* ``norms-and-activations/stability`` sweeps the learning rate of pre- and post-norm blocks with and without
  warm-up and locates each one's divergence learning rate (loss NaN or above its initial value).
* ``norms-and-activations/depth`` trains deeper pre- and post-norm models (and a ReLU one) and reads every
  layer's residual stream and feed-forward activations at init and after training: histograms, residual
  norm growth, dead ReLU units, outlier features.
"""

from . import experiments, experiments_depth, figures  # noqa: F401
