"""Finetuning lab: from a pretrained model to an instruction-following one, then RLHF.

* ``finetuning/domain`` finetunes the shared model on Python source, fully and with LoRA at several ranks:
  loss on the new domain (code) and the old one (prose) by step, trainable parameters and optimizer memory.
* ``finetuning/sft`` adds chat tokens and instruction-tunes on digit tasks with and without prompt-loss
  masking: exact match per task before and after, and on compositions held out of training.
* ``finetuning/reward`` samples responses from the SFT model, pairs them by a programmatic judge (with label
  noise) and trains a Bradley–Terry reward model: held-out pair accuracy.
* ``finetuning/ppo`` runs PPO against the reward model for several KL coefficients: reward, true score, KL
  and length by step — where the reward model and the judge part.
* ``finetuning/dpo`` trains DPO on the same pairs and scores it with the same judge.
"""

from . import experiments_domain, experiments_ppo, experiments_reward, experiments_sft, figures  # noqa: F401
