"""From text to training batches: encode, split into train/validation, sample random windows.

Language-model batches are windows of ``seq_len + 1`` consecutive tokens cut at random offsets: the
first ``seq_len`` are the input ``x`` and the last ``seq_len`` the targets ``y`` (the same window shifted by
one), so position ``t`` is trained to predict token ``t + 1`` from tokens ``0..t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from llmkb.data.corpus import load_corpus
from llmkb.data.tokenizer import ByteTokenizer, Tokenizer, get_tokenizer
from llmkb.errors import UsageError

__all__ = ["TokenDataset", "encode_corpus", "get_batch", "split_tokens"]


def encode_corpus(text: str, tokenizer: Tokenizer | None = None) -> torch.Tensor:
    """Encode ``text`` into a 1-D ``torch.long`` tensor of token ids.

    Args:
        text: The corpus.
        tokenizer: Any :class:`~llmkb.data.tokenizer.Tokenizer`; the byte tokenizer when ``None``.

    Returns:
        Token ids, shape ``(N,)``.
    """
    if tokenizer is None or isinstance(tokenizer, ByteTokenizer):
        raw = bytearray(text.encode("utf-8"))
        if not raw:
            return torch.zeros(0, dtype=torch.long)
        return torch.frombuffer(raw, dtype=torch.uint8).long()  # (N,)
    return torch.tensor(tokenizer.encode(text), dtype=torch.long)  # (N,)


def split_tokens(ids: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split token ids into a training part and a held-out validation tail.

    The split is contiguous (the last ``val_fraction`` of the ids is validation), so no validation window
    overlaps a training window except across the single cut point.

    Args:
        ids: Token ids, shape ``(N,)``.
        val_fraction: Fraction of ids held out, in ``[0, 1)``. ``0`` gives an empty validation part.

    Returns:
        ``(train_ids, val_ids)``, shapes ``(N - n_val,)`` and ``(n_val,)``.

    Raises:
        ValueError: ``val_fraction`` is outside ``[0, 1)`` or ``ids`` is not 1-D.
    """
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(round(len(ids) * val_fraction))
    return ids[: len(ids) - n_val], ids[len(ids) - n_val :]


def get_batch(
    ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``batch_size`` random windows from ``ids``.

    Deterministic given the state of ``generator`` (which it advances by one ``randint`` call).

    Args:
        ids: Token ids, shape ``(N,)`` with ``N > seq_len``.
        batch_size: Number of windows ``B``.
        seq_len: Window length ``T``.
        generator: Source of the random offsets.

    Returns:
        ``(x, y)``, both ``(B, T)`` long tensors with ``y[:, t] == x[:, t + 1]`` for ``t < T - 1``.

    Raises:
        ValueError: ``ids`` is too short for one window.
    """
    if len(ids) <= seq_len:
        raise ValueError(f"need more than seq_len={seq_len} tokens to cut a window, got {len(ids)}")
    starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)  # (B,)
    offsets = torch.arange(seq_len + 1)  # (T+1,)
    windows = ids[starts[:, None] + offsets[None, :]]  # (B, T+1)
    return windows[:, :-1].contiguous(), windows[:, 1:].contiguous()


@dataclass
class TokenDataset:
    """A tokenized corpus split into training and validation ids.

    Attributes:
        train: Training ids, shape ``(N_train,)``.
        val: Validation ids, shape ``(N_val,)``.
        vocab_size: Size of the tokenizer's vocabulary.
        tokenizer: The tokenizer that produced the ids.
    """

    train: torch.Tensor
    val: torch.Tensor
    vocab_size: int
    tokenizer: Tokenizer

    @classmethod
    def from_text(
        cls, text: str, tokenizer: Tokenizer | None = None, val_fraction: float = 0.1
    ) -> TokenDataset:
        """Encode ``text`` and split it (see :func:`encode_corpus`, :func:`split_tokens`)."""
        tok = tokenizer if tokenizer is not None else ByteTokenizer()
        train, val = split_tokens(encode_corpus(text, tok), val_fraction)
        return cls(train=train, val=val, vocab_size=tok.vocab_size, tokenizer=tok)

    @classmethod
    def from_corpus(
        cls,
        corpus: str | Path = "pydoc",
        tokenizer: str | Path | Tokenizer = "byte",
        val_fraction: float = 0.1,
    ) -> TokenDataset:
        """Load a corpus by name or path (see :func:`~llmkb.data.corpus.load_corpus`) and tokenize it.

        Raises:
            UsageError: The corpus or tokenizer cannot be loaded.
        """
        tok = tokenizer if not isinstance(tokenizer, str | Path) else get_tokenizer(tokenizer)
        return cls.from_text(load_corpus(corpus), tok, val_fraction)

    def batch(
        self, split: str, batch_size: int, seq_len: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample a batch from ``split`` (``"train"`` or ``"val"``); see :func:`get_batch`."""
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        return get_batch(self.train if split == "train" else self.val, batch_size, seq_len, generator)

    def check_seq_len(self, seq_len: int) -> None:
        """Raise :class:`UsageError` unless the training split (and a non-empty validation split) holds
        more than ``seq_len`` tokens."""
        for name, part in (("training", self.train), ("validation", self.val)):
            if len(part) <= seq_len and (name == "training" or len(part) > 0):
                raise UsageError(
                    f"the {name} split has {len(part)} tokens, too few for seq_len={seq_len}: "
                    "use a bigger corpus or a shorter --seq-len"
                )
