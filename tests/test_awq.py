"""Tests of the AWQ checkpoint export (:mod:`llmkb.export.awq`): AutoAWQ's GEMM layout, checked by unpacking it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from llmkb.cli import main
from llmkb.export.awq import awq_linear, awq_state_dict, hf_name, write_awq
from llmkb.nn import GPT, GPTConfig
from llmkb.quant import QuantSpec, quantize, quantize_dequantize
from llmkb.quant.awq import awq_model, scale_groups
from llmkb.quant.model import quantizable
from llmkb.quant.pack import AWQ_ORDER, unpack_awq


def model_of(seed: int = 0, **kw: object) -> GPT:
    torch.manual_seed(seed)
    m = GPT(GPTConfig.preset("shared", n_layers=2, **kw)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


def dequantize_awq(t: dict[str, torch.Tensor], prefix: str, group: int) -> torch.Tensor:
    """``W (out, in)`` from ``qweight``, ``qzeros`` and ``scales`` as AutoAWQ's GEMM kernel reads them."""
    q = unpack_awq(t[f"{prefix}.qweight"]).float()  # (in, out)
    z = unpack_awq(t[f"{prefix}.qzeros"]).float().repeat_interleave(group, 0)  # (in, out)
    s = t[f"{prefix}.scales"].float().repeat_interleave(group, 0)  # (in, out)
    return ((q - z) * s).T


def test_packed_nibbles_hold_the_columns_in_awq_order():
    w = torch.randn(16, 64, generator=torch.Generator().manual_seed(1))
    packed = awq_linear(w, 32)
    q = quantize(w, QuantSpec(4, False, "group", 32)).q.T  # (in, out)
    assert packed["qweight"].shape == (64, 2) and packed["qweight"].dtype == torch.int32
    assert packed["qzeros"].shape == (2, 2) and packed["scales"].shape == (2, 16)
    assert packed["scales"].dtype == torch.float16
    for i in (0, 17, 63):
        for c in (0, 1):
            word = int(packed["qweight"][i, c]) & 0xFFFFFFFF
            for k in range(8):  # nibble k = bits 4k..4k+3 holds column 8c + order[k]
                assert (word >> (4 * k)) & 0xF == int(q[i, 8 * c + AWQ_ORDER[k]])


def test_unpacked_checkpoint_is_the_asymmetric_int4_quantizer():
    w = torch.randn(24, 256, generator=torch.Generator().manual_seed(2)) * 0.03
    for g in (32, 128):
        t = {f"x.{k}": v for k, v in awq_linear(w, g).items()}
        assert torch.allclose(
            dequantize_awq(t, "x", g), quantize_dequantize(w, QuantSpec(4, False, "group", g))
        )
    with pytest.raises(ValueError):
        awq_linear(torch.zeros(8, 100), 32)


def test_state_dict_names_and_fp16_fallback():
    model = model_of()
    t, skipped = awq_state_dict(model, 128)
    assert skipped == [
        "model.layers.0.mlp.down_proj",
        "model.layers.1.mlp.down_proj",
    ]  # 344 inputs: no groups of 128
    assert "model.layers.0.self_attn.q_proj.qweight" in t and "model.layers.0.mlp.down_proj.weight" in t
    assert "lm_head.weight" not in t and t["model.embed_tokens.weight"].dtype == torch.float16
    assert hf_name("blocks.1.norm2.weight") == "model.layers.1.post_attention_layernorm.weight"
    _, none = awq_state_dict(model, 8)
    assert none == []


def test_checkpoint_reloads_to_the_quantized_model(tmp_path: Path):
    """Unpack every tensor back into llmkb's names: the logits equal those of the quantized copy."""
    model = model_of(3)
    g = 8
    scales = {
        grp.layers[0]: torch.rand(model.state_dict()[grp.layers[0]].shape[1]) + 0.5
        for grp in scale_groups(model)
    }
    out = write_awq(model, tmp_path / "awq", g, scales)
    t = load_file(str(out / "model.safetensors"))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["quantization_config"] == {"quant_method": "awq", "bits": 4, "group_size": g, "zero_point": True,
                                          "version": "gemm", "modules_to_not_convert": []}  # fmt: skip
    state = {}
    for name in model.state_dict():
        hf = hf_name(name)
        if name in quantizable(model):
            state[name] = dequantize_awq(t, hf.removesuffix(".weight"), g)
        elif name == "lm_head.weight":
            state[name] = t["model.embed_tokens.weight"].float()
        else:
            state[name] = t[hf].float()
    loaded = GPT(model.config).eval()
    loaded.load_state_dict(state)
    ref = awq_model(model, scales, QuantSpec(4, False, "group", g))
    quant = set(quantizable(model))
    ref_state = {
        k: v if k in quant else v.half().float() for k, v in ref.state_dict().items()
    }  # stored in fp16
    ref.load_state_dict(ref_state)
    ids = torch.randint(0, 256, (2, 20), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        gap = (loaded(ids).logits - ref(ids).logits).abs().max()
    assert float(gap) < 1e-4
    with pytest.raises(FileExistsError):
        write_awq(model, out, g)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    model_of().save(tmp_path / "ckpt")
    assert main(["export", "awq", "--group-size", "8", str(tmp_path / "ckpt"), str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["config.json", "model.safetensors"]
    capsys.readouterr()
    assert main(["export", "awq", str(tmp_path / "ckpt"), str(tmp_path / "out")]) == 2
    assert main(["export", "awq", "--group-size", "12", str(tmp_path / "ckpt"), str(tmp_path / "o2")]) == 2
    assert main(["export", "awq", str(tmp_path / "missing"), str(tmp_path / "o3")]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 3 and all(e.startswith("llmkb: error:") for e in errs)
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
