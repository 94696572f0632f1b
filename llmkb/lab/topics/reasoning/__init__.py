"""Reasoning lab: direct answers vs a scratchpad, self-consistency, and GRPO with a verifier as reward.

* ``reasoning/direct-vs-cot`` trains the same small GPT, for the same steps, to answer sums of 1 to 3 digits
  directly or after a digit-by-digit scratchpad, over several seeds, and measures greedy accuracy per number of
  digits, one size beyond training included.
* ``reasoning/self-consistency`` samples many answers per question from both models and measures the accuracy
  of the majority vote against the number of chains and the tokens they cost.
* ``reasoning/grpo`` trains the scratchpad model further with GRPO (group-relative advantages, no value
  network), rewarded 1 for a right final answer, and records reward, held-out accuracy and response length.
"""

from . import experiments_formats, experiments_grpo, experiments_vote, figures  # noqa: F401
