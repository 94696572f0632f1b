"""Inference-stacks lab: the shared model run by five runtimes on the same prompts, and what porting changes.

* ``inference-stacks/bench`` generates greedily with PyTorch eager (no cache), eager with the static KV cache,
  the compiled fixed-shape decode step, Hugging Face Transformers (the exported ``LlamaForCausalLM``) and ONNX
  Runtime (the exported decode graph), at two batch sizes and two prompt lengths: time to first token,
  prefill and decode tokens/s, per-token latency p50/p95, ratios to eager, whether the tokens agree, and the
  weights and KV-cache bytes each runtime holds against the formulas.
* ``inference-stacks/parity`` scores held-out text through each runtime and number format (fp32, fp16,
  bf16): the largest logit difference from PyTorch fp32 and the perplexity.
"""

from . import experiments, figures  # noqa: F401
