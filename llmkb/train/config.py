"""Hyper-parameters of a training run: :class:`TrainConfig`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from llmkb.errors import UsageError

__all__ = ["OPTIMIZERS", "PRECISIONS", "TrainConfig"]

#: Accepted values of :attr:`TrainConfig.precision`.
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")

#: Accepted values of :attr:`TrainConfig.optimizer`: torch's AdamW or the written-out one of llmkb.
OPTIMIZERS: tuple[str, ...] = ("torch", "llmkb")

#: Fields that may differ between a checkpoint and the run resuming it without changing the maths of
#: the steps already taken (``steps`` changes the schedule of the remaining ones, which is the point).
RESUMABLE_CHANGES: frozenset[str] = frozenset(
    {
        "steps",
        "eval_every",
        "eval_batches",
        "log_every",
        "checkpoint_every",
        "device",
        "dynamics",
        "histogram_every",
    }
)


@dataclass
class TrainConfig:
    """Everything the training loop needs besides the model and the data.

    Attributes:
        steps: Number of optimizer steps.
        batch_size: Sequences per step (per process under DDP).
        seq_len: Tokens per sequence (ignored for synthetic tasks, which fix their own length).
        lr: Peak learning rate, reached at the end of warm-up.
        min_lr: Learning rate at the last step, the floor of the cosine decay.
        warmup_steps: Steps of linear warm-up from ``lr / warmup_steps`` to ``lr``.
        weight_decay: AdamW decoupled weight decay on matrices (not on norms, biases, embeddings).
        grad_clip: Clip the global gradient norm to this value; ``0`` disables clipping.
        betas: AdamW ``(beta1, beta2)``.
        eval_every: Evaluate on the validation data every this many steps (and after the last); ``0``
            means only after the last step.
        eval_batches: Validation batches per evaluation.
        seed: Seeds model initialization, dropout and batch sampling.
        log_every: Refresh the progress bar (and read the loss from the device) every this many steps.
        checkpoint_every: Write a checkpoint every this many steps (and at the end); ``0`` means only at
            the end. Needs ``out_dir``.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        precision: ``"fp32"`` or ``"bf16"`` (autocast; weights and optimizer state stay fp32).
        optimizer: ``"torch"`` (``torch.optim.AdamW`` and ``clip_grad_norm_``) or ``"llmkb"`` (the same
            maths written out, :class:`llmkb.train.optim.AdamW`).
        dynamics: Record training dynamics in the history (:mod:`llmkb.train.dynamics`): per-layer gradient
            norms, update/weight ratios and residual-stream norms. Reads only; the steps are unchanged.
        histogram_every: With ``dynamics``, also record per-layer activation histograms every this many
            steps (and at step 1); ``0`` never.
    """

    steps: int = 200
    batch_size: int = 16
    seq_len: int = 128
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 20
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    betas: tuple[float, float] = (0.9, 0.95)
    eval_every: int = 100
    eval_batches: int = 4
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    optimizer: str = "torch"
    dynamics: bool = False
    histogram_every: int = 0

    def __post_init__(self) -> None:
        """Validate the fields (raises :class:`~llmkb.errors.UsageError` with a one-line message)."""
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        for name in ("steps", "batch_size", "seq_len", "eval_batches", "log_every"):
            _check_int(name, getattr(self, name), 1)
        for name in ("warmup_steps", "eval_every", "checkpoint_every", "seed", "histogram_every"):
            _check_int(name, getattr(self, name), 0)
        if not self.lr > 0:
            raise UsageError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.min_lr <= self.lr:
            raise UsageError(f"min_lr must be in [0, lr={self.lr}], got {self.min_lr}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise UsageError("weight_decay and grad_clip must be >= 0")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise UsageError(f"betas must be in [0, 1), got {self.betas}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise UsageError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not isinstance(self.dynamics, bool):
            raise UsageError(f"dynamics must be True or False, got {self.dynamics!r}")
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``betas`` as a list); :meth:`from_dict` inverts it."""
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from :meth:`to_dict` output.

        Raises:
            UsageError: ``data`` has a field this class does not know.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"unknown TrainConfig field(s): {', '.join(unknown)}")
        values = dict(data)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")
