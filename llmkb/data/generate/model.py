"""Model-generated text: continuations of real prompts sampled from a trained model.

The prompts are windows of a real corpus; each continuation is sampled with one
:class:`~llmkb.infer.sampling.SamplingConfig` (temperature, top-p) and seeded, and its record carries the
settings. Sweeping temperature and top-p trades diversity against fidelity (Holtzman et al. 2020, "The
Curious Case of Neural Text Degeneration", arXiv:1904.09751): low temperature repeats the model's favourite
phrases, high temperature reaches into the tail of its distribution.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT

__all__ = ["prompts_from", "sample_records"]


def prompts_from(ids: torch.Tensor, n: int, length: int, seed: int = 0) -> torch.Tensor:
    """``n`` prompts of ``length`` tokens at seeded random offsets of ``ids``: ``(n, length)``."""
    if len(ids) <= length:
        raise ValueError(f"need more than {length} tokens for prompts of {length}, got {len(ids)}")
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - length, (n,), generator=g)  # (n,)
    return ids[starts[:, None] + torch.arange(length)[None, :]]  # (n, length)


@torch.no_grad()
def sample_records(
    model: GPT,
    decode: Any,
    prompts: torch.Tensor,
    new_tokens: int,
    settings: Sequence[SamplingConfig],
    seed: int = 0,
    source: str = "model",
) -> Iterator[dict[str, Any]]:
    """For each sampling setting, one continuation of every prompt, as records.

    Args:
        model: The model to sample from.
        decode: ``ids -> str`` (a tokenizer's ``decode``).
        prompts: ``(n, P)`` token ids.
        new_tokens: Tokens sampled after each prompt.
        settings: Sampling configurations to sweep.
        seed: Seed of the sampling generator (re-seeded per setting).
        source: Name of the checkpoint, recorded in ``params``.

    Yields:
        ``{"text", "prompt", "generator": "model", "seed", "index", "params": {temperature, top_p, ...}}``.
    """
    for k, sc in enumerate(settings):
        g = torch.Generator().manual_seed(seed * 1000 + k)
        out = model.generate(prompts, new_tokens, sc, generator=g)  # (n, P + new)
        params = {
            "temperature": sc.temperature,
            "top_p": sc.top_p,
            "new_tokens": new_tokens,
            "source": source,
        }
        for i, row in enumerate(out):
            yield {"text": decode(row[prompts.shape[1] :].tolist()), "prompt": decode(prompts[i].tolist()),
                   "generator": "model", "seed": seed, "index": k * len(prompts) + i, "params": params}  # fmt: skip
