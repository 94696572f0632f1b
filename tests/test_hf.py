"""Hugging Face export and import: Transformers computes exactly what our model computes, and back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from llmkb.cli import main
from llmkb.export.hf import export_hf, hf_family, import_hf
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig

CONFIGS = {
    "llama-gqa-untied-base500": GPTConfig.preset(
        "llama-style", d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, rope_base=500.0, max_seq_len=48
    ),
    "llama-mha-tied-bias": GPTConfig.preset(
        "llama-style",
        d_model=48,
        n_layers=2,
        n_heads=3,
        tie_embeddings=True,
        bias=True,
        d_ff=72,
        norm_eps=1e-6,
    ),
    "gpt2-tied": GPTConfig.preset("gpt2-style", d_model=64, n_layers=2, n_heads=4, max_seq_len=40),
    "gpt2-untied-erf-gelu": GPTConfig.preset(
        "gpt2-style", d_model=32, n_layers=3, n_heads=2, tie_embeddings=False, activation="gelu-exact"
    ),
}


def _random_model(cfg: GPTConfig, seed: int = 0) -> GPT:
    """A model whose every parameter (norm gains and biases too) is off its initial value."""
    torch.manual_seed(seed)
    model = GPT(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module", params=list(CONFIGS))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[GPT, Path]:
    model = _random_model(CONFIGS[request.param], seed=len(request.param))
    return model, export_hf(model, tmp_path_factory.mktemp("hf") / request.param)


def test_transformers_loads_the_export_and_gives_the_same_logits(exported: tuple[GPT, Path]) -> None:
    from transformers import AutoModelForCausalLM

    model, out = exported
    theirs = AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    family = hf_family(model.config)
    assert type(theirs).__name__ == {"llama": "LlamaForCausalLM", "gpt2": "GPT2LMHeadModel"}[family]
    assert sum(p.numel() for p in theirs.parameters()) == model.num_parameters()
    idx = torch.randint(0, 256, (3, model.config.max_seq_len), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = (model(idx).logits - theirs(idx).logits).abs().max().item()
    assert diff <= 1e-4
    prompt = idx[:1, :5]
    with torch.no_grad():
        ours = model.generate(prompt, 12, SamplingConfig(temperature=0.0))
        hf = theirs.generate(prompt, max_new_tokens=12, do_sample=False)
    assert torch.equal(ours, hf)


def test_round_trip_is_bit_identical(exported: tuple[GPT, Path]) -> None:
    model, out = exported
    back = import_hf(out)
    assert back.config == model.config
    mine, theirs = model.state_dict(), back.state_dict()
    assert list(mine) == list(theirs)
    for k in mine:
        assert torch.equal(mine[k], theirs[k]), k
    assert (back.lm_head.weight is back.tok_emb.weight) == model.config.tie_embeddings


def test_auto_tokenizer_gives_byte_ids() -> None:
    from transformers import AutoTokenizer

    out = Path(export_hf(_random_model(CONFIGS["gpt2-tied"]), Path(__import__("tempfile").mkdtemp()) / "t"))
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    text = "Tab\tnew\nline  ünïcødé ✓ 🙂 \x00\x7f"
    assert tok.encode(text) == list(text.encode("utf-8"))
    every = bytes(range(256))
    assert tok.convert_tokens_to_ids(tok.convert_ids_to_tokens(list(every))) == list(every)
    assert tok.decode(list(text.encode("utf-8"))) == text


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"positional": "alibi"}, "alibi positions"),
        ({"sliding_window": 8}, "sliding-window"),
        ({"activation": "moe"}, "mixture of experts"),
        ({"norm_position": "post"}, "post-norm"),
        ({"activation": "geglu"}, "SwiGLU, not geglu"),
        ({"norm": "layernorm"}, "RMSNorm, not layernorm"),
        ({"positional": "rope-ntk", "rope_scale": 2.0}, "rope-ntk positions"),
    ],
)
def test_inexpressible_llama_configs_are_refused(overrides: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        hf_family(GPTConfig.preset("llama-style", **overrides))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [({"n_kv_heads": 2}, "grouped-query"), ({"bias": False}, "biases"), ({"norm": "rmsnorm"}, "LayerNorm")],
)
def test_inexpressible_gpt2_configs_are_refused(overrides: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        hf_family(GPTConfig.preset("gpt2-style", **overrides))


def test_cli_export_then_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _random_model(CONFIGS["llama-gqa-untied-base500"])
    model.save(tmp_path / "ckpt")
    assert main(["export", "hf", str(tmp_path / "ckpt"), str(tmp_path / "hf")]) == 0
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    assert main(["import", "hf", str(tmp_path / "hf"), str(tmp_path / "back")]) == 0
    back = GPT.load(tmp_path / "back")
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), back.state_dict().values(), strict=True)
    )
    capsys.readouterr()


def test_cli_refusals_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    GPT(GPTConfig.preset("tiny", positional="alibi")).save(tmp_path / "alibi")
    assert main(["export", "hf", str(tmp_path / "alibi"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "alibi" in err
    assert main(["import", "hf", str(tmp_path / "nowhere"), str(tmp_path / "back")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alibi"]
