"""Tokenization lab: a byte-level BPE trained at build time, measured, and shown in the browser.

The page's tokenizer (:class:`llmkb.tokenize.BPETokenizer`, GPT-4 split pattern, one special token) is trained
on CPython's pydoc topics; the lab measures what it does to numbers, spaces and scripts, how compression grows
with the vocabulary, and how the shared model's learned byte embeddings differ from one-hot vectors.

* ``tokenization/bpe`` trains, saves (``tokenizer/`` in the result directory) and exports the tokenizer for the
  live JavaScript widget (:func:`llmkb.tokenize.export_vocab_json`), renders a sample with
  :func:`llmkb.tokenize.render_html`, and measures the failure cases: numbers, leading spaces, and the same
  sentence in several scripts.
* ``tokenization/walkthrough`` cuts code and prose with the GPT-4 split pattern and replays training merge by
  merge on a toy corpus with the naive trainer (:func:`llmkb.tokenize.naive.train_naive`), checking that the
  fast trainer learns the same merges.
* ``tokenization/vocab-sweep`` measures compression (UTF-8 bytes per token) and fertility (tokens per word)
  against vocabulary size on held-out prose and code, for tokenizers trained on each, and the relative gain
  of each doubling of the merges. Training is greedy, so the first ``k`` merges of one tokenizer are the
  tokenizer of size ``256 + k`` (:func:`~llmkb.lab.topics.tokenization.analysis.truncated`).
* ``tokenization/embeddings`` compares one-hot vectors (orthogonal, every cosine 0) with the byte embeddings
  of the shared model: cosine heatmaps, group statistics, case pairs, nearest neighbours and a 2-D PCA.
"""

from . import experiments, experiments_embeddings, figures  # noqa: F401
