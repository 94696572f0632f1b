"""Byte-level BPE tokenization: training, exact encoding, interchange with tiktoken / Hugging Face, display.

* :class:`BPETokenizer`: ``BPETokenizer.train(corpus, vocab_size, pattern="gpt4")`` (a classmethod that
  returns a new tokenizer), ``encode`` / ``decode``, ``encode_iterable`` (a file in chunks, see
  :mod:`llmkb.tokenize.stream`), ``save`` / ``load``.
* :mod:`llmkb.tokenize.naive`: the same training and encoding written as plainly as possible, the reference
  the fast trainer (:mod:`llmkb.tokenize.trainer`) is tested against.
* :mod:`llmkb.tokenize.patterns`: the GPT-2 and GPT-4 split patterns and their JavaScript equivalents.
* :mod:`llmkb.tokenize.formats`: ``tokenizer.json`` for Hugging Face ``tokenizers``, ``.tiktoken`` rank
  files, :func:`to_tiktoken`, :func:`export_vocab_json` for a browser encoder.
* :mod:`llmkb.tokenize.visualize`: :func:`render_html`, :func:`render_ansi`.

* :mod:`llmkb.tokenize.byte`: :class:`ByteTokenizer` (ids = bytes, the default) and the
  :class:`Tokenizer` protocol both implement.
"""

from llmkb.tokenize.bpe import BPETokenizer
from llmkb.tokenize.byte import ByteTokenizer, Tokenizer
from llmkb.tokenize.formats import export_vocab_json, to_hf_tokenizer, to_tiktoken
from llmkb.tokenize.patterns import GPT2_PATTERN, GPT4_PATTERN, PATTERNS, js_pattern
from llmkb.tokenize.visualize import render_ansi, render_html

__all__ = [
    "GPT2_PATTERN",
    "GPT4_PATTERN",
    "PATTERNS",
    "BPETokenizer",
    "ByteTokenizer",
    "Tokenizer",
    "export_vocab_json",
    "js_pattern",
    "render_ansi",
    "render_html",
    "to_hf_tokenizer",
    "to_tiktoken",
]
