"""Training dynamics, recorded while a model trains: :class:`DynamicsRecorder`, :func:`probe_activations`.

With ``TrainConfig.dynamics`` the training loop adds, to each step's history record:

* ``layer_grad_norms``: ``||g_l|| = sqrt(sum_p ||g_p||^2)`` over the parameters of each block ``l``, before
  clipping (``grad_norm``, the global norm, is always recorded);
* ``update_ratio`` and ``layer_update_ratios``: ``||Δw|| / ||w||``, the size of the step the optimizer took
  relative to the weights it changed, for the whole model and for each block (about ``1e-3`` is the
  usual rule of thumb for a healthy rate; far above it training is unstable, far below it slow);
* ``resid_norms``: the mean per-token norm ``||x_t||`` of the residual stream after the embedding and after
  each block (``L + 1`` values) in that step's forward pass;
* every ``histogram_every`` steps, ``resid_hist`` and ``ffn_hist``: per block, counts of the residual
  stream and of the feed-forward hidden activations in the bins :data:`HIST_EDGES` (values outside are
  counted in the end bins).

Everything is read through hooks — PyTorch forward hooks on the blocks, gradient hooks on the parameters,
optimizer step hooks — so the model and the steps are exactly those of a run without recording (the tests
check the loss curve bit for bit). Forward passes in evaluation mode are not recorded.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

__all__ = ["HIST_EDGES", "DynamicsRecorder", "histogram", "layer_of", "probe_activations"]

HIST_EDGES: Tensor = torch.linspace(-6.0, 6.0, 49)
"""Bin edges of the recorded histograms: 48 bins of width 0.25 over ``[-6, 6]``."""


def histogram(x: Tensor, edges: Tensor = HIST_EDGES) -> Tensor:
    """Counts of ``x``'s values in the bins ``edges`` (``len(edges) - 1`` bins); values outside land in the
    end bins. Returns a float tensor that sums to ``x.numel()``."""
    lo, hi = float(edges[0]), float(edges[-1])
    n = len(edges) - 1
    return torch.histc(x.detach().float().clamp(lo, hi), bins=n, min=lo, max=hi)


def layer_of(name: str) -> int | None:
    """The block index of a parameter name (``blocks.3.ffn.up.weight`` -> 3), ``None`` outside the blocks."""
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == "blocks" and parts[1].isdigit():
        return int(parts[1])
    return None


def _ffn_output_layer(block: nn.Module) -> nn.Module | None:
    """The feed-forward network's last linear layer, whose input is the hidden activation."""
    ffn = getattr(block, "ffn", None)
    down = getattr(ffn, "down", None)
    return down if isinstance(down, nn.Linear) else None


class DynamicsRecorder:
    """Records the quantities of the module docstring for a model trained by ``optimizer``.

    Use it as a context manager around the steps (the hooks are removed on exit); after the loop has read
    the losses of some steps, :meth:`annotate` adds the dynamics of the same steps to their records.

    Args:
        model: A :class:`~llmkb.nn.GPT` (its ``blocks`` are hooked).
        optimizer: The optimizer whose ``step`` ends each training step.
        histogram_every: Record histograms at step 1 and every this many steps; ``0`` never.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, histogram_every: int = 0) -> None:
        self.model = model
        self.optimizer = optimizer
        self.histogram_every = histogram_every
        self.blocks: list[nn.Module] = list(model.blocks)  # type: ignore[attr-defined]
        self.n_layers = len(self.blocks)
        self._handles: list[RemovableHandle] = []
        self._done: list[dict[str, Any]] = []
        self._steps = 0
        self._params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._reset()

    # ------------------------------------------------------------------ hooks
    def __enter__(self) -> DynamicsRecorder:
        self.attach()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def attach(self) -> None:
        """Install the hooks."""
        h = self._handles
        h.append(self.blocks[0].register_forward_pre_hook(self._embedding_hook))
        for i, block in enumerate(self.blocks):
            h.append(block.register_forward_hook(self._block_hook(i)))
            down = _ffn_output_layer(block)
            if down is not None:
                h.append(down.register_forward_pre_hook(self._hidden_hook(i)))
        for name, p in self._params:
            h.append(p.register_post_accumulate_grad_hook(self._grad_hook(layer_of(name))))
        h.append(self.optimizer.register_step_pre_hook(self._before_step))
        h.append(self.optimizer.register_step_post_hook(self._after_step))

    def close(self) -> None:
        """Remove every hook (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _reset(self) -> None:
        L = self.n_layers
        self._grad_sq = torch.zeros(L + 1)  # blocks, then everything else
        self._resid: list[Tensor | None] = [None] * (L + 1)
        self._resid_hist: list[Tensor | None] = [None] * L
        self._ffn_hist: list[Tensor | None] = [None] * L
        self._before: list[Tensor] = []

    def _recording(self) -> bool:
        return self.model.training and torch.is_grad_enabled()

    def _histograms_now(self) -> bool:
        k = self.histogram_every
        step = self._steps + 1
        return k > 0 and (step == 1 or step % k == 0)

    def _embedding_hook(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if self._recording():
            self._resid[0] = args[0].detach().norm(dim=-1).mean().cpu()

    def _block_hook(self, i: int) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if not self._recording():
                return
            x = output[0] if isinstance(output, tuple) else output
            self._resid[i + 1] = x.detach().norm(dim=-1).mean().cpu()
            if self._histograms_now():
                self._resid_hist[i] = histogram(x).cpu()

        return hook

    def _hidden_hook(self, i: int) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            if self._recording() and self._histograms_now():
                self._ffn_hist[i] = histogram(args[0]).cpu()

        return hook

    def _grad_hook(self, layer: int | None) -> Any:
        slot = self.n_layers if layer is None else layer

        def hook(p: Tensor) -> None:
            if p.grad is not None:
                self._grad_sq[slot] += p.grad.detach().float().pow(2).sum().cpu()

        return hook

    def _before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._before = [p.detach().clone() for _, p in self._params]

    def _after_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        L = self.n_layers
        delta_sq, weight_sq = torch.zeros(L + 1), torch.zeros(L + 1)
        for (name, p), old in zip(self._params, self._before, strict=True):
            slot = layer_of(name)
            slot = L if slot is None else slot
            delta_sq[slot] += (p.detach() - old).float().pow(2).sum().cpu()
            weight_sq[slot] += old.float().pow(2).sum().cpu()
        ratios = (delta_sq / weight_sq.clamp_min(1e-30)).sqrt()
        record: dict[str, Any] = {
            "layer_grad_norms": self._grad_sq[:L].sqrt().tolist(),
            "update_ratio": float((delta_sq.sum() / weight_sq.sum().clamp_min(1e-30)).sqrt()),
            "layer_update_ratios": ratios[:L].tolist(),
            "resid_norms": [float(v) if v is not None else None for v in self._resid],
        }
        if self._histograms_now():
            record["resid_hist"] = [h.tolist() if h is not None else None for h in self._resid_hist]
            record["ffn_hist"] = [h.tolist() if h is not None else None for h in self._ffn_hist]
        self._done.append(record)
        self._steps += 1
        self._reset()

    # ------------------------------------------------------------------ reading
    def annotate(self, records: list[dict[str, Any]]) -> None:
        """Add the dynamics of the oldest recorded steps to ``records`` (one per record, in order).

        Raises:
            RuntimeError: Fewer steps were recorded than there are records.
        """
        if len(records) > len(self._done):
            raise RuntimeError(f"{len(records)} records but only {len(self._done)} recorded steps")
        for record in records:
            record.update(self._done.pop(0))


@torch.no_grad()
def probe_activations(model: nn.Module, x: Tensor) -> dict[str, list[Tensor]]:
    """Run ``model`` on ids ``x`` ``(B, T)`` and return what flows through each block.

    Returns:
        ``{"resid": [L + 1 tensors (B T, d)], "hidden": [L tensors (B T, f)]}``: the residual stream after
        the embedding and after each block, and each block's feed-forward hidden activation (the input of
        its last linear layer; empty if a block's FFN has none). The model is left in the mode it was in.
    """
    blocks: list[nn.Module] = list(model.blocks)  # type: ignore[attr-defined]
    resid: list[Tensor] = []
    hidden: list[Tensor] = []

    def flat(t: Tensor) -> Tensor:
        return t.detach().reshape(-1, t.shape[-1]).float().cpu()

    handles = [blocks[0].register_forward_pre_hook(lambda m, a: resid.append(flat(a[0])))]
    for block in blocks:
        handles.append(block.register_forward_hook(lambda m, a, out: resid.append(flat(out[0]))))
        down = _ffn_output_layer(block)
        if down is not None:
            handles.append(down.register_forward_pre_hook(lambda m, a: hidden.append(flat(a[0]))))
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return {"resid": resid, "hidden": hidden}
