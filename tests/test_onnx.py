"""ONNX export: the decode graph run by ONNX Runtime gives PyTorch's logits and greedy tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from llmkb.cli import main
from llmkb.export.onnx import OrtDecoder, export_onnx
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig

CONFIGS = {
    "shared-gqa": GPTConfig.preset("shared", d_model=64, n_layers=2, n_kv_heads=2, max_seq_len=64),
    "gpt2": GPTConfig.preset("gpt2-style", d_model=48, n_layers=2, n_heads=3, max_seq_len=64),
    "alibi-window-post": GPTConfig.preset("tiny", positional="alibi", sliding_window=6, norm_position="post"),
}


def _model(cfg: GPTConfig) -> GPT:
    torch.manual_seed(3)
    model = GPT(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("name", list(CONFIGS))
def test_onnx_runtime_matches_pytorch(name: str, tmp_path: Path) -> None:
    model = _model(CONFIGS[name])
    ort = OrtDecoder.for_model(export_onnx(model, tmp_path / "m.onnx"), model, threads=1)
    idx = torch.randint(0, 256, (3, 17), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(idx).logits.numpy()
    assert np.abs(ort.logits(idx.numpy()) - ref).max() <= 1e-4
    # prefill + decode steps through ORT, the cache round-tripping as arrays
    ours = model.generate(idx[:, :5], 24, SamplingConfig(temperature=0.0)).numpy()
    assert np.array_equal(ort.generate(idx[:, :5].numpy(), 24), ours)
    logits, past = ort.step(idx[:, :5].numpy(), ort.empty_past(3))
    assert past[0].shape == (3, model.config.kv_heads, 5, model.config.head_dim)
    logits, past = ort.step(idx[:, 5:7].numpy(), past)
    assert np.abs(logits - ref[:, 5:7]).max() <= 1e-4 and past[-1].shape[2] == 7


def test_moe_is_refused_and_the_cli_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="mixture-of-experts"):
        export_onnx(GPT(GPTConfig.preset("tiny", activation="moe")), tmp_path / "x.onnx")
    GPT(GPTConfig.preset("tiny", activation="moe")).save(tmp_path / "moe")
    assert main(["export", "onnx", str(tmp_path / "moe"), str(tmp_path / "out.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mixture-of-experts" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moe"]


def test_cli_export_checks_with_onnx_runtime(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _model(CONFIGS["shared-gqa"]).save(tmp_path / "ckpt")
    assert main(["export", "onnx", str(tmp_path / "ckpt"), str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    diff = float(out.rsplit(" ", 1)[1])
    assert (tmp_path / "m.onnx").is_file() and diff <= 1e-4
