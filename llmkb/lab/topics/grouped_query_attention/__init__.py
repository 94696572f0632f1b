"""Grouped-query attention lab: what sharing key/value heads saves, costs and how to get there from MHA.

* ``grouped-query-attention/bench`` times cached decode steps over 256 … 2048 cached positions and a prefill,
  for every key/value head count from MHA to MQA, at a tiny and a wider width, checks each allocated cache
  against ``2 L H_kv D T B b``, fits each step's time as a fixed cost plus a cost per cached byte and says which
  regime each point is in; it also computes the memory-bandwidth bound of decoding for Llama 2 7B and 70B.
* ``grouped-query-attention/quality`` trains the same small model with each number of key/value heads on the
  shared corpus, over several seeds: held-out loss against parameters and KV bytes per token.
* ``grouped-query-attention/uptrain`` converts those trained MHA models to GQA and MQA by mean-pooling or by
  keeping the first head of each group (Ainslie et al. 2023), uptrains them briefly and compares them with
  the models trained grouped from scratch.
"""

from . import experiments_bench, experiments_train, figures  # noqa: F401
