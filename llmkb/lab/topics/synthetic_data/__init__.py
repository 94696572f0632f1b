"""Synthetic-data lab: make text with templates and a model, clean it, deduplicate it, and train on it.

* ``synthetic-data/generate`` samples every generator (grammar, textbook lessons, code templates, the shared
  model at several temperatures and top-p) and sets their statistics (length, vocabulary, n-gram entropy) beside
  the real corpus, then records what each Gopher rule removes from every source.
* ``synthetic-data/dedup`` measures LSH candidate rates against the S-curve 1 - (1 - s^r)^b, finds planted exact
  and near duplicates in a real + synthetic corpus (precision and recall against the planted truth and against
  datasketch), and times signatures + LSH with their memory against corpus size.
* ``synthetic-data/mixtures`` trains one small model on 0, 25, 50, 75 and 100 % synthetic text at equal tokens
  over several seeds, and scores it on held-out real text and on fresh task examples.
* ``synthetic-data/collapse`` trains each generation on samples of the previous one (model collapse): held-out
  real loss and the share of the real corpus's rare tokens in the samples, generation by generation.
"""

from . import experiments_data, experiments_train, figures  # noqa: F401
