"""Self-consistency (llmkb.infer.self_consistency): the vote, its tie rule, and sampling chains from a model."""

from __future__ import annotations

import pytest
import torch

from llmkb.data.instruct import INSTRUCT_VOCAB
from llmkb.infer.sampling import SamplingConfig
from llmkb.infer.self_consistency import Votes, majority_vote, self_consistency
from llmkb.nn import GPT, GPTConfig


def test_majority_vote_counts_answers():
    assert majority_vote(["3", "5", "5"]) == "5"
    assert majority_vote(["5", "3", "3", "9", "3"]) == "3"


def test_ties_go_to_the_earliest_seen_answer():
    assert majority_vote(["7", "9", "9", "7"]) == "7"  # 2 votes each: "7" was seen first
    assert majority_vote(["9", "7", "7", "9"]) == "9"
    assert majority_vote(["4", "8", "6"]) == "4"


def test_unparseable_answers_never_vote():
    assert majority_vote([None, None, "2"]) == "2"  # two unparseable chains do not outvote one answer
    assert majority_vote([None, "1", None, "2", "2"]) == "2"
    assert majority_vote([None, None]) is None and majority_vote([]) is None


def test_votes_use_the_first_n_chains():
    v = Votes([["1", "2", "2"], [None, "4", "4"]], [[3, 4, 5], [1, 2, 3]])
    assert v.vote(1) == ["1", None] and v.vote() == ["2", "4"]


def _model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny", vocab_size=INSTRUCT_VOCAB, d_model=32, n_layers=1)).eval()


def test_self_consistency_samples_n_chains_per_question_and_counts_tokens():
    model = _model()
    prompts = [[256, 97, 257], [256, 98, 99, 257]]
    seen: list[list[int]] = []

    def parse(ids: list[int]) -> str | None:
        seen.append(ids)
        return str(ids[0] % 2) if ids else None

    v = self_consistency(model, prompts, 5, parse, max_new=4, end_id=258, sampling=SamplingConfig(temperature=1.0),
                         generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert len(v.answers) == 2 and all(len(a) == 5 for a in v.answers)
    assert [len(c) for c in seen] == [t for ts in v.tokens for t in ts]
    assert len(set(map(tuple, seen[:5]))) > 1  # sampled, not five copies of one chain
    g = self_consistency(
        model, prompts, 3, parse, max_new=4, end_id=258, sampling=SamplingConfig(temperature=0.0)
    )
    assert all(len(set(a)) == 1 for a in g.answers)  # temperature 0: every chain is the greedy one
    with pytest.raises(ValueError, match="n .chains per question. must be >= 1"):
        self_consistency(model, prompts, 0, parse, max_new=4, end_id=258, sampling=SamplingConfig())
