"""Synthetic text generators, each seeded and streamed as records with provenance.

* :mod:`~llmkb.data.generate.grammar`: English-like sentences from a probabilistic context-free grammar;
* :mod:`~llmkb.data.generate.textbook`: "textbook" lessons on the synthetic tasks of :mod:`llmkb.data.synthetic`
  (copy, reverse, sort, associative recall), with worked examples in one fixed line format;
* :mod:`~llmkb.data.generate.code`: Python-like functions from templates;
* :mod:`~llmkb.data.generate.model`: continuations sampled from a trained model at chosen temperature / top-p;
* :mod:`~llmkb.data.generate.records`: the record format (``text`` plus ``generator``, ``seed``, ``params``,
  ``index``) and atomic streaming to JSONL or text.

A template generator is a function ``(rng: random.Random) -> str`` producing one document;
:func:`generate` turns it into a stream of ``n`` records, document ``i`` drawn from ``Random(f"{seed}:{i}")``
so that any document can be regenerated alone.
"""

from llmkb.data.generate.records import GENERATORS, generate, read_texts, write_records

__all__ = ["GENERATORS", "generate", "read_texts", "write_records"]
