"""Tests of the GGUF export against the ``gguf`` package (llama.cpp's own Python reader and quantizers).

The strongest check is [`gguf_forward`][llmkb.export.gguf_reference.gguf_forward]: a numpy forward pass with
llama.cpp's conventions that reads only the file, compared with llmkb's logits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType, GGUFReader
from gguf.quants import dequantize, quantize

from llmkb.cli import main
from llmkb.export import gguf as gguf_export
from llmkb.export.gguf import byte_vocab, permute_rope_rows, write_gguf
from llmkb.export.gguf_reference import gguf_forward, gguf_state_dict, read_gguf, unpermute_rope_rows
from llmkb.nn import GPT, GPTConfig
from llmkb.quant.ggml import dequantize_q4_0, dequantize_q8_0, quantize_q4_0, quantize_q8_0

Q = GGMLQuantizationType


def trained_like(preset: str = "shared", seed: int = 0, **kw: object) -> GPT:
    """A model with spread-out weights (init plus noise), so every tensor matters to the logits."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig.preset(preset, n_layers=2, **kw)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def blocks(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 128)).astype(np.float32) * rng.exponential(1.0, (16, 1)).astype(np.float32)
    heavy = x.copy()
    heavy[rng.random(x.shape) < 0.02] *= 80.0  # outlier-heavy rows
    ties = x.copy()
    ties[0, :32] = 0.0  # an all-zero block
    ties[1, :32] = np.float32(0.25) * rng.integers(-16, 17, 32)  # values on exact half steps
    ties[2, 32:64] = -ties[2, 32:64].__abs__().max()  # the max magnitude occurs with both signs / repeatedly
    ties[2, 40] = -ties[2, 40]
    return [x, heavy, ties, np.float32(1e-30) * x, np.float32(1e4) * x]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_our_block_quantizers_equal_gguf_byte_for_byte(seed: int) -> None:
    for x in blocks(seed):
        assert np.array_equal(quantize_q8_0(x), quantize(x, Q.Q8_0))
        assert np.array_equal(quantize_q4_0(x), quantize(x, Q.Q4_0))
        assert np.array_equal(dequantize_q8_0(quantize_q8_0(x)), dequantize(quantize(x, Q.Q8_0), Q.Q8_0))
        assert np.array_equal(dequantize_q4_0(quantize_q4_0(x)), dequantize(quantize(x, Q.Q4_0), Q.Q4_0))


def test_q4_0_hand_example() -> None:
    x = np.zeros(32, np.float32)
    x[0], x[1], x[16], x[17] = -8.0, 4.0, 7.0, 8.0  # largest magnitude: -8 and +8; the first (-8) wins
    b = quantize_q4_0(x)
    assert b.shape == (18,)
    assert b[:2].view(np.float16)[0] == 1.0  # d = -8 / -8
    q = np.concatenate([b[2:] & 15, b[2:] >> 4])  # low nibbles hold the first 16 values
    assert q[0] == 0 and q[1] == 12 and q[16] == 15 and q[17] == 15 and q[2] == 8  # 8 clips to 15 (7 d)


def test_q8_0_hand_example() -> None:
    x = np.zeros(32, np.float32)
    x[0], x[5] = 127.0, -0.5  # d = 1: -0.5 rounds away from zero to -1
    b = quantize_q8_0(x)
    assert b[:2].view(np.float16)[0] == 1.0 and b[2] == 127 and b[2 + 5].view(np.int8) == -1


def test_block_errors_within_the_format_bound() -> None:
    x = blocks(3)[1]
    d8 = np.abs(x.reshape(-1, 32)).max(1, keepdims=True) / 127
    e8 = np.abs(dequantize_q8_0(quantize_q8_0(x)).reshape(-1, 32) - x.reshape(-1, 32))
    assert (e8 <= d8 / 2 + 127 * d8 * 2.0**-11).all()  # half a step, plus the fp16 rounding of d
    d4 = np.abs(x.reshape(-1, 32)).max(1, keepdims=True) / 8
    e4 = np.abs(dequantize_q4_0(quantize_q4_0(x)).reshape(-1, 32) - x.reshape(-1, 32))
    assert (e4 <= d4 + 8 * d4 * 2.0**-11).all()  # one step: the side opposite the extreme stops at 7 d


def test_rope_permutation_round_trip_and_pairs() -> None:
    w = np.arange(2 * 8 * 3, dtype=np.float32).reshape(16, 3)  # 2 heads of 8 rows
    p = permute_rope_rows(w, 2)
    assert np.array_equal(unpermute_rope_rows(p, 2), w)
    assert [int(r) for r in p[:8, 0] // 3] == [0, 4, 1, 5, 2, 6, 3, 7]  # row i -> 2i, row i + 4 -> 2i + 1


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[GPT, dict[str, Path]]:
    """The CLI's four files of one checkpoint."""
    root = tmp_path_factory.mktemp("gguf")
    model = trained_like(seed=1)
    model.save(root / "ckpt")
    out = {}
    for kind in ("f32", "f16", "q8_0", "q4_0"):
        out[kind] = root / f"m-{kind}.gguf"
        assert main(["export", "gguf", "--type", kind, str(root / "ckpt"), str(out[kind])]) == 0
    return model, out


def test_metadata_llama_cpp_requires(files: tuple[GPT, dict[str, Path]]) -> None:
    """llama.cpp's ``llm_load_hparams`` requires context/embedding length, block count, feed-forward length, head
    count and (for the llama architecture) the RMS epsilon; it rejects ``rope.dimension_count != n_embd / n_head``."""
    model, paths = files
    c = model.config
    meta, _ = read_gguf(paths["q4_0"])
    expect = {
        "general.architecture": "llama",
        "llama.context_length": c.max_seq_len,
        "llama.embedding_length": c.d_model,
        "llama.block_count": c.n_layers,
        "llama.feed_forward_length": c.ffn_dim,
        "llama.attention.head_count": c.n_heads,
        "llama.attention.head_count_kv": c.kv_heads,
        "llama.rope.dimension_count": c.head_dim,
        "llama.rope.freq_base": c.rope_base,
        "llama.vocab_size": 256,
        "general.file_type": 2,
        "tokenizer.ggml.model": "llama",
    }
    for key, value in expect.items():
        assert meta[key] == value, key
    assert meta["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(c.norm_eps, rel=1e-6)
    assert (
        meta["llama.rope.dimension_count"]
        == meta["llama.embedding_length"] // meta["llama.attention.head_count"]
    )
    assert len(meta["tokenizer.ggml.tokens"]) == len(meta["tokenizer.ggml.scores"]) == 256
    assert len(meta["tokenizer.ggml.token_type"]) == 256
    assert meta["tokenizer.ggml.add_bos_token"] is False and meta["tokenizer.ggml.add_space_prefix"] is False


def test_byte_vocabulary_maps_token_i_to_byte_i() -> None:
    tokens, types = byte_vocab()
    assert len(set(tokens)) == 256

    def piece(i: int) -> bytes:  # how llama.cpp turns a token back into bytes (SentencePiece vocabulary)
        if types[i] == 6:
            return bytes([int(tokens[i][3:5], 16)])
        return tokens[i].replace("\u2581", " ").encode("utf-8")

    assert [piece(i) for i in range(256)] == [bytes([i]) for i in range(256)]


def test_tensor_names_and_types(files: tuple[GPT, dict[str, Path]]) -> None:
    model, paths = files
    names = {
        f"blk.{i}.{n}.weight"
        for i in range(2)
        for n in (
            "attn_norm",
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "ffn_norm",
            "ffn_gate",
            "ffn_up",
            "ffn_down",
        )
    }
    names |= {"token_embd.weight", "output_norm.weight"}  # tied: no output.weight
    for kind, qtype in (("f32", Q.F32), ("f16", Q.F16), ("q8_0", Q.Q8_0), ("q4_0", Q.Q4_0)):
        tensors = {t.name: t for t in GGUFReader(paths[kind]).tensors}
        assert set(tensors) == names
        assert tensors["blk.0.attn_norm.weight"].tensor_type == Q.F32
        assert tensors["blk.0.attn_q.weight"].tensor_type == qtype
        assert [int(n) for n in tensors["blk.0.ffn_up.weight"].shape] == [
            128,
            model.config.ffn_dim,
        ]  # ne = [in, out]
        ragged = Q.F32 if kind == "f32" else Q.F16  # 344 inputs: no blocks of 32, llama.cpp's F16 fallback
        assert tensors["blk.0.ffn_down.weight"].tensor_type == ragged


def test_dequantized_tensors_match_the_source(files: tuple[GPT, dict[str, Path]]) -> None:
    model, paths = files
    src = {k: v.numpy() for k, v in model.state_dict().items()}
    _, exact = gguf_state_dict(paths["f32"])
    for k, v in src.items():
        assert np.array_equal(exact[k], v), k
    for kind, rel in (("f16", 2.0**-11), ("q8_0", 1 / 127), ("q4_0", 1 / 8)):
        _, sd = gguf_state_dict(paths[kind])
        for k, v in src.items():
            if v.ndim == 2:
                rows = np.abs(v).reshape(v.shape[0], -1).max(1, keepdims=True)
                assert (np.abs(sd[k] - v) <= rows * rel * 1.01).all(), (kind, k)  # within one step of the row


@pytest.mark.parametrize("kind", ["f32", "f16", "q8_0", "q4_0"])
def test_llama_cpp_semantics_forward_matches(kind: str, files: tuple[GPT, dict[str, Path]]) -> None:
    """The file alone, read with llama.cpp's layout and RoPE pairing, gives llmkb's logits — for F32 the
    model's own; for the others the model loaded with the file's dequantized weights."""
    model, paths = files
    ids = torch.randint(0, 256, (48,), generator=torch.Generator().manual_seed(7))
    if kind == "f32":
        ours = model
    else:
        _, sd = gguf_state_dict(paths[kind])
        ours = GPT(model.config).eval()
        ours.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in sd.items()})
    with torch.no_grad():
        ref = ours(ids[None]).logits[0].double().numpy()
    logits = gguf_forward(paths[kind], ids.numpy())
    assert np.abs(logits - ref).max() <= 1e-4


def test_the_forward_would_see_a_missing_permutation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = trained_like(seed=2)
    monkeypatch.setattr(gguf_export, "permute_rope_rows", lambda w, n: w)
    path = write_gguf(model, tmp_path / "wrong.gguf", "f32")
    ids = torch.randint(0, 256, (32,), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = model(ids[None]).logits[0].double().numpy()
    assert np.abs(gguf_forward(path, ids.numpy()) - ref).max() > 1e-2


def test_grouped_kv_heads_and_untied_head(tmp_path: Path) -> None:
    model = trained_like("llama-style", seed=3, n_kv_heads=2)
    path = write_gguf(model, tmp_path / "gqa.gguf", "f32")
    names = {t.name for t in GGUFReader(path).tensors}
    assert "output.weight" in names
    ids = torch.randint(0, 256, (40,), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref = model(ids[None]).logits[0].double().numpy()
    assert np.abs(gguf_forward(path, ids.numpy()) - ref).max() <= 1e-4


def test_cli_errors_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.gguf"
    assert main(["export", "gguf", str(tmp_path / "missing"), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("llmkb: error:") and "\n" not in err
    GPT(GPTConfig.preset("gpt2-style", n_layers=1)).save(tmp_path / "gpt2")
    assert main(["export", "gguf", str(tmp_path / "gpt2"), str(out)]) == 2
    assert "llama architecture" in capsys.readouterr().err
    assert list(tmp_path.glob("*.gguf")) == [] and list(tmp_path.glob(".*tmp")) == []
    with pytest.raises(SystemExit) as exc:
        main(["export", "gguf", "--type", "q5_k", str(tmp_path / "gpt2"), str(out)])
    assert exc.value.code == 2
