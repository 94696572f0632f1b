"""The split patterns of GPT-2 and GPT-4 as strings (shared by :mod:`~llmkb.tokenize.patterns` and its fast
translation :mod:`~llmkb.tokenize._fastsplit`)."""

from __future__ import annotations

#: GPT-2's split pattern (tiktoken's ``r50k_base`` spelling of it).
GPT2_PATTERN: str = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""

#: GPT-4's split pattern (tiktoken's ``cl100k_base``).
GPT4_PATTERN: str = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s"""
)
