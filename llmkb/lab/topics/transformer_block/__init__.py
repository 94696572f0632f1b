"""The transformer-block lab: stacking blocks, operating on Q/K/V, norm placement, and the shared model's block.

Three experiments train small GPT-2-style [`GPT`][llmkb.nn.GPT] models (LayerNorm, GELU MLP, biases, learned
positions) from scratch with [`llmkb.train.train`][llmkb.train.train] on synthetic tasks from
[`llmkb.data.synthetic`][llmkb.data.synthetic] (sorting for depth and norms, reversal for surgery) whose best
loss is known (0), so every number is read against two fixed references: the best loss and the loss of a
uniform guess over the answer symbols (``ln V``). A fourth reads the shared model.

* ``transformer-block/depth``: the same model with more and more blocks: loss curves, parameter count
  ([`count_parameters`][llmkb.nn.count_parameters], checked against ``12 d^2 + 13 d`` per block), milliseconds
  per training step, final loss and accuracy.
* ``transformer-block/surgery``: a trained baseline is operated on (Q/K swapped, Q tied to K, random Q/K, zero V,
  identity V, heads shuffled, residual removed) and evaluated as is; then a fresh model is trained *with* each
  operation. Each outcome gets a verdict computed from the numbers
  ([`verdict`][llmkb.lab.topics.transformer_block.text.verdict]), and the explanations are checked on the
  models: the QK circuit form, the relabelings, the independence of positions without values.
* ``transformer-block/norm``: pre-norm vs post-norm at the deepest depth, with and without learning-rate warm-up
  (Xiong et al. 2020, arXiv 2002.04745), and the same stack without residual connections (He et al. 2016,
  arXiv 1512.03385). It reuses the depth sweep's deepest run as its reference.
* ``transformer-block/shared-block``: the Llama-style block of the shared model (RoPE, RMSNorm, SwiGLU, no
  biases, tied embeddings; Touvron et al. 2023, arXiv 2302.13971): its configuration, its parameters by part
  counted three ways, and its attention weights recomputed from ``W_Q^T R_(n-m) W_K``.
"""

from . import experiments, experiments_shared, experiments_surgery, figures  # noqa: F401
