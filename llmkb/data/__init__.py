"""Data for training: corpora that need no download, tokenizers, batching and synthetic tasks.

* :mod:`llmkb.data.corpus`: :func:`load_corpus` (``"pydoc"``, ``"stdlib"`` or a path).
* :mod:`llmkb.data.tokenizer`: :class:`ByteTokenizer` (the default) and :func:`get_tokenizer`.
* :mod:`llmkb.data.batching`: :func:`encode_corpus`, :func:`split_tokens`, :func:`get_batch`,
  :class:`TokenDataset`.
* :mod:`llmkb.data.synthetic`: copy / reverse / sort / associative-recall tasks with a known best loss.
* :mod:`llmkb.data.objectives`: batches and attention masks of CLM, MLM and prefix LM (``[MASK]`` = 256).
"""

from llmkb.data.batching import TokenDataset, encode_corpus, get_batch, split_tokens
from llmkb.data.corpus import BUILTIN_CORPORA, STDLIB_MAX_CHARS, load_corpus
from llmkb.data.synthetic import (
    IGNORE_INDEX,
    TASKS,
    AssociativeRecallTask,
    CopyTask,
    ReverseTask,
    SortTask,
    SyntheticTask,
    get_task,
)
from llmkb.data.tokenizer import ByteTokenizer, Tokenizer, get_tokenizer

__all__ = [
    "BUILTIN_CORPORA",
    "IGNORE_INDEX",
    "STDLIB_MAX_CHARS",
    "TASKS",
    "AssociativeRecallTask",
    "ByteTokenizer",
    "CopyTask",
    "ReverseTask",
    "SortTask",
    "SyntheticTask",
    "TokenDataset",
    "Tokenizer",
    "encode_corpus",
    "get_batch",
    "get_task",
    "get_tokenizer",
    "load_corpus",
    "split_tokens",
]
