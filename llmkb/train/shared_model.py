"""The shared model: the ``shared`` preset trained on the pydoc corpus, reused by every topic.

:func:`train_shared_model` is what the lab pipeline calls (and caches). Its defaults were chosen so that
the full profile (:data:`SHARED_STEPS_FULL` steps) finishes within about 90 s on two CPU cores and gives
legible samples; the quick profile (:data:`SHARED_STEPS_QUICK`) only checks the plumbing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmkb.data.batching import TokenDataset
from llmkb.data.tokenizer import get_tokenizer
from llmkb.nn import GPTConfig
from llmkb.train.config import TrainConfig
from llmkb.train.loop import TrainResult
from llmkb.train.runs import train_run

__all__ = [
    "SHARED_CORPUS",
    "SHARED_STEPS_FULL",
    "SHARED_STEPS_QUICK",
    "shared_train_config",
    "train_shared_model",
]

#: Steps of the full profile.
SHARED_STEPS_FULL: int = 500
#: Steps of the quick profile (seconds; the model is barely trained).
SHARED_STEPS_QUICK: int = 20
#: Default corpus of the shared model.
SHARED_CORPUS: str = "pydoc"

# Chosen on pydoc at a fixed budget of ~0.7M training tokens (ByteTokenizer, one CPU thread):
#   batch 16 x 350 steps, lr 3e-3 -> val 1.38 nats/byte;  lr 6e-3 -> 1.42;  batch 8 x 700 steps, lr 3e-3 -> 1.32.
# Small batches and more updates win at this scale. 600 steps of batch 8 reached val 1.38 in 147 CPU-seconds
# (one thread, ~0.25 s/step); 500 steps keep the full profile near 60-80 s on two cores.
_SHARED_TRAIN: dict[str, Any] = {
    "batch_size": 8,
    "seq_len": 128,
    "lr": 3e-3,
    "min_lr": 3e-4,
    "warmup_steps": 50,
    "weight_decay": 0.1,
    "grad_clip": 1.0,
    "eval_every": 100,
    "eval_batches": 8,
}


def shared_train_config(steps: int = SHARED_STEPS_FULL, **overrides: Any) -> TrainConfig:
    """The shared model's :class:`~llmkb.train.TrainConfig` for ``steps`` steps.

    Warm-up is capped at a tenth of the run, so short (quick-profile) runs still decay.
    """
    values = {**_SHARED_TRAIN, "steps": steps, **overrides}
    values["warmup_steps"] = min(values["warmup_steps"], max(1, steps // 10))
    values["eval_every"] = min(values["eval_every"], steps)
    return TrainConfig(**values)


def train_shared_model(
    steps: int = SHARED_STEPS_FULL,
    out_dir: str | Path = "site-model",
    *,
    progress: bool = False,
    corpus: str = SHARED_CORPUS,
    tokenizer: str | Path = "byte",
    seed: int = 0,
    device: str = "cpu",
    **overrides: Any,
) -> TrainResult:
    """Train the ``shared`` preset on ``corpus`` into the run directory ``out_dir``.

    Args:
        steps: Optimizer steps (:data:`SHARED_STEPS_FULL` or :data:`SHARED_STEPS_QUICK` for the profiles).
        out_dir: Run directory to create (must not exist; written atomically, see
            :mod:`llmkb.train.runs`). ``GPT.load(out_dir)`` and ``llmkb generate out_dir`` read it.
        progress: Show a progress bar.
        corpus: Corpus name or path (see :func:`~llmkb.data.load_corpus`).
        tokenizer: ``"byte"`` or the folder of a saved tokenizer.
        seed: Random seed.
        device: Training device.
        **overrides: Any other :class:`~llmkb.train.TrainConfig` field.

    Returns:
        The :class:`~llmkb.train.TrainResult` (history, model, wall time).
    """
    tok = get_tokenizer(tokenizer)
    dataset = TokenDataset.from_corpus(corpus, tok)
    mcfg = GPTConfig.preset("shared", vocab_size=tok.vocab_size)
    tcfg = shared_train_config(steps, seed=seed, device=device, **overrides)
    info = {"preset": "shared", "corpus": corpus, "tokenizer": str(tokenizer), "val_fraction": 0.1}
    return train_run(mcfg, tcfg, dataset, out_dir, progress=progress, run_info=info)
