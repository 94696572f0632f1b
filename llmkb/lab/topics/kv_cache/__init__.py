"""The KV-cache lab: what caching keys and values saves in time, where the work goes, and what it costs in memory.

Generation is timed with and without the cache and explained by a per-call cost model fitted to every forward
call; the cache's hits, misses and evictions are recorded on the trained shared model and checked against the
simulation; and its bytes are checked against the closed form and set against the weights of published models.

* ``kv-cache/speedup``: tokens/s of ``GPT.generate`` with and without the cache on a model of the shared shape,
  the theoretical ratios of [`decode_cost`][llmkb.infer.kvtrace.decode_cost], the fitted model
  ``c0 + c1 tokens + c2 pairs`` and what it predicts for longer generations and prompts, a wider model and no
  per-call cost; fails if cached and uncached generations differ;
* ``kv-cache/hitmiss``: step-by-position hit/miss/evicted grids for prefill + decode, no cache, a sliding window
  and prefix reuse, recorded on the shared model and checked against the simulation and against uncached
  generation, plus a prefix-cache hit rate vs block size on a chat-like workload;
* ``kv-cache/memory``: measured cache bytes vs the closed form (fp32, bf16, fewer KV heads), the process resident
  memory (RSS) they cost, and for published shapes at their own context the cache, the weights, the batch where
  the cache outweighs the weights and the FLOPs per byte of a decode step.
"""

from . import experiments, experiments_memory, experiments_traces, figures  # noqa: F401
