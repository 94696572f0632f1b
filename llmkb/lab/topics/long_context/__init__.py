"""Long-context lab: what attention costs as the context grows, and what happens past the training length.

* ``long-context/benchmark`` times naive, chunked (``llmkb.nn.chunked_attention``), SDPA (each backend this
  PyTorch build has) and sliding-window attention from short to long sequences, forward and forward +
  backward, and measures each one's peak memory in a subprocess (``llmkb bench attention``).
* ``long-context/context`` scores the positional lab's checkpoints, trained at a short context, on held-out
  text from half to sixteen times that length: RoPE as trained, with position interpolation, with the
  NTK-aware base, ALiBi, RoPE with a sliding window, learned positions; it finds each one's collapse point.
* ``long-context/window`` runs the RoPE checkpoints with sliding windows of several sizes at a fixed long
  length, and measures how far back a token can still change the last prediction against the ``L (w - 1)``
  receptive field.
* ``long-context/passkey`` trains a tiny sliding-window model and a full-attention one on passkey retrieval
  (a passkey planted ``d`` positions back, asked for at the end) and measures accuracy per distance against
  the same ``L (w - 1)``.
"""

from . import experiments, experiments_passkey, experiments_window, figures  # noqa: F401
