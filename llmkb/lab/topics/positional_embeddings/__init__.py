"""Positional-embeddings lab: five ways (or none) to tell a transformer where a token is, measured with seeds.

Four experiments, all on the model of [`llmkb.nn`][llmkb.nn] with only ``GPTConfig.positional`` changed; the
trained ones run several seeds, and the page ranks two variants only when their seeds do not overlap:

* ``positional-embeddings/compare`` trains the same small byte-level model on the default corpus (``pydoc``)
  once per variant and seed (``none``, ``sinusoidal``, ``learned``, ``rope``, ``alibi``) and keeps every
  checkpoint; the models are built with ``max_seq_len = 4 T`` but trained on ``T`` tokens, so rows
  ``T .. 4T-1`` of the learned table never receive a gradient (the experiment checks they stay unchanged).
* ``positional-embeddings/extrapolation`` evaluates those checkpoints on windows 1x, 2x and 4x the training
  length, recording the loss at every position, and runs the RoPE checkpoints again with rescaled angles
  (no retraining): position interpolation ([`rope-pi`][llmkb.nn.positional.InterpolatedRotaryEmbedding]) and
  an NTK-aware base ([`ntk_scaled_base`][llmkb.nn.positional.ntk_scaled_base]), at scale window / T. It also
  reports the wavelengths of the RoPE pairs.
* ``positional-embeddings/animation`` exports what the page's 3-D widget draws: a query vector rotated by
  [`RotaryEmbedding`][llmkb.nn.positional.RotaryEmbedding] at every position, the
  [`sinusoidal_table`][llmkb.nn.positional.sinusoidal_table] and a PCA of it, and a PCA of a learned table
  trained in ``compare``.
* ``positional-embeddings/ablation`` trains a few variants on an order-sensitive synthetic task (reversal) and
  measures loss, accuracy and attention entropy per head, with the positional signal present, never trained
  (``none``) and removed at test time from a trained model (the hook ``model.hooks(positional=False)`` of
  [`GPT.hooks`][llmkb.nn.GPT.hooks]).

Run it: ``llmkb lab run positional-embeddings`` (quick) or add ``--profile full``.
"""

from . import experiments, experiments_ablation, experiments_extrapolation, experiments_widget, figures  # noqa: F401
