"""The attention lab: what the shared model's heads do, one query step by step, causality, scaling and memory.

* ``attention/heads``: per-head attention maps of the shared model on one sentence, per-head scores measured
  from those maps (previous-token, first-token, self, entropy, and an induction score on repeated random
  text, Olsson et al. 2022, arXiv 2209.11895), a label per head and the sentences the page prints.
* ``attention/query``: one query of that sentence through its sharpest head, recomputed from the head's own
  ``q``, ``k``, ``v``: the scores ``q . k / sqrt(d)``, the softmax weights and the output as the weighted sum
  of the values, checked against the model's weights and head output.
* ``attention/causality``: the norms ``||d logits_t / d embedding_s||`` of the shared model, computed with
  ``torch.autograd``; everything above the diagonal must be exactly zero.
* ``attention/scaling``: top weight, effective number of keys, entropy and Jacobian norm of
  ``softmax(q . k)`` over 1024 keys with and without the ``1/sqrt(d)`` of Vaswani et al. 2017
  (arXiv 1706.03762), at the head widths of real models and across ``d``.
* ``attention/memory``: measured bytes of the materialized ``(B, H, T, T)`` weight matrix against those of
  ``q, k, v``, and the FLOPs, as ``T`` grows.
"""

from llmkb.lab.topics.attention import (  # noqa: F401  (registers the experiments and figures)
    experiments_cost,
    experiments_model,
    figures_cost,
    figures_model,
)
