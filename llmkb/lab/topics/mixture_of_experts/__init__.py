"""Mixture-of-experts lab: what routing tokens to a few experts buys, how the experts get used, what it costs.

* ``mixture-of-experts/train`` trains a dense model and Switch-style MoE models with 2, 4 and 8 experts on the
  shared corpus, at equal *active* parameters (each expert as wide as the dense FFN) and at equal *total*
  parameters (the dense FFN cut into E narrow experts), plus the 8-expert model without the balancing loss,
  over several seeds: loss curves, held-out loss, router entropy and the busiest expert's share during training (no capacity limit).
* ``mixture-of-experts/routing`` routes English prose (pydoc), Python code (stdlib) and synthetic copy/sort
  tasks written as text through the trained 8-expert models: per-layer load dataset × expert and token
  kind × expert, and the entropy of the experts' load with and without the balancing loss.
* ``mixture-of-experts/flops`` counts forward FLOPs with ``torch.utils.flop_counter.FlopCounterMode`` and
  times one layer per token for the dense FFN, sparse top-1/top-2 dispatch and the dense simulation (every
  expert on every token, masked) from 2 to 64 experts.
"""

from . import experiments_flops, experiments_routing, experiments_train, figures  # noqa: F401
