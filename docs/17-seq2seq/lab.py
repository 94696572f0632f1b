# %% [markdown]
# # Lab: encoder-decoder, decoder-only and the fixed-vector bottleneck
#
# This lab runs the two cached experiments of the lab package `llmkb.lab.topics.seq2seq`:
#
# * `seq2seq/tasks` trains a transformer encoder-decoder and a decoder-only GPT (reading `source <bos> target`)
#   on five generated tasks and scores their greedy outputs exactly; beam search against greedy on translation;
# * `seq2seq/bottleneck` trains a GRU with one fixed context vector, a GRU with Bahdanau attention and the
#   transformer on translations of one to four clauses, over several seeds, and measures accuracy by length.
#
# Results are cached: re-running costs nothing unless the code or config changed. The page shows the `full`
# profile; run it yourself with `llmkb lab run seq2seq --profile full`. To change the sizes, steps or seeds,
# edit the `profiles` in `llmkb/lab/topics/seq2seq/experiments_*.py`.

# %%
import random

import torch

from llmkb import lab
from llmkb.data.seq2seq_tasks import BOS, EOS, TASKS, Vocab, encode_pairs
from llmkb.infer.beam import beam_search, greedy_decode
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.seq2seq.names import BOTTLENECK, TASKS_EXP
from llmkb.nn.rnn import GRUSeq2Seq

# %% [markdown]
# ## One example of each task

# %%
rng = random.Random(0)
for name, make in TASKS.items():
    ex = make(rng)
    print(f"{name:>9}: {' '.join(ex.source)}\n{'':>9}  → {' '.join(ex.target)}")

# %% [markdown]
# ## Greedy and beam search on an untrained model
# Beam size 1 is greedy decoding; the outputs are random words until the model is trained.

# %%
examples = [TASKS["translate"](rng) for _ in range(3)]
vocab = Vocab.build(examples)
src, mask, _, _ = encode_pairs(examples, vocab)
torch.manual_seed(0)
gru = GRUSeq2Seq(len(vocab), 16, 16, attention=True).eval()
greedy = greedy_decode(gru, src, mask, bos=BOS, eos=EOS, max_len=6)
print(greedy == beam_search(gru, src, mask, bos=BOS, eos=EOS, max_len=6, beam_size=1))
print(
    [" ".join(vocab.decode(o)) for o in beam_search(gru, src, mask, bos=BOS, eos=EOS, max_len=6, beam_size=3)]
)

# %% [markdown]
# ## Five tasks, two transformers

# %%
tasks = lab.run(TASKS_EXP)
print(f"profile {tasks.profile}: {tasks['steps']} steps, {tasks['n_train']} training examples per task")
show_table(tasks["table"])
print(tasks["verdict"])
print(tasks["beam_phrase"])
print(tasks["samples_text"])

# %% [markdown]
# ## The bottleneck: accuracy by source length

# %%
bottleneck = lab.run(BOTTLENECK)
show_table(bottleneck["table"])
print(bottleneck["verdict"])
show_figure(bottleneck, "length")
show_figure(bottleneck, "alignment")
