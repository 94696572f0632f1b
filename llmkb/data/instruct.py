"""Instruction data: (task prefix, input, output) examples, a chat template with special tokens, prompt masking.

Tasks act on short digit strings and are built from the synthetic tasks of :mod:`llmkb.data.synthetic`
(copy, reverse, sort draw their digits and answers there) plus ``inc`` (every digit ``+1`` mod 10) and
``add`` (two short numbers). A *composed* prefix applies its operations left to right: ``"sort reverse"``
is ``reverse(sort(x))``, i.e. a descending sort. Holding some compositions out of training asks whether a
model learned what each word of the prefix does (FLAN's question, Wei et al. 2022, arXiv:2109.01652).

The template (three ids appended to the 256 byte ids, :data:`INSTRUCT_VOCAB` = 259)::

    <user> prefix: input <assistant> output <end>

The prompt is everything up to and including ``<assistant>``. Training is next-token prediction on the
whole sequence, with the loss on the **response** (output and ``<end>``) only when ``mask_prompt`` is on:

    L = -1/|R| sum_{t in R} log p(w_{t+1} | w_{<=t}),   R = response positions (all positions when unmasked).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llmkb.data.synthetic import IGNORE_INDEX, ReverseTask, SortTask

__all__ = [
    "ASSISTANT_ID",
    "END_ID",
    "INSTRUCT_VOCAB",
    "USER_ID",
    "Example",
    "apply_ops",
    "collate",
    "decode_response",
    "encode",
    "make_examples",
    "prompt_ids",
]

#: ``<user>``: starts the user's turn.
USER_ID: int = 256
#: ``<assistant>``: ends the prompt; the response follows.
ASSISTANT_ID: int = 257
#: ``<end>``: ends the response (also the padding id).
END_ID: int = 258
#: Vocabulary of a byte model that knows the three chat tokens.
INSTRUCT_VOCAB: int = 259

_DIGITS = "0123456789"


def _through(task: type[ReverseTask] | type[SortTask]) -> Callable[[str], str]:
    """A string operation computed by a :mod:`llmkb.data.synthetic` task's answer rule on digit ids."""

    def op(s: str) -> str:
        ids = torch.tensor([[int(c) for c in s]])  # (1, n) digits as symbol ids
        return "".join(str(int(i)) for i in task(length=len(s))._answer(ids)[0])

    return op


OPS: dict[str, Callable[[str], str]] = {
    "copy": lambda s: s,
    "reverse": _through(ReverseTask),
    "sort": _through(SortTask),
    "inc": lambda s: "".join(_DIGITS[(int(c) + 1) % 10] for c in s),
}
"""The string operations a prefix may chain (``add`` stands alone: it reads ``a+b``)."""


@dataclass(frozen=True)
class Example:
    """One instruction example.

    Attributes:
        task: the task prefix, e.g. ``"reverse"`` or ``"sort reverse"``.
        input: the input text, e.g. ``"372"``.
        output: the correct response, e.g. ``"273"``.
    """

    task: str
    input: str
    output: str


def apply_ops(task: str, x: str) -> str:
    """The correct output of ``task`` on ``x``: ``add`` sums ``a+b``; otherwise each word's op, left to right.

    Raises:
        ValueError: an unknown operation.
    """
    if task == "add":
        a, b = x.split("+")
        return str(int(a) + int(b))
    for word in task.split():
        if word not in OPS:
            raise ValueError(f"unknown operation {word!r}; choose from add, {', '.join(OPS)}")
        x = OPS[word](x)
    return x


def make_examples(
    tasks: Sequence[str], n: int, seed: int, digits: int = 3, add_digits: int = 2
) -> list[Example]:
    """``n`` examples cycling through ``tasks``: inputs of ``digits`` digits, ``add`` of two ``add_digits``-digit
    numbers."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        if task == "add":
            lo, hi = 10 ** (add_digits - 1) if add_digits > 1 else 0, 10**add_digits
            x = f"{rng.randrange(lo, hi)}+{rng.randrange(lo, hi)}"
        else:
            x = "".join(rng.choice(_DIGITS) for _ in range(digits))
        out.append(Example(task, x, apply_ops(task, x)))
    return out


def prompt_ids(ex: Example) -> list[int]:
    """``<user> task: input <assistant>`` as ids."""
    return [USER_ID, *f"{ex.task}: {ex.input}".encode(), ASSISTANT_ID]


def encode(ex: Example, response: str | None = None) -> tuple[list[int], int]:
    """The full sequence ``prompt ++ response ++ <end>`` and the prompt length ``P``.

    Args:
        ex: the example.
        response: the response to write (default: the correct output).
    """
    p = prompt_ids(ex)
    return [*p, *(ex.output if response is None else response).encode(), END_ID], len(p)


def collate(seqs: Sequence[tuple[list[int], int]], mask_prompt: bool = True) -> tuple[Tensor, Tensor]:
    """Next-token batch ``(x, y)`` from ``(ids, prompt_len)`` pairs, right-padded with ``<end>``.

    ``y`` is ``-100`` on padding and, with ``mask_prompt``, on the ``P - 1`` targets that are prompt tokens
    (the first target that counts is the first response token, predicted from ``<assistant>``).

    Returns:
        ``x`` and ``y``, both ``(B, T)`` with ``T`` = the longest sequence minus one.
    """
    T = max(len(ids) for ids, _ in seqs) - 1
    x = torch.full((len(seqs), T), END_ID, dtype=torch.long)  # (B, T)
    y = torch.full((len(seqs), T), IGNORE_INDEX, dtype=torch.long)  # (B, T)
    for i, (ids, P) in enumerate(seqs):
        n = len(ids) - 1
        x[i, :n] = torch.tensor(ids[:-1])
        y[i, :n] = torch.tensor(ids[1:])
        if mask_prompt:
            y[i, : P - 1] = IGNORE_INDEX
    return x, y


def decode_response(ids: Sequence[int]) -> tuple[str, bool]:
    """The text of generated ids up to ``<end>`` and whether ``<end>`` was reached (other specials dropped)."""
    out = []
    for t in ids:
        if t == END_ID:
            return bytes(out).decode("utf-8", errors="replace"), True
        if t < 256:
            out.append(int(t))
    return bytes(out).decode("utf-8", errors="replace"), False
