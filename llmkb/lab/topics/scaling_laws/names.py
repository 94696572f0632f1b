"""The scaling-laws lab's names: its topic, experiments, the models' shape and the papers' published fits."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

TOPIC = Topic("scaling-laws")
SWEEP = TOPIC.name("sweep")
"""Sizes × token budgets: held-out loss, parameters, FLOPs (counted and 6ND), time, tokens/s; the fitted laws."""
PROFILES = TOPIC.name("profiles")
"""Peak memory (measured vs formula) against size, batch and sequence length; step time against batch and length."""
OPTIMAL = TOPIC.name("optimal")
"""The fit's compute-optimal model at the sweep's largest compute, trained once to check the prediction."""

LLAMA: dict[str, Any] = {"vocab_size": 256, "positional": "rope", "norm": "rmsnorm", "bias": False}
"""The models' architecture (Llama-style, byte vocabulary); only the width and depth vary."""

HEAD_DIM = 16
"""Width of an attention head; a model of width ``d`` has ``max(2, d // HEAD_DIM)`` heads."""

KAPLAN: dict[str, float] = {"alpha_N": 0.076, "alpha_D": 0.095}
"""Kaplan et al. 2020 (arXiv 2001.08361, section 1.2): L(N) = (N_c/N)^alpha_N, L(D) = (D_c/D)^alpha_D
for non-embedding N, models trained to convergence on WebText2."""

CHINCHILLA: dict[str, float] = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}
"""Hoffmann et al. 2022 (arXiv 2203.15556, equation 10, approach 3) on MassiveText, loss in nats per token."""

BESIROGLU: dict[str, float] = {"E": 1.8172, "A": 482.01, "alpha": 0.3478, "B": 2085.43, "beta": 0.3658}
"""Besiroglu et al. 2024 (arXiv 2404.10102, their refit of Chinchilla's approach 3 on data read off its figure)."""

TOKENS_PER_PARAMETER = 20
"""The rule of thumb drawn from Chinchilla's approaches 1 and 2: about 20 training tokens per parameter."""
