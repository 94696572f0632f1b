"""Seq2seq lab: encoder-decoder vs decoder-only on five generated tasks, and the fixed-vector bottleneck.

* ``seq2seq/tasks`` trains a transformer encoder-decoder and a decoder-only GPT reading ``source BOS target``
  on the same examples of each task (classification, translation, summarization, extractive QA, entity
  tagging) and scores their greedy outputs exactly (accuracy, exact match, token F1, BLEU/chrF, entity F1);
  beam search against greedy on translation; sample outputs.
* ``seq2seq/bottleneck`` trains a GRU encoder-decoder with one fixed context vector, the same with Bahdanau
  attention and the transformer encoder-decoder on translations of 1 to 4 clauses, over several seeds, and
  measures accuracy by source length; it records the two attention models' alignment maps on one sentence.
"""

from . import experiments_bottleneck, experiments_tasks, figures  # noqa: F401
