"""The training loop: :func:`train` and its result, :class:`TrainResult`.

One step ``s`` (1-based) of :func:`train`:

1. set the learning rate to :func:`~llmkb.train.schedule.lr_at` ``(s)``;
2. sample a batch with this process's batch generator (for a pretraining objective,
   :class:`~llmkb.data.objectives.ObjectiveData`, the batch carries its attention mask);
3. forward, mean cross-entropy on the scored targets, backward of it plus the model's auxiliary loss
   (``ModelOutput.aux_loss``: mixture-of-experts balancing and z-losses; gradients averaged across processes
   under DDP);
4. clip the global gradient norm to ``grad_clip`` (Pascanu et al. 2013, "On the difficulty of training
   recurrent neural networks", arXiv:1211.5063);
5. AdamW update (see :mod:`llmkb.train.optim`).

Every ``eval_every`` steps (and after the last) the model is evaluated on ``eval_batches`` validation
batches drawn from a generator re-seeded at each evaluation, so every evaluation scores the same
batches and successive values are comparable.

**Exact resumption.** Model initialization, dropout and batch sampling are all driven by generators
seeded from ``seed``; a checkpoint stores their states with the optimizer state and the history. A run
stopped after step ``k`` and resumed therefore takes bit-for-bit the same steps ``k+1 …`` as an
uninterrupted one (same machine, same thread count). Ctrl-C in a single-process run is handled the same
way: the current step finishes, a checkpoint is written (if ``out_dir`` is set) and
:class:`KeyboardInterrupt` is raised. A process killed without warning (``SIGKILL``, the OOM killer)
resumes from its last checkpoint, which the atomic write guarantees is whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from llmkb.data.batching import TokenDataset, get_batch, split_tokens
from llmkb.data.objectives import ObjectiveData
from llmkb.data.synthetic import SyntheticTask, sequence_accuracy
from llmkb.errors import UsageError
from llmkb.nn import GPT, GPTConfig
from llmkb.nn.moe import router_record
from llmkb.train.checkpoint import has_checkpoint, load_train_state, replace_dir_atomically, save_train_state
from llmkb.train.config import RESUMABLE_CHANGES, TrainConfig
from llmkb.train.distributed import DistContext, setup_distributed
from llmkb.train.dynamics import DynamicsRecorder
from llmkb.train.optim import build_optimizer, loop_grad_clip
from llmkb.train.schedule import lr_at

__all__ = ["Callback", "DataLike", "TrainResult", "derive_seed", "train", "train_step"]

#: What :func:`train` accepts as data.
DataLike = TokenDataset | SyntheticTask | ObjectiveData | torch.Tensor | tuple[torch.Tensor, torch.Tensor]

#: ``callback(record, model) -> stop?``: called after every step with that step's history record.
Callback = Callable[[dict[str, Any], GPT], bool | None]

#: History fields that depend on wall-clock time (everything else is reproducible).
TIMING_FIELDS: tuple[str, ...] = ("tokens_per_s", "elapsed_s")


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: The trained model (the same object that was trained; on ``train_config.device``).
        history: One record per step: ``step``, ``train_loss``, ``lr``, ``grad_norm``, ``tokens_per_s``
            (averaged over the window since the previous loss read-out), ``elapsed_s`` (training seconds
            so far, across resumptions), and ``val_loss`` / ``val_accuracy`` (``None`` except at evaluation
            steps; the accuracy is exact-match of answers, for synthetic tasks only). A model with
            mixture-of-experts layers adds, at each read-out step, ``expert_load`` (per layer, each expert's share
            of the assignments), ``dropped_frac`` and ``router_entropy`` (see ``llmkb.nn.moe.router_record``).
            Training on :class:`~llmkb.data.objectives.ObjectiveData` adds ``predicted``: the step's tokens
            with a loss (all of them for CLM, about 15 % for MLM, the continuation for a prefix LM).
        wall_time: Seconds this call took.
        step: Last completed step.
        stopped_early: Whether a callback stopped the run before ``train_config.steps``.
        train_config: The configuration used.
        out_dir: Where checkpoints were written, if anywhere.
    """

    model: GPT
    history: list[dict[str, Any]]
    wall_time: float
    step: int
    stopped_early: bool
    train_config: TrainConfig
    out_dir: Path | None = None

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of a history field, skipping records where it is ``None``."""
        pairs = [(r["step"], r[key]) for r in self.history if r.get(key) is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    @property
    def final_train_loss(self) -> float:
        """Training loss of the last step (``nan`` if no step was taken)."""
        return self.history[-1]["train_loss"] if self.history else math.nan

    @property
    def final_val_loss(self) -> float | None:
        """Last validation loss recorded, if any."""
        values = self.series("val_loss")[1]
        return values[-1] if values else None


def derive_seed(seed: int, purpose: str, rank: int = 0) -> int:
    """A 63-bit seed for one purpose and process, derived from the run's ``seed`` by hashing.

    Distinct ``(purpose, rank)`` pairs get unrelated streams, so e.g. rank 1 of seed 0 does not replay
    the batches of rank 0 of seed 1.
    """
    digest = hashlib.sha256(f"llmkb/{seed}/{purpose}/{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


# ----------------------------------------------------------------------------------- data sources


@dataclass
class _Source:
    """Uniform view of the data: batches for training and validation."""

    vocab_size: int
    seq_len: int
    batch_size: int
    train_ids: torch.Tensor | None = None
    val_ids: torch.Tensor | None = None
    task: SyntheticTask | None = None
    objective: ObjectiveData | None = None

    @property
    def has_val(self) -> bool:
        return (
            self.task is not None
            or self.objective is not None
            or (self.val_ids is not None and len(self.val_ids) > self.seq_len)
        )

    def train_batch(self, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(x, y, attn_mask)``; the mask is ``None`` (causal) except for an objective's batches."""
        if self.objective is not None:
            b = self.objective.train_batch(self.batch_size, g)
            return b.x, b.y, b.attn_mask
        if self.task is not None:
            return (*self.task.make_batch(self.batch_size, g), None)
        assert self.train_ids is not None
        return (*get_batch(self.train_ids, self.batch_size, self.seq_len, g), None)

    def val_batch(self, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self.objective is not None:
            b = self.objective.val_batch(self.batch_size, g)
            return b.x, b.y, b.attn_mask
        if self.task is not None:
            return (*self.task.make_batch(self.batch_size, g), None)
        assert self.val_ids is not None
        return (*get_batch(self.val_ids, self.batch_size, self.seq_len, g), None)


def _as_source(data: DataLike, cfg: TrainConfig) -> _Source:
    if isinstance(data, SyntheticTask):
        return _Source(data.vocab_size, data.seq_len, cfg.batch_size, task=data)
    if isinstance(data, ObjectiveData):
        if data.seq_len != cfg.seq_len:
            raise UsageError(
                f"the objective data cuts windows of {data.seq_len} tokens but seq_len={cfg.seq_len}"
            )
        return _Source(data.vocab_size, data.seq_len, cfg.batch_size, objective=data)
    if isinstance(data, TokenDataset):
        train_ids, val_ids, vocab = data.train, data.val, data.vocab_size
    elif isinstance(data, torch.Tensor):
        train_ids, val_ids = split_tokens(data.long(), 0.1)
        vocab = int(data.max()) + 1 if data.numel() else 0
    elif isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        train_ids, val_ids = data[0].long(), data[1].long()
        vocab = max((int(t.max()) + 1 for t in data if t.numel()), default=0)
    else:
        raise UsageError(
            "data must be a TokenDataset, a SyntheticTask, ObjectiveData, a 1-D tensor of token ids or a "
            "(train, val) pair"
        )
    if len(train_ids) <= cfg.seq_len:
        raise UsageError(
            f"{len(train_ids)} training tokens are too few for seq_len={cfg.seq_len}: "
            "use more text or a shorter seq_len"
        )
    return _Source(vocab, cfg.seq_len, cfg.batch_size, train_ids=train_ids, val_ids=val_ids)


# ----------------------------------------------------------------------------------- interrupts


class _InterruptFlag:
    """Turns the first Ctrl-C into a flag checked between steps; a second one interrupts at once."""

    def __init__(self) -> None:
        self.is_set = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.is_set:
            raise KeyboardInterrupt
        self.is_set = True

    @contextlib.contextmanager
    def installed(self, active: bool) -> Iterator[None]:
        if not active or threading.current_thread() is not threading.main_thread():
            yield
            return
        self._previous = signal.signal(signal.SIGINT, self._handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, self._previous)


# ----------------------------------------------------------------------------------- the loop


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    params: list[nn.Parameter],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    grad_clip: float,
    autocast: torch.autocast | contextlib.nullcontext[None] | None = None,
    attn_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer update: set ``lr``, forward, backward, clip, step, clear gradients.

    Args:
        model: Returns a ``ModelOutput`` with ``loss`` when called as ``model(x, y)``.
        optimizer: The optimizer over ``params``.
        params: Parameters whose gradient norm is clipped.
        x: Inputs ``(B, T)``.
        y: Targets ``(B, T)`` (``-100`` = not scored).
        lr: Learning rate for this update.
        grad_clip: Maximum global gradient norm; ``0`` disables clipping.
        autocast: Mixed-precision context for the forward pass, if any.
        attn_mask: Boolean attention mask (True = may attend) passed to the model as ``attn_mask`` — a
            pretraining objective's mask (:mod:`llmkb.data.objectives`); ``None`` calls ``model(x, y)``.

    Returns:
        ``(loss, grad_norm)`` as detached scalar tensors (not synchronized with the device); ``loss`` is the
        language-model loss alone, while the backward pass also differentiates the model's ``aux_loss``.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    with autocast if autocast is not None else contextlib.nullcontext():
        out = model(x, y) if attn_mask is None else model(x, y, attn_mask=attn_mask)
        loss = out.loss
    (loss if out.aux_loss is None else loss + out.aux_loss).backward()  # MoE balancing/z-loss
    grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else math.inf)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach(), grad_norm.detach()


def train(
    model_config: GPTConfig | GPT,
    train_config: TrainConfig,
    data: DataLike,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    callback: Callback | None = None,
    checkpoint_extras: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train a :class:`~llmkb.nn.GPT` (see the module docstring for what one step does).

    Runs unchanged under ``torchrun --nproc_per_node=N``: each process trains a replica wrapped in
    ``DistributedDataParallel`` (``gloo`` on CPU, ``nccl`` on CUDA) on batches from its own generator
    (seeded from ``seed`` and the rank); only rank 0 shows progress and writes checkpoints; the recorded
    training loss is the mean over processes.

    Args:
        model_config: The architecture (the model is built after ``torch.manual_seed(seed)``), or an
            existing model to keep training (e.g. a loaded checkpoint or a model after surgery).
        train_config: Optimization settings.
        data: A :class:`~llmkb.data.TokenDataset`, a ``(train_ids, val_ids)`` pair, a single id tensor (the
            last 10 % becomes validation), a :class:`~llmkb.data.synthetic.SyntheticTask`, or an
            :class:`~llmkb.data.objectives.ObjectiveData` (batches of a pretraining objective with their
            attention mask; each history record then also counts the step's tokens ``predicted``).
        out_dir: Checkpoint directory (see :mod:`llmkb.train.checkpoint`); ``None`` writes nothing.
        resume: Continue from the checkpoint in ``out_dir`` if there is one (else start afresh).
        progress: Show a tqdm bar with loss, validation loss, learning rate and tokens/s.
        callback: Called after every step with the step's history record and the model; returning
            ``True`` stops training (after writing a checkpoint if ``out_dir`` is set). Giving a callback
            makes the loop read the loss every step.
        checkpoint_extras: Adds files of the caller's to each new checkpoint directory it is given,
            before that directory is swapped in (e.g. the tokenizer, so that the first checkpoint
            creates ``out_dir`` complete). Entries it does not write are carried over from the previous
            checkpoint.

    Returns:
        A :class:`TrainResult`.

    Raises:
        UsageError: Data and model do not fit together, ``out_dir`` holds a checkpoint but ``resume`` is
            false, the checkpoint does not match this run, or ``out_dir`` did not exist when training
            started and was created by someone else before the first checkpoint.
        KeyboardInterrupt: After Ctrl-C, once the current step is finished and checkpointed.
    """
    cfg = train_config
    source = _as_source(data, cfg)
    dctx = setup_distributed(cfg.device)
    try:
        trainer = _Trainer(
            model_config, cfg, source, dctx, out_dir, resume, progress, callback, checkpoint_extras
        )
        return trainer.run()
    finally:
        dctx.close()


@dataclass
class _Trainer:
    model_config: GPTConfig | GPT
    cfg: TrainConfig
    source: _Source
    dctx: DistContext
    out_dir: str | Path | None
    resume: bool
    progress: bool
    callback: Callback | None
    checkpoint_extras: Callable[[Path], None] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def run(self) -> TrainResult:
        start = time.perf_counter()
        cfg, dctx = self.cfg, self.dctx
        self.device = torch.device(cfg.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"device {cfg.device!r} requested but CUDA is not available: use --device cpu")
        if self.device.type == "cuda" and dctx.enabled:
            self.device = torch.device("cuda", dctx.local_rank)
        self.out = Path(self.out_dir) if self.out_dir is not None else None
        self.model = self._build_model()
        self.optimizer = build_optimizer(self.model, cfg)
        self.batch_gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "batch", dctx.rank))
        torch.manual_seed(derive_seed(cfg.seed, "dropout", dctx.rank))
        if self.device.type == "cuda":
            torch.cuda.manual_seed(derive_seed(cfg.seed, "dropout", dctx.rank))
        self.step = 0
        self.elapsed_before = 0.0
        self._maybe_resume()
        # a directory that did not exist is created by the first checkpoint, never merged into another
        self.create_out = self.out is not None and not self.out.exists()
        self.recorder = (
            DynamicsRecorder(self.model, self.optimizer, cfg.histogram_every) if cfg.dynamics else None
        )
        with self.recorder or contextlib.nullcontext():
            stopped = self._loop(start) if self.step < cfg.steps else False
        return TrainResult(
            model=self.model,
            history=self.history,
            wall_time=time.perf_counter() - start,
            step=self.step,
            stopped_early=stopped,
            train_config=cfg,
            out_dir=self.out,
        )

    # ------------------------------------------------------------------ set-up
    def _build_model(self) -> GPT:
        if isinstance(self.model_config, GPT):
            model = self.model_config
        else:
            mcfg = self.model_config
            if not isinstance(mcfg, GPTConfig):
                raise UsageError(f"model_config must be a GPTConfig or a GPT, got {type(mcfg).__name__}")
            torch.manual_seed(self.cfg.seed)
            model = GPT(mcfg)
        mcfg = model.config
        if self.source.vocab_size > mcfg.vocab_size:
            raise UsageError(
                f"the data uses {self.source.vocab_size} token ids but the model's vocab_size is "
                f"{mcfg.vocab_size}: raise vocab_size"
            )
        if self.source.seq_len > mcfg.max_seq_len:
            raise UsageError(
                f"sequences of {self.source.seq_len} tokens exceed the model's max_seq_len="
                f"{mcfg.max_seq_len}: shorten seq_len or raise max_seq_len"
            )
        return model.to(self.device).train()

    def _maybe_resume(self) -> None:
        if self.out is None or not has_checkpoint(self.out):
            return
        if not self.resume:
            raise UsageError(
                f"{str(self.out)!r} already holds a checkpoint: resume it or choose another directory"
            )
        state = load_train_state(self.out)
        if state["model_config"] != self.model.config.to_dict():
            raise UsageError(f"the checkpoint in {str(self.out)!r} is of a different model configuration")
        saved_cfg = TrainConfig.from_dict(state["train_config"]).to_dict()
        changed = sorted(k for k, v in self.cfg.to_dict().items() if saved_cfg[k] != v)
        fixed = [k for k in changed if k not in RESUMABLE_CHANGES]
        if fixed:
            raise UsageError(f"cannot resume with changed training settings: {', '.join(fixed)}")
        if state["world_size"] != self.dctx.world_size:
            raise UsageError(
                f"the checkpoint was written by {state['world_size']} process(es), "
                f"this run has {self.dctx.world_size}: resume with the same number"
            )
        weights = GPT.load(self.out, map_location=self.device).state_dict()
        self.model.load_state_dict(weights)
        self.optimizer.load_state_dict(state["optimizer"])
        rank = self.dctx.rank
        self.batch_gen.set_state(state["batch_rng"][rank].clone())
        torch.set_rng_state(state["torch_rng"][rank].clone())
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"][rank].clone(), self.device)
        self.step = int(state["step"])
        self.elapsed_before = float(state["elapsed_s"])
        self.history = list(state["history"])

    # ------------------------------------------------------------------ steps
    def _loop(self, start: float) -> bool:
        cfg, dctx, model = self.cfg, self.dctx, self.model
        wrapped: nn.Module = model
        if dctx.enabled:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            wrapped = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
        params = [p for p in model.parameters() if p.requires_grad]
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
        tokens_per_step = cfg.batch_size * self.source.seq_len * dctx.world_size
        grad_clip = loop_grad_clip(self.optimizer, cfg)  # the written-out AdamW clips inside its step
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            desc="train",
            unit="step",
            disable=not (self.progress and dctx.is_main),
            dynamic_ncols=True,
        )
        flag = _InterruptFlag()
        pending: list[tuple[int, float, torch.Tensor, torch.Tensor, int | None]] = []
        window_start = time.perf_counter()
        stopped = False
        with flag.installed(active=not dctx.enabled), bar:
            for step in range(self.step + 1, cfg.steps + 1):
                lr = lr_at(step, cfg)
                x, y, mask = self.source.train_batch(self.batch_gen)
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
                if mask is not None:
                    mask = mask.to(self.device, non_blocking=True)
                loss, grad_norm = train_step(
                    wrapped,
                    self.optimizer,
                    params,
                    x,
                    y,
                    lr=lr,
                    grad_clip=grad_clip,
                    autocast=autocast,
                    attn_mask=mask,
                )
                self.step = step
                predicted = int((y != -100).sum()) if self.source.objective is not None else None
                pending.append((step, lr, loss, grad_norm, predicted))

                last = step == cfg.steps
                eval_now = last or (cfg.eval_every > 0 and step % cfg.eval_every == 0)
                ckpt_now = self.out is not None and (
                    last or (cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0)
                )
                interrupted = flag.is_set
                if (
                    self.callback is not None
                    or eval_now
                    or ckpt_now
                    or interrupted
                    or step % cfg.log_every == 0
                ):
                    elapsed_now = self.elapsed_before + time.perf_counter() - start
                    records = self._flush(pending, tokens_per_step, window_start, elapsed_now)
                    records[-1].update(router_record(model))  # MoE: expert load, dropped, entropy
                    pending = []
                    if self.recorder is not None:
                        self.recorder.annotate(records)
                    if eval_now and self.source.has_val:
                        records[-1].update(self._evaluate(autocast))
                    self.history.extend(records)
                    bar.set_postfix(self._postfix(), refresh=False)
                    if self.callback is not None:
                        stopped = self._agree(bool(self.callback(records[-1], model)))
                        interrupted = flag.is_set  # a Ctrl-C during the callback counts for this step
                    if self.out is not None and (ckpt_now or stopped or interrupted):
                        self._checkpoint(self.elapsed_before + time.perf_counter() - start)
                    window_start = time.perf_counter()
                bar.update(1)
                if interrupted:
                    raise KeyboardInterrupt
                if stopped:
                    break
        return stopped and self.step < cfg.steps

    def _flush(
        self,
        pending: list[tuple[int, float, torch.Tensor, torch.Tensor, int | None]],
        tokens_per_step: int,
        window_start: float,
        elapsed: float,
    ) -> list[dict[str, Any]]:
        """Read the pending losses off the device (averaged over processes) into history records."""
        losses = self.dctx.mean(torch.stack([p[2].float() for p in pending])).tolist()
        norms = torch.stack([p[3].float() for p in pending]).tolist()
        seconds = max(time.perf_counter() - window_start, 1e-9)
        tps = tokens_per_step * len(pending) / seconds
        records = [
            {
                "step": step,
                "train_loss": loss,
                "lr": lr,
                "grad_norm": norm,
                "tokens_per_s": tps,
                "elapsed_s": elapsed,
                "val_loss": None,
                "val_accuracy": None,
            }
            for (step, lr, _, _, _), loss, norm in zip(pending, losses, norms, strict=True)
        ]
        for record, p in zip(records, pending, strict=True):
            if p[4] is not None:  # an objective's batches: tokens with a loss this step
                record["predicted"] = p[4]
        return records

    @torch.no_grad()
    def _evaluate(self, autocast: torch.autocast) -> dict[str, float | None]:
        """Mean loss (and exact-match accuracy for tasks) on the fixed validation batches."""
        g = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "val"))
        self.model.eval()
        losses: list[torch.Tensor] = []
        accs: list[float] = []
        try:
            for _ in range(self.cfg.eval_batches):
                x, y, mask = self.source.val_batch(g)
                x, y = x.to(self.device), y.to(self.device)
                with autocast:
                    if mask is None:
                        out = self.model(x, y)
                    else:
                        out = self.model(x, y, attn_mask=mask.to(self.device))
                losses.append(out.loss.float())
                if self.source.task is not None:
                    accs.append(sequence_accuracy(out.logits, y))
        finally:
            self.model.train()
        return {
            "val_loss": torch.stack(losses).mean().item(),
            "val_accuracy": sum(accs) / len(accs) if accs else None,
        }

    def _agree(self, stop: bool) -> bool:
        """Stop only together: any process asking to stop stops all of them."""
        if not self.dctx.enabled:
            return stop
        return bool(self.dctx.mean(torch.tensor([float(stop)], device=self._comm_device())).item() > 0)

    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def _postfix(self) -> dict[str, str]:
        rec = self.history[-1]
        post = {"loss": f"{rec['train_loss']:.3f}"}
        val = next((r["val_loss"] for r in reversed(self.history) if r["val_loss"] is not None), None)
        if val is not None:
            post["val"] = f"{val:.3f}"
        post["lr"] = f"{rec['lr']:.2e}"
        post["tok/s"] = f"{rec['tokens_per_s']:,.0f}"
        return post

    def _checkpoint(self, elapsed: float) -> None:
        """Write a checkpoint of the state after ``self.step`` (collective under DDP; rank 0 writes)."""
        assert self.out is not None
        dctx = self.dctx
        batch_rng = dctx.gather_rows(self.batch_gen.get_state())
        torch_rng = dctx.gather_rows(torch.get_rng_state())
        cuda_rng = None
        if self.device.type == "cuda":
            cuda_rng = dctx.gather_rows(torch.cuda.get_rng_state(self.device))
        if dctx.is_main:
            state = {
                "step": self.step,
                "optimizer": self.optimizer.state_dict(),
                "batch_rng": batch_rng,
                "torch_rng": torch_rng,
                "cuda_rng": cuda_rng,
                "train_config": self.cfg.to_dict(),
                "model_config": self.model.config.to_dict(),
                "world_size": dctx.world_size,
                "elapsed_s": elapsed,
                "history": self.history,
            }

            def write(tmp: Path) -> None:
                self.model.save(tmp)
                save_train_state(tmp, state)
                if self.checkpoint_extras is not None:
                    self.checkpoint_extras(tmp)

            replace_dir_atomically(self.out, write, create=self.create_out)
            self.create_out = False
        dctx.barrier()
