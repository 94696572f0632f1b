"""The decoder-only transformer language model that every topic trains, ablates and measures.

``GPT(config)`` maps token ids ``(B, T)`` to a [`ModelOutput`][llmkb.nn.model.ModelOutput] holding next-token
logits ``(B, T, V)`` (and the loss, and attention weights, when asked for):

    x_0 = E[idx] (+ P[positions])               token (and absolute position) embedding
    x_l = Block_l(x_(l-1)),  l = 1..L           attention + feed-forward with residuals
    logits = Norm_f(x_L) W_U                     W_U = E^T when embeddings are tied

(Radford et al. 2018/2019, the GPT family; each component's paper is cited in its module.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.nn import functional as F

from llmkb.nn.block import TransformerBlock
from llmkb.nn.config import GPTConfig
from llmkb.nn.hooks import NO_HOOKS, Hooks
from llmkb.nn.kv_cache import BaseKVCache, ConcatKVCache, KVCache
from llmkb.nn.moe import MoE, MoEConfig, RouterStats, ffn_parameters
from llmkb.nn.norm import NORMS
from llmkb.nn.positional import NO_POSITION, POSITIONAL

if TYPE_CHECKING:
    from llmkb.infer.sampling import SamplingConfig

__all__ = ["GPT", "ModelOutput", "count_parameters", "WEIGHTS_NAME", "CONFIG_NAME"]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


def count_parameters(config: GPTConfig, exclude_embeddings: bool = False) -> int:
    """Closed-form number of parameters of ``GPT(config)`` (tied weights counted once, frozen ones included).

    With ``d = d_model``, ``L = n_layers``, ``V = vocab_size``, ``H = n_heads``, ``G = n_kv_heads``,
    ``h = head_dim = d / H``, ``f = ffn_dim``, ``b = 1`` if ``bias`` else ``0``:

    * attention per layer: ``W_q, W_o``: ``2 d (H h) = 2 d^2``; ``W_k, W_v``: ``2 d (G h)``;
      biases ``b (H h + 2 G h + d)``;
    * feed-forward per layer: MLP ``2 d f + b (f + d)``; gated (SwiGLU, GeGLU) ``3 d f + b (2 f + d)``; a
      mixture of ``E`` experts: ``E`` (plus one shared) expert networks and a router ``E d``;
    * each norm: RMSNorm ``d``; LayerNorm ``d + b d``; none ``0``; two per layer, plus a final one with
      pre-norm;
    * embeddings: ``V d`` tokens, ``+ max_seq_len d`` for learned positions, ``+ V d`` for an untied head.

    ``N = embeddings + L (attention + feed-forward + 2 norm) + [pre-norm] norm``, for the built-in entries of
    the registries (a newly registered class has whatever parameters it creates).
    For the classic ``G = H``, ``f = 4d`` MLP this is ``N ~ 12 L d^2`` non-embedding parameters
    (Kaplan et al. 2020, arXiv 2001.08361).

    Args:
        config: the configuration.
        exclude_embeddings: leave out every vocabulary- or position-indexed matrix (token embedding,
            learned positional table, untied LM head), i.e. Kaplan et al.'s non-embedding count.

    Returns:
        The parameter count; equals ``GPT(config).num_parameters(exclude_embeddings)``.
    """
    d, L, V = config.d_model, config.n_layers, config.vocab_size
    H, G, h, f, b = config.n_heads, config.kv_heads, config.head_dim, config.ffn_dim, int(config.bias)
    attention = 2 * d * (H * h) + 2 * d * (G * h) + b * (H * h + 2 * G * h + d)
    if config.activation == "moe":  # E experts (+ a shared one) and the router W_r: (E, d)
        moe = MoEConfig.from_dict(config.moe)
        ffn = (moe.n_experts + moe.shared_expert) * ffn_parameters(moe.expert, d, f, config.bias)
        ffn += moe.n_experts * d
    else:
        ffn = ffn_parameters(config.activation, d, f, config.bias)
    norm = 0 if config.norm == "none" else d + (b * d if config.norm == "layernorm" else 0)
    body = L * (attention + ffn + 2 * norm) + (norm if config.norm_position == "pre" else 0)
    if exclude_embeddings:
        return body
    embeddings = V * d + (config.max_seq_len * d if config.positional == "learned" else 0)
    head = 0 if config.tie_embeddings else V * d
    return embeddings + body + head


@dataclass
class ModelOutput:
    """What [`GPT.forward`][llmkb.nn.GPT.forward] returns, whatever it was asked for.

    Attributes:
        logits: next-token logits ``(B, T, V)``.
        loss: mean cross-entropy against ``targets`` (a scalar), or ``None`` without targets.
        attn: with ``return_attn``, one attention-weight tensor ``(B, H, T, S)`` per layer; else ``None``.
        aux_loss: with mixture-of-experts layers, the sum of their auxiliary losses (load balancing,
            router z-loss; with its graph), never folded into ``loss``, so held-out losses stay comparable
            with dense models; else ``None``. Training adds it to the loss it differentiates.
        router: with mixture-of-experts layers, one [`RouterStats`][llmkb.nn.moe.RouterStats] per MoE layer.
    """

    logits: Tensor
    loss: Tensor | None = None
    attn: list[Tensor] | None = None
    aux_loss: Tensor | None = None
    router: list[RouterStats] | None = None


class GPT(nn.Module):
    """Configurable decoder-only transformer language model.

    Ablations run under [`hooks`][llmkb.nn.GPT.hooks]; nothing of the model is reassigned.

    Positional kinds and long inputs (``T`` > ``max_seq_len``):

    * ``learned``: the table has ``max_seq_len`` rows; longer inputs raise ``ValueError``, and
      ``generate`` crops the context to the last ``max_seq_len`` tokens (and stops using the cache then).
    * ``sinusoidal``: token embeddings are scaled by ``sqrt(d_model)`` before adding the encoding, as in
      Vaswani et al. 2017 (the encoding has unit amplitude, the embeddings are initialized at 0.02);
      positions past ``max_seq_len`` are computed on the fly.
    * ``rope``, ``alibi``, ``none``: nothing is position-limited; longer inputs run (extrapolation, with
      whatever quality the model has there), and ``generate`` keeps the whole context and the cache.

    Args:
        config: the configuration.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.tok_emb = nn.Embedding(config.vocab_size, d)
        self.pos_emb = POSITIONAL[config.positional].from_config(config)  # learned: the key pos_emb.weight
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config, i) for i in range(config.n_layers))
        self._hooks: Hooks = NO_HOOKS  # plain state, never in the state dict; see `hooks`
        if config.norm_position == "pre":
            self.norm_f: nn.Module = NORMS[config.norm](d, eps=config.norm_eps, bias=config.bias)
        else:
            self.norm_f = nn.Identity()  # post-norm blocks already end with a norm
        self.lm_head = nn.Linear(d, config.vocab_size, bias=False)
        self._init_weights()
        if config.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight

    def _init_weights(self) -> None:
        """GPT-2 initialization: N(0, 0.02) everywhere, residual output projections N(0, 0.02/sqrt(2L)).

        With sinusoidal positions the token embedding is multiplied by ``sqrt(d)`` (Vaswani et al. 2017), so
        it is drawn from N(0, 1/d) instead: scaled, tokens then enter at unit size, like the encoding's
        channels, rather than being dwarfed by it.
        """
        resid_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        scale = self.pos_emb.token_scale
        emb_std = 0.02 if scale == 1.0 else 1.0 / scale
        with torch.no_grad():
            for name, module in self.named_modules():
                if isinstance(module, nn.Linear):
                    std = resid_std if name.endswith(("attn.o_proj", ".down")) else 0.02
                    nn.init.normal_(module.weight, std=std)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)
                elif isinstance(module, nn.Embedding):
                    nn.init.normal_(module.weight, std=emb_std if module is self.tok_emb else 0.02)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        *,
        kv_cache: BaseKVCache | None = None,
        pos_offset: int | None = None,
        return_attn: bool = False,
        attn_mask: Tensor | None = None,
    ) -> ModelOutput:
        """Compute next-token logits (and optionally the loss and attention weights).

        Args:
            idx: token ids ``(B, T)``.
            targets: ``(B, T)`` next-token ids; ``-100`` entries are ignored by the loss.
            kv_cache: a [`KVCache`][llmkb.nn.KVCache] / [`ConcatKVCache`][llmkb.nn.ConcatKVCache]; this call's
                keys/values are appended and the cached past is attended to.
            pos_offset: absolute position of ``idx[:, 0]``; defaults to ``kv_cache.length`` (or 0).
            return_attn: also return per-layer attention weights (computed with the naive kernel).
            attn_mask: bool ``(T, T)`` or ``(B, 1, T, T)``, True = may attend, replacing the causal mask:
                bidirectional (MLM) or prefix-LM attention from :mod:`llmkb.data.objectives`. ``None``
                (default): causal, exactly as without the argument.

        Returns:
            A [`ModelOutput`][llmkb.nn.model.ModelOutput]: ``logits`` always, ``loss`` with ``targets``,
            ``attn`` (``n_layers`` tensors ``(B, H, T, S)``) with ``return_attn``.
        """
        if idx.dim() != 2:
            raise ValueError(f"idx must be (B, T) token ids, got shape {tuple(idx.shape)}")
        B, T = idx.shape
        if kv_cache is not None:
            if pos_offset is None:
                pos_offset = kv_cache.length
            elif pos_offset != kv_cache.length:
                raise ValueError(f"pos_offset={pos_offset} disagrees with kv_cache.length={kv_cache.length}")
        offset = 0 if pos_offset is None else int(pos_offset)
        if offset < 0:
            raise ValueError(f"pos_offset must be >= 0, got {offset}")
        hooks = self._hooks
        positional = self.pos_emb if hooks.positional else NO_POSITION
        x = self.tok_emb(idx)  # (B, T, d)
        if self.pos_emb.token_scale != 1.0:
            x = x * self.pos_emb.token_scale  # kept when positions are hooked off
        x = self.drop(positional.add_to_embeddings(x, offset))  # (B, T, d)
        kw = {"pos_offset": offset, "positional": positional, "kv_cache": kv_cache, "hooks": hooks}
        if attn_mask is not None:
            kw["attn_mask"] = attn_mask
        attn: list[Tensor] = []
        for block in self.blocks:
            x, weights = block(x, return_weights=return_attn, **kw)
            if weights is not None:
                attn.append(weights)
        if kv_cache is not None:
            kv_cache.advance(T)
        logits = self.lm_head(self.norm_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T), ignore_index=-100)
        moes = [b.ffn for b in self.blocks if isinstance(b.ffn, MoE)]
        if not moes:
            return ModelOutput(logits, loss, attn if return_attn else None)
        aux = torch.stack([m.aux_loss for m in moes]).sum()  # type: ignore[misc]
        return ModelOutput(logits, loss, attn if return_attn else None, aux, [m.stats for m in moes])  # type: ignore[misc]

    @contextlib.contextmanager
    def hooks(self, **hooks: Any) -> Iterator[GPT]:
        """Run the model under ablation hooks for the ``with`` block; the previous hooks are always restored.

        Args:
            **hooks: fields of [`Hooks`][llmkb.nn.hooks.Hooks] (``qkv``, ``heads``, ``residual``,
                ``positional``); fields not given keep their current value, so blocks nest.

        Yields:
            The model itself. Hooks are not parameters: nothing is copied, nothing is saved.

        Example:
            ``with model.hooks(positional=False): logits = model(idx).logits``
        """
        known = [f.name for f in dataclasses.fields(Hooks)]
        if set(hooks) - set(known):
            raise ValueError(
                f"unknown hook(s) {sorted(set(hooks) - set(known))}; choose from {', '.join(known)}"
            )
        previous = self._hooks
        self._hooks = dataclasses.replace(previous, **hooks)
        try:
            yield self
        finally:
            self._hooks = previous

    # ------------------------------------------------------------------ parameters
    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Number of parameters (shared tensors counted once).

        Equals [`count_parameters`][llmkb.nn.count_parameters]`(config, exclude_embeddings)`.
        """
        total = sum(p.numel() for p in self.parameters())
        if exclude_embeddings:
            total -= self.tok_emb.weight.numel()
            total -= sum(p.numel() for p in self.pos_emb.parameters())  # a learned position table
            if not self.config.tie_embeddings:
                total -= self.lm_head.weight.numel()
        return total

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``directory/model.safetensors`` and ``directory/config.json`` atomically.

        A new directory is assembled under a temporary name and renamed into place; in an existing
        directory each file is written to a temporary name and renamed (weights first, then config).
        A tied LM head is stored once (as ``tok_emb.weight``).

        Returns:
            The directory path.
        """
        target = Path(directory)
        tied = self.config.tie_embeddings
        state = {
            k: v.detach().to("cpu").contiguous()
            for k, v in self.state_dict().items()
            if not (tied and k == "lm_head.weight")
        }
        config_text = json.dumps(self.config.to_dict(), indent=2, sort_keys=True) + "\n"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
            try:
                save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
                (tmp / CONFIG_NAME).write_text(config_text)
                os.replace(tmp, target)
                return target
            except OSError:
                if not target.exists():
                    raise
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        for name, write in (
            (WEIGHTS_NAME, lambda p: save_file(state, str(p), metadata={"format": "pt"})),
            (CONFIG_NAME, lambda p: p.write_text(config_text)),
        ):
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=target)
            os.close(fd)
            try:
                write(Path(tmp_name))
                os.replace(tmp_name, target / name)
            finally:
                if os.path.exists(tmp_name):
                    os.remove(tmp_name)
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> GPT:
        """Load a model written by [`save`][llmkb.nn.GPT.save].

        Args:
            directory: the directory holding ``model.safetensors`` and ``config.json``.
            map_location: device for the weights.

        Raises:
            FileNotFoundError: a file is missing.
        """
        root = Path(directory)
        for name in (WEIGHTS_NAME, CONFIG_NAME):
            if not (root / name).is_file():
                raise FileNotFoundError(f"{root / name} not found; expected a directory written by GPT.save")
        config = GPTConfig.from_dict(json.loads((root / CONFIG_NAME).read_text()))
        model = cls(config)
        state = load_file(str(root / WEIGHTS_NAME), device=str(map_location))
        if config.tie_embeddings:
            state["lm_head.weight"] = state["tok_emb.weight"]
        model.load_state_dict(state, strict=True)
        return model.to(map_location)

    # ------------------------------------------------------------------ generation
    def make_cache(self, batch_size: int, max_len: int, cache_impl: str = "static") -> BaseKVCache:
        """A KV cache matching this model's dtype and device.

        ``static`` gives a [`KVCache`][llmkb.nn.KVCache] of ``max_len`` positions, ``concat`` a
        [`ConcatKVCache`][llmkb.nn.ConcatKVCache].
        """
        p = self.tok_emb.weight
        if cache_impl == "static":
            return KVCache(self.config, batch_size, max_len, dtype=p.dtype, device=p.device)
        if cache_impl == "concat":
            return ConcatKVCache(self.config)
        raise ValueError(f"cache_impl must be static|concat, got {cache_impl!r}")

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        sampling: SamplingConfig | None = None,
        *,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        cache_impl: str = "static",
    ) -> Tensor:
        """Autoregressively extend ``idx`` by ``max_new_tokens`` tokens.

        Each step samples with [`llmkb.infer.sampling.sample_next`][llmkb.infer.sampling.sample_next] from the last
        position's logits. With ``use_cache`` the prompt is processed once and each later step feeds one
        token against the KV cache; without it every step re-runs the whole context. Both give the same
        tokens. The model is put in eval mode for the call and restored after.

        Context longer than ``max_seq_len``: learned positions crop to the last ``max_seq_len`` tokens (and
        the cache is dropped from then on, since positions shift); every other positional kind keeps the
        full context. A sliding-window config evicts old cache entries.

        Args:
            idx: prompt ``(B, T)``, ``T >= 1``.
            max_new_tokens: number of tokens to append (>= 0).
            sampling: a [`SamplingConfig`][llmkb.infer.sampling.SamplingConfig] (validated once); ``None`` is
                ``SamplingConfig()``, plain sampling at temperature 1; greedy is
                ``SamplingConfig(temperature=0)``.
            use_cache: decode with a KV cache.
            generator: passed to ``sample_next`` (seeded sampling).
            cache_impl: ``static`` ([`KVCache`][llmkb.nn.KVCache]) or ``concat``
                ([`ConcatKVCache`][llmkb.nn.ConcatKVCache]).

        Returns:
            ``(B, T + max_new_tokens)`` token ids.
        """
        from llmkb.infer.sampling import SamplingConfig, sample_next

        if idx.dim() != 2 or idx.shape[1] < 1:
            raise ValueError(f"idx must be a (B, T) prompt with T >= 1, got shape {tuple(idx.shape)}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
        if cache_impl not in ("static", "concat"):
            raise ValueError(f"cache_impl must be static|concat, got {cache_impl!r}")
        if sampling is None:
            sampling = SamplingConfig()
        elif not isinstance(sampling, SamplingConfig):
            raise ValueError(f"sampling must be a SamplingConfig, got {type(sampling).__name__}")
        limit = self.pos_emb.context_limit
        out = idx
        if max_new_tokens == 0:
            return out
        was_training = self.training
        self.eval()
        try:
            context = out if limit is None else out[:, -limit:]
            cache: BaseKVCache | None = None
            if use_cache:
                need = context.shape[1] + max_new_tokens - 1
                cache = self.make_cache(out.shape[0], need if limit is None else min(need, limit), cache_impl)
            logits = self(context, kv_cache=cache).logits
            for step in range(max_new_tokens):
                nxt = sample_next(logits[:, -1, :], sampling, history=out, generator=generator)  # (B,)
                out = torch.cat((out, nxt[:, None].to(out.dtype)), dim=1)
                if step == max_new_tokens - 1:
                    break
                if cache is not None and (limit is None or cache.length < limit):
                    logits = self(out[:, -1:], kv_cache=cache).logits
                else:
                    cache = None  # learned positions past the window: recompute on the cropped context
                    logits = self(out if limit is None else out[:, -limit:]).logits
        finally:
            self.train(was_training)
        return out
