"""Inference: turning a trained model's logits into text, and what decoding costs.

* :mod:`llmkb.infer.sampling` — logits processors (temperature, top-k, top-p, min-p, repetition penalty)
  and :func:`~llmkb.infer.sampling.sample_next`, which :meth:`llmkb.nn.GPT.generate` calls every step;
* :mod:`llmkb.infer.kvtrace` — which keys and values each decoding step reuses, recomputes or evicts
  (no cache, full cache, sliding window, shared prefix), recorded or simulated;
* :mod:`llmkb.infer.mask_fill` — greedy decoding for the pretraining objectives: left to right (CLM, prefix
  LM) and iterative mask filling (MLM).

The KV cache itself is part of the model (:mod:`llmkb.nn.kv_cache`); future inference code (speculative
decoding, batching, servers) goes here.
"""
