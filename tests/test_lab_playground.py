"""The playground's build step, ``shared-model/onnx``, on an untrained model of the shared shape (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmkb.export.onnx import OrtDecoder
from llmkb.lab.cache import Result
from llmkb.lab.registry import RunContext, get_experiment
from llmkb.lab.shared_model import SHARED_MODEL
from llmkb.lab.topics.playground import experiments as E
from llmkb.nn import GPT, GPTConfig


@pytest.fixture
def fake_shared(tmp_path) -> Result:
    torch.manual_seed(0)
    GPT(GPTConfig.preset("shared")).save(tmp_path / "shared" / "model")
    return Result(SHARED_MODEL, "quick", "fake", tmp_path / "shared", {}, ran=False)


def _ctx(tmp_path, shared: Result) -> RunContext:
    return RunContext(E.ONNX, "quick", tmp_path / "out", False, {SHARED_MODEL: shared})


def test_export_writes_a_checked_model_the_widget_names(tmp_path, fake_shared):
    data = E.export_shared({"check_tokens": 3}, _ctx(tmp_path, fake_shared))
    path = tmp_path / "out" / data["widget"]["artifacts"]["model"]
    assert path.is_file() and data["bytes"] == path.stat().st_size <= 5_000_000
    assert data["checked_prompts"] == len(E.PROMPTS) and data["max_logit_diff"] < 1e-4
    w = data["widget"]
    cfg = GPTConfig.preset("shared")
    assert (w["n_layers"], w["kv_heads"], w["head_dim"], w["vocab_size"]) == (
        cfg.n_layers, cfg.kv_heads, cfg.head_dim, cfg.vocab_size,
    )  # fmt: skip
    assert any(not p.isascii() for p in w["prompts"])
    assert SHARED_MODEL in get_experiment(E.ONNX).needs


def test_export_refuses_a_graph_whose_greedy_tokens_differ(tmp_path, fake_shared, monkeypatch):
    def wrong(self, ids: np.ndarray, n: int) -> np.ndarray:
        return np.concatenate((ids, np.zeros((ids.shape[0], n), np.int64)), axis=1)

    monkeypatch.setattr(OrtDecoder, "generate", wrong)
    with pytest.raises(AssertionError, match="differ from GPT.generate"):
        E.export_shared({"check_tokens": 3}, _ctx(tmp_path, fake_shared))
