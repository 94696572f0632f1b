"""Finetuning a pretrained model: on a new corpus (full or LoRA), and on instructions (SFT), with evaluation.

Finetuning continues the pretraining objective from a checkpoint (Howard & Ruder 2018, ULMFiT,
arXiv:1801.06146): ``theta_0`` = the pretrained weights, then gradient steps on the new data only. What is
learnt on the new domain is paid for on the old one (*forgetting*), which :func:`finetune_lm` measures by
evaluating held-out loss on both as it trains. Instruction tuning (SFT) is the same loop on templated
(instruction, response) pairs (:mod:`llmkb.data.instruct`), with the loss on the response only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

from llmkb.data.batching import get_batch
from llmkb.data.instruct import END_ID, Example, collate, decode_response, encode, prompt_ids
from llmkb.nn.config import GPTConfig
from llmkb.nn.model import GPT
from llmkb.train.optim import AdamW
from llmkb.train.sequences import generate_responses

__all__ = ["eval_lm", "exact_match_by_task", "extend_vocab", "finetune_lm", "sft"]


def extend_vocab(model: GPT, vocab_size: int) -> GPT:
    """A new model equal to ``model`` with ``vocab_size - V`` extra token ids (e.g. chat special tokens).

    The new embedding rows (tied to the LM head when the model ties them) start at the mean of the old
    rows, so the old ids keep their exact logits and the new ones start as an average token.
    """
    old = model.config
    if vocab_size < old.vocab_size:
        raise ValueError(f"vocab_size must be >= {old.vocab_size}, got {vocab_size}")
    new = GPT(GPTConfig.from_dict({**old.to_dict(), "vocab_size": vocab_size}))
    state = model.state_dict()
    for key in ("tok_emb.weight", "lm_head.weight"):
        w = state[key]  # (V, d)
        extra = w.mean(0, keepdim=True).expand(vocab_size - w.shape[0], -1)
        state[key] = torch.cat([w, extra], dim=0)
    new.load_state_dict(state)
    return new.eval()


@torch.no_grad()
def eval_lm(model: GPT, windows: Tensor) -> float:
    """Mean next-token loss over held-out windows ``(N, T + 1)``."""
    was = model.training
    model.eval()
    loss = float(model(windows[:, :-1], windows[:, 1:]).loss)
    model.train(was)
    return loss


def _step(opt: torch.optim.Optimizer, loss: Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()  # clips the gradient norm to 1 first


def finetune_lm(
    model: GPT,
    params: Iterable[nn.Parameter],
    train_ids: Tensor,
    evals: dict[str, Tensor],
    steps: int,
    *,
    batch_size: int = 8,
    seq_len: int = 128,
    lr: float = 1e-3,
    eval_every: int = 10,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Train ``params`` (all weights, or an adapter's) on windows of ``train_ids`` with AdamW, constant ``lr``.

    Args:
        model: the model (with its adapter hooks installed, for LoRA).
        params: what the optimizer updates.
        train_ids: the new domain's training ids.
        evals: held-out windows ``(N, T + 1)`` by name (e.g. the new and the old domain).
        steps: optimizer steps.

    Returns:
        ``{"step": [...], name: [loss, ...] for each eval}``; the first point is the model before finetuning.
    """
    params = [p for p in params if p.requires_grad]
    opt = AdamW(params, lr=lr, weight_decay=0.0, max_grad_norm=1.0)
    g = torch.Generator().manual_seed(seed)
    curve: dict[str, list[float]] = {"step": [], **{k: [] for k in evals}}

    def record(step: int) -> None:
        curve["step"].append(step)
        for k, w in evals.items():
            curve[k].append(eval_lm(model, w))

    record(0)
    model.train()
    for step in range(1, steps + 1):
        x, y = get_batch(train_ids, batch_size, seq_len, g)
        _step(opt, model(x, y).loss)  # type: ignore[arg-type]
        if step % eval_every == 0 or step == steps:
            record(step)
    model.eval()
    return curve


def sft(
    model: GPT,
    examples: Sequence[Example],
    steps: int,
    *,
    batch_size: int = 16,
    lr: float = 1e-3,
    mask_prompt: bool = True,
    seed: int = 0,
    callback: Callable[[int, GPT], None] | None = None,
) -> list[float]:
    """Supervised instruction tuning: next-token loss on templated examples (response only when masked).

    Returns:
        The training loss of each step.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt = AdamW(params, lr=lr, weight_decay=0.0, max_grad_norm=1.0)
    g = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for step in range(1, steps + 1):
        pick = torch.randint(0, len(examples), (batch_size,), generator=g).tolist()
        x, y = collate([encode(examples[i]) for i in pick], mask_prompt)
        loss = model(x, y).loss
        _step(opt, loss)  # type: ignore[arg-type]
        losses.append(float(loss.detach()))  # type: ignore[union-attr]
        if callback is not None:
            callback(step, model)
    model.eval()
    return losses


def exact_match_by_task(model: GPT, examples: Sequence[Example], max_new: int = 8) -> dict[str, float]:
    """Greedy-decode every example and return the exact-match rate of each task (response up to ``<end>``)."""
    responses = generate_responses(model, [prompt_ids(ex) for ex in examples], max_new, END_ID)
    hits: dict[str, list[bool]] = {}
    for ex, r in zip(examples, responses, strict=True):
        text, ended = decode_response(r)
        hits.setdefault(ex.task, []).append(ended and text == ex.output)
    return {task: sum(h) / len(h) for task, h in hits.items()}
