"""Decoding many sampling settings at once, recording the entropy of every distribution drawn from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llmkb.infer.sampling import SamplingConfig, entropy, filtered_probs
from llmkb.nn import GPT

__all__ = ["Decoded", "decode_settings", "next_logits"]


@dataclass(frozen=True)
class Decoded:
    """Continuations of one prompt under several sampling settings.

    Attributes:
        tokens: generated ids (prompt excluded), ``(S, N, L)`` for ``S`` settings, ``N`` samples each.
        entropy: entropy in nats of the filtered distribution each token was drawn from, ``(S, N, L)``.
    """

    tokens: Tensor
    entropy: Tensor


@torch.no_grad()
def decode_settings(
    model: GPT,
    prompt: Sequence[int],
    configs: Sequence[SamplingConfig],
    *,
    n_samples: int,
    max_new_tokens: int,
    seed: int = 0,
) -> Decoded:
    """Sample ``n_samples`` continuations of ``prompt`` under each config, all in one batch.

    All ``S * N`` rows share one forward pass per step (with a KV cache). Each config's rows then get their
    sampling distribution ``p = softmax(pipeline(logits))`` from
    [`filtered_probs`][llmkb.infer.sampling.filtered_probs]; its entropy ``H(p) = -sum_i p_i ln p_i`` is
    recorded (``generate`` does not expose it), and the token is drawn from ``p`` the way
    [`sample_next`][llmkb.infer.sampling.sample_next] does (``torch.multinomial``; arg-max at temperature 0),
    with that config's own generator seeded ``seed + s``. Computing the distribution once serves both the
    entropy and the draw. With a single config the tokens equal those of
    ``model.generate(prompt.repeat(N, 1), max_new_tokens, config, generator=Generator().manual_seed(seed))``
    (a test checks this). Nucleus sampling: Holtzman et al. 2019, arXiv 1904.09751.

    Args:
        model: the language model.
        prompt: prompt token ids (at least one).
        configs: sampling settings ``S >= 1``.
        n_samples: samples per setting ``N >= 1``.
        max_new_tokens: continuation length ``L >= 1``.
        seed: base seed of the per-setting generators.

    Returns:
        The [`Decoded`][llmkb.lab.topics.sampling.analysis_decode.Decoded] tokens and entropies,
        ``(S, N, L)`` each.

    Raises:
        ValueError: on an empty prompt or config list, non-positive counts, or a context longer than
            the model's ``max_seq_len``.
    """
    s_count, n = len(configs), n_samples
    if not prompt or s_count == 0 or n < 1 or max_new_tokens < 1:
        raise ValueError(
            "need a non-empty prompt, at least one config, n_samples >= 1 and max_new_tokens >= 1"
        )
    t0 = len(prompt)
    if t0 + max_new_tokens > model.config.max_seq_len:
        raise ValueError(
            f"prompt ({t0}) + max_new_tokens ({max_new_tokens}) exceeds max_seq_len {model.config.max_seq_len}"
        )
    device = model.tok_emb.weight.device
    b = s_count * n
    out = torch.tensor(list(prompt), dtype=torch.long, device=device).repeat(b, 1)  # (B, T0)
    gens = [torch.Generator(device=device).manual_seed(seed + s) for s in range(s_count)]
    tokens = torch.empty(b, max_new_tokens, dtype=torch.long, device=device)  # (B, L)
    ents = torch.empty(b, max_new_tokens, dtype=torch.float32, device=device)  # (B, L)
    was_training = model.training
    model.eval()
    try:
        cache = model.make_cache(b, t0 + max_new_tokens - 1)
        logits = model(out, kv_cache=cache).logits[:, -1, :]  # (B, V)
        for step in range(max_new_tokens):
            nxt = torch.empty(b, dtype=torch.long, device=device)  # (B,)
            for s, cfg in enumerate(configs):
                rows = slice(s * n, (s + 1) * n)
                probs = filtered_probs(logits[rows], cfg, out[rows])  # (N, V)
                ents[rows, step] = entropy(probs).float()
                if cfg.greedy:  # one-hot on the arg-max of the (penalized) logits, as sample_next
                    nxt[rows] = probs.argmax(dim=-1)
                else:  # the draw sample_next makes from the same distribution
                    nxt[rows] = torch.multinomial(probs, 1, generator=gens[s]).squeeze(-1)
            tokens[:, step] = nxt
            out = torch.cat((out, nxt[:, None]), dim=1)  # (B, T0 + step + 1)
            if step < max_new_tokens - 1:
                logits = model(out[:, -1:], kv_cache=cache).logits[:, -1, :]  # (B, V)
    finally:
        model.train(was_training)
    return Decoded(tokens.reshape(s_count, n, -1).cpu(), ents.reshape(s_count, n, -1).cpu())


@torch.no_grad()
def next_logits(model: GPT, prompt: Sequence[int]) -> Tensor:
    """The model's next-token logits after ``prompt``, ``(V,)`` float32."""
    model.eval()
    idx = torch.tensor([list(prompt)], dtype=torch.long, device=model.tok_emb.weight.device)  # (1, T)
    return model(idx).logits[0, -1, :].float().cpu()  # (V,)
