"""LoRA (llmkb.train.lora): the base model at B = 0, the hook against its formula, merging, counts, freezing."""

from __future__ import annotations

import pytest
import torch

from llmkb.data.instruct import (
    INSTRUCT_VOCAB,
)
from llmkb.nn import GPT, GPTConfig
from llmkb.train.finetune import finetune_lm
from llmkb.train.lora import LoRA, adam_state_bytes, trainable_parameters


def tiny(vocab: int = INSTRUCT_VOCAB, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.preset("tiny", vocab_size=vocab, d_model=32, n_layers=1)).eval()


def test_lora_with_zero_b_is_the_base_model_and_merge_equals_the_adapter_path():
    model = tiny()
    idx = torch.randint(0, 256, (2, 9))
    base = model(idx).logits
    lora = LoRA(model, rank=2, alpha=4.0, targets=("q_proj", "v_proj", "up"), seed=1)
    assert lora.names == ["blocks.0.attn.q_proj", "blocks.0.attn.v_proj", "blocks.0.ffn.up"]
    with lora:
        assert torch.equal(model(idx).logits, base)  # B = 0: exactly the base model
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for b in lora.B.values():
            b.copy_(torch.randn(b.shape, generator=g) * 0.5)
    # the hook adds (alpha / r) x A^T B^T: check one layer against the formula
    q = model.blocks[0].attn.q_proj
    x = torch.randn(3, 32)
    with lora:
        hooked = q(x)
    want = (
        x @ q.weight.t()
        + 2.0 * x @ lora.A["blocks__0__attn__q_proj"].t() @ lora.B["blocks__0__attn__q_proj"].t()
    )
    assert torch.allclose(hooked, want, atol=1e-5)
    with lora:
        adapted = model(idx).logits
    assert not torch.allclose(adapted, base, atol=1e-3)
    assert torch.equal(model(idx).logits, base)  # detached: the base function again
    lora.merge()
    assert torch.allclose(model(idx).logits, adapted, atol=1e-5) and not lora.attached
    with pytest.raises(RuntimeError, match="already merged"):
        lora.merge()


def test_lora_counts_and_freezing():
    model = tiny()
    lora = LoRA(model, rank=4)  # the four attention projections, 32 -> 32
    assert trainable_parameters(lora.parameters()) == 4 * 4 * (32 + 32)
    total = trainable_parameters(model.parameters())
    assert lora.freeze_base() == total and trainable_parameters(model.parameters()) == 0
    assert adam_state_bytes(1000) == 8000
    with pytest.raises(ValueError, match="no nn.Linear"):
        LoRA(model, targets=("nope",))
    with pytest.raises(ValueError, match="rank"):
        LoRA(model, rank=0)


def test_lora_finetuning_trains_only_the_adapter():
    model = tiny(256)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lora = LoRA(model, rank=2)
    lora.freeze_base()
    ids = torch.tensor(list(b"def f(x):\n    return x\n" * 20))
    windows = ids[:33].reshape(1, 33)
    with lora:
        curve = finetune_lm(model, lora.parameters(), ids, {"new": windows}, 6, batch_size=4, seq_len=16,
                            lr=1e-2, eval_every=3)  # fmt: skip
    assert curve["step"] == [0, 3, 6] and curve["new"][-1] < curve["new"][0]
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
