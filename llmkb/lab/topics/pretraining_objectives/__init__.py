"""Pretraining-objectives lab: masked, causal and prefix language modeling on one backbone.

* ``pretraining-objectives/train`` trains the same tiny Llama-style model as a CLM, an MLM (BERT's 15 %,
  80/10/10) and a prefix LM on prose plus task text, with the same batches, steps and compute, over several
  seeds: held-out loss by tokens seen and by tokens predicted, on prose and on code.
* ``pretraining-objectives/samples`` scores every model on free generation (NLL under the shared model,
  distinct-2), a middle-span cloze and four conditional tasks (copy, reverse, sort, addition; inputs held out
  of training), also off their own job (an MLM generating left to right, a CLM filling a middle, a prefix LM
  with an empty prefix), and records attention maps of the three masks and of the trained heads.
"""

from . import experiments_samples, experiments_train, figures  # noqa: F401
