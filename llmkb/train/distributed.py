"""Data-parallel training under ``torchrun``: process-group set-up and small collectives.

``torchrun --nproc_per_node=N`` starts N copies of the program with ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE`` in the environment. Each process holds a full model replica wrapped in
:class:`torch.nn.parallel.DistributedDataParallel`, samples its own batches, and the gradients are
averaged across processes (all-reduce) during ``backward``, so every replica takes the same optimizer
step on an effective batch N times larger (Li et al. 2020, "PyTorch Distributed: Experiences on
Accelerating Data Parallel Training", arXiv:2006.15704).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistContext", "setup_distributed"]


@dataclass
class DistContext:
    """Where this process stands in a (possibly single-process) run.

    Attributes:
        rank: Global rank (0 for a plain run).
        world_size: Number of processes (1 for a plain run).
        local_rank: Rank on this machine (selects the GPU).
        owns_group: Whether this context created the process group (and so must destroy it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes checkpoints."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every process (no-op in a plain run)."""
        if self.enabled:
            dist.barrier()

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise mean of ``values`` across processes (returns ``values`` in a plain run)."""
        if not self.enabled:
            return values
        out = values.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out / self.world_size

    def gather_rows(self, row: torch.Tensor) -> torch.Tensor:
        """Stack every process's 1-D ``row`` (same length everywhere) into ``(world_size, n)``."""
        if not self.enabled:
            return row[None].clone()
        backend_device = row.device
        if dist.get_backend() == "nccl":
            backend_device = torch.device("cuda", torch.cuda.current_device())
        rows = [torch.empty_like(row, device=backend_device) for _ in range(self.world_size)]
        dist.all_gather(rows, row.to(backend_device))
        return torch.stack([r.cpu() for r in rows])

    def close(self) -> None:
        """Destroy the process group if this context created it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def setup_distributed(device: str) -> DistContext:
    """Join the process group ``torchrun`` describes, or return a single-process context.

    Uses the ``nccl`` backend when training on CUDA and ``gloo`` on CPU. If a group is already
    initialized (by the caller), it is used and left alone.

    Args:
        device: The training device (``"cpu"`` or ``"cuda[:N]"``).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
        owns = True
    return DistContext(
        rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, owns_group=owns
    )
