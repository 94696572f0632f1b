"""Sampling lab: what temperature, top-k and top-p do to the shared model's text.

Two experiments read the shared model; every sampled byte is drawn the way ``GPT.generate`` draws it (a
test checks the tokens are the same), from the distribution
[`filtered_probs`][llmkb.infer.sampling.filtered_probs] computes for a
[`SamplingConfig`][llmkb.infer.sampling.SamplingConfig]:

* ``sampling/grid`` decodes a few prompts under every setting of a (temperature, top-k, top-p) grid,
  several samples each, and measures the entropy of the distribution every byte was drawn from, the
  diversity of the text (distinct-1/2 on words, self-similarity on character 4-grams) and its quality (the
  share of its words that are words of the training corpus). Its ``dashboard`` part (the prompts' next-byte
  logits plus the sampled continuations) feeds the page's interactive widget.
* ``sampling/greedy`` decodes long greedy (temperature 0) continuations, finds where they fall into a
  loop, and measures repetition as a function of temperature.
"""

from . import experiments, figures  # noqa: F401
