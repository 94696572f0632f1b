"""Training: configuration, schedule, AdamW groups, the loop, checkpoints, DDP and the shared model.

* :class:`TrainConfig` and :func:`lr_at` (warm-up + cosine);
* :func:`train` → :class:`TrainResult`, resumable bit-for-bit from atomic checkpoints;
* :func:`train_shared_model`, the model every topic reuses.

``python -m llmkb.train`` takes the arguments of ``llmkb train`` (handy under ``torchrun``).
"""

from llmkb.train.checkpoint import has_checkpoint, load_train_state
from llmkb.train.config import TrainConfig
from llmkb.train.loop import TrainResult, derive_seed, train
from llmkb.train.optim import build_optimizer, param_groups
from llmkb.train.runs import read_run_info, train_run
from llmkb.train.schedule import lr_at
from llmkb.train.shared_model import (
    SHARED_STEPS_FULL,
    SHARED_STEPS_QUICK,
    shared_train_config,
    train_shared_model,
)

__all__ = [
    "SHARED_STEPS_FULL",
    "SHARED_STEPS_QUICK",
    "TrainConfig",
    "TrainResult",
    "build_optimizer",
    "derive_seed",
    "has_checkpoint",
    "load_train_state",
    "lr_at",
    "param_groups",
    "read_run_info",
    "shared_train_config",
    "train",
    "train_run",
    "train_shared_model",
]
