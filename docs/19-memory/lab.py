# %% [markdown]
# # Lab: memory for a context-limited reader
#
# This lab runs the two cached experiments of the lab package `llmkb.lab.topics.memory`:
#
# * `memory/budget` feeds generated long conversations to the memory manager under six policies (none,
#   truncation, extractive summary, recall search, archival retrieval, Mem0-style facts) at a ladder of context
#   budgets and scores the deterministic reader's answers to the closing questions;
# * `memory/retrieval` ranks the whole history with BM25 over messages and over sentences, and with MiniLM
#   sentence embeddings over sentences (full profile), and asks where the statement of the latest value lands.
#
# Results are cached: re-running costs nothing unless the code or config changed. The page shows the `full`
# profile; run it yourself with `llmkb lab run memory --profile full`. To change the seeds, budgets or
# conversation length, edit the `profiles` in `llmkb/lab/topics/memory/experiments.py`.

# %%
from llmkb import lab
from llmkb.data.conversations import generate
from llmkb.lab.kit import show_table
from llmkb.lab.notebook import show_figure
from llmkb.lab.topics.memory.names import BUDGET, RETRIEVAL
from llmkb.memory import MemoryManager, answer

# %% [markdown]
# ## One conversation, one question, three policies
# The context each policy builds for the first closing question at a budget of 60 words (this cell counts
# words; the experiments count BPE tokens).

# %%
conv = generate(0, n_turns=200)
question = conv.questions[0]
print(question.text, "→", question.answer, "| earlier values:", question.old_values)
for policy in ("truncation", "archival", "facts"):
    m = MemoryManager(policy, 60, lambda s: len(s.split()))
    for msg in conv.messages:
        m.observe(msg.turn, msg.role, msg.text)
    ctx = m.context(question.text)
    print(f"\n[{policy}] {ctx.tokens} words, reader says {answer(ctx.reading(), question.attribute)!r}")
    print(ctx.reading())

# %% [markdown]
# ## Accuracy and cost by budget

# %%
budget = lab.run(BUDGET)
print(f"profile {budget.profile}: {budget['questions']} questions, {budget['seeds']} seeds")
show_table(budget["table"])
show_table(budget["cost"])
show_table(budget["changes"])
print(budget["reach"])
print(budget["lead_focus"])
show_figure(budget, "accuracy")
show_figure(budget, "cost")

# %% [markdown]
# ## Retrieval of the latest statement

# %%
retrieval = lab.run(RETRIEVAL)
show_table(retrieval["latest"])
show_table(retrieval["stale"])
print(retrieval["dense_phrase"])
print("largest difference from rank_bm25:", retrieval["max_diff"])
show_figure(retrieval, "recall")
