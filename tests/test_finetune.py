"""Finetuning, instruction data, LoRA, the reward model, PPO and DPO (llmkb.train.{lora,finetune,reward,ppo,dpo},
llmkb.data.instruct), checked against hand-computed values and their formulas."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from llmkb.cli import main
from llmkb.data.instruct import (
    ASSISTANT_ID,
    END_ID,
    INSTRUCT_VOCAB,
    USER_ID,
    Example,
    apply_ops,
    collate,
    decode_response,
    encode,
    make_examples,
)
from llmkb.data.synthetic import IGNORE_INDEX
from llmkb.nn import GPT, GPTConfig
from llmkb.train.dpo import dpo_loss, response_logprob, train_dpo
from llmkb.train.finetune import exact_match_by_task, extend_vocab, finetune_lm, sft
from llmkb.train.lora import LoRA, adam_state_bytes, trainable_parameters
from llmkb.train.optim import AdamW
from llmkb.train.ppo import (
    PPOConfig,
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    kl_rewards,
    ppo_step,
    rollout,
)
from llmkb.train.reward import Pair, bt_loss, judge, make_pairs, reward_accuracy, train_reward_model
from llmkb.train.sequences import ScalarHead, token_logprobs


def tiny(vocab: int = INSTRUCT_VOCAB, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.preset("tiny", vocab_size=vocab, d_model=32, n_layers=1)).eval()


# ------------------------------------------------------------------------------------------ instruction data
def test_tasks_compute_the_right_outputs():
    assert apply_ops("copy", "372") == "372"
    assert apply_ops("reverse", "372") == "273"
    assert apply_ops("sort", "372") == "237"
    assert apply_ops("inc", "392") == "403"
    assert apply_ops("sort reverse", "372") == "732"  # left to right: a descending sort
    assert apply_ops("reverse inc", "109") == "012"
    assert apply_ops("add", "47+85") == "132"
    with pytest.raises(ValueError, match="unknown operation"):
        apply_ops("shuffle", "12")
    ex = make_examples(["add", "sort"], 4, seed=0)
    assert [e.task for e in ex] == ["add", "sort", "add", "sort"]
    assert all(apply_ops(e.task, e.input) == e.output for e in ex) and len(ex[1].input) == 3


def test_template_and_prompt_masking_remove_exactly_the_prompt():
    ex = Example("sort", "31", "13")
    ids, P = encode(ex)
    assert ids == [USER_ID, *b"sort: 31", ASSISTANT_ID, *b"13", END_ID] and P == 10
    long_ex = Example("reverse", "123", "321")
    seqs = [encode(ex), encode(long_ex)]
    x_all, y_all = collate(seqs, mask_prompt=False)
    x, y = collate(seqs, mask_prompt=True)
    assert torch.equal(x, x_all) and x.shape == (2, len(seqs[1][0]) - 1)
    for i, (s, p) in enumerate(seqs):
        n = len(s) - 1
        assert y_all[i, :n].tolist() == s[1:]  # unmasked: every real target
        assert (y_all[i, n:] == IGNORE_INDEX).all() and (x[i, n:] == END_ID).all()  # padding never scored
        assert (y[i, : p - 1] == IGNORE_INDEX).all()  # the P - 1 prompt targets are gone ...
        assert y[i, p - 1 : n].tolist() == s[p:]  # ... and exactly the response (and <end>) is left
    removed = (y_all != IGNORE_INDEX).sum() - (y != IGNORE_INDEX).sum()
    assert int(removed) == sum(p - 1 for _, p in seqs)


def test_decode_response():
    assert decode_response([*b"12", END_ID, *b"9"]) == ("12", True)
    assert decode_response([*b"12", ASSISTANT_ID]) == ("12", False)


# ------------------------------------------------------------------------------------------ LoRA
def test_lora_with_zero_b_is_the_base_model_and_merge_equals_the_adapter_path():
    model = tiny()
    idx = torch.randint(0, 256, (2, 9))
    base = model(idx).logits
    lora = LoRA(model, rank=2, alpha=4.0, targets=("q_proj", "v_proj", "up"), seed=1)
    assert lora.names == ["blocks.0.attn.q_proj", "blocks.0.attn.v_proj", "blocks.0.ffn.up"]
    with lora:
        assert torch.equal(model(idx).logits, base)  # B = 0: exactly the base model
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for b in lora.B.values():
            b.copy_(torch.randn(b.shape, generator=g) * 0.5)
    # the hook adds (alpha / r) x A^T B^T: check one layer against the formula
    q = model.blocks[0].attn.q_proj
    x = torch.randn(3, 32)
    with lora:
        hooked = q(x)
    want = (
        x @ q.weight.t()
        + 2.0 * x @ lora.A["blocks__0__attn__q_proj"].t() @ lora.B["blocks__0__attn__q_proj"].t()
    )
    assert torch.allclose(hooked, want, atol=1e-5)
    with lora:
        adapted = model(idx).logits
    assert not torch.allclose(adapted, base, atol=1e-3)
    assert torch.equal(model(idx).logits, base)  # detached: the base function again
    lora.merge()
    assert torch.allclose(model(idx).logits, adapted, atol=1e-5) and not lora.attached
    with pytest.raises(RuntimeError, match="already merged"):
        lora.merge()


def test_lora_counts_and_freezing():
    model = tiny()
    lora = LoRA(model, rank=4)  # the four attention projections, 32 -> 32
    assert trainable_parameters(lora.parameters()) == 4 * 4 * (32 + 32)
    total = trainable_parameters(model.parameters())
    assert lora.freeze_base() == total and trainable_parameters(model.parameters()) == 0
    assert adam_state_bytes(1000) == 8000
    with pytest.raises(ValueError, match="no nn.Linear"):
        LoRA(model, targets=("nope",))
    with pytest.raises(ValueError, match="rank"):
        LoRA(model, rank=0)


def test_lora_finetuning_trains_only_the_adapter():
    model = tiny(256)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lora = LoRA(model, rank=2)
    lora.freeze_base()
    ids = torch.tensor(list(b"def f(x):\n    return x\n" * 20))
    windows = ids[:33].reshape(1, 33)
    with lora:
        curve = finetune_lm(model, lora.parameters(), ids, {"new": windows}, 6, batch_size=4, seq_len=16,
                            lr=1e-2, eval_every=3)  # fmt: skip
    assert curve["step"] == [0, 3, 6] and curve["new"][-1] < curve["new"][0]
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_extend_vocab_keeps_the_old_logits():
    model = tiny(256)
    idx = torch.randint(0, 256, (1, 7))
    bigger = extend_vocab(model, INSTRUCT_VOCAB)
    assert bigger.config.vocab_size == INSTRUCT_VOCAB
    assert torch.allclose(bigger(idx).logits[..., :256], model(idx).logits, atol=1e-6)
    with pytest.raises(ValueError):
        extend_vocab(model, 100)


def test_sft_learns_a_task_and_exact_match_is_counted_per_task():
    model = tiny()
    examples = [Example("copy", "7", "7")]
    losses = sft(model, examples, 30, batch_size=4, lr=1e-2)
    assert losses[-1] < losses[0] / 4
    scores = exact_match_by_task(model, examples * 2 + [Example("sort", "21", "12")], max_new=3)
    assert scores == {"copy": 1.0, "sort": 0.0}


# ------------------------------------------------------------------------------------------ reward model
def test_judge_and_pairs():
    ex = Example("sort", "321", "123")
    ok = [*b"123", END_ID]
    assert judge(ex, ok) == 1.0
    assert judge(ex, [*b"124", END_ID]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert judge(ex, [*b"123"]) == pytest.approx(0.5)  # never ended: format lost
    assert judge(ex, [*b"12a", END_ID]) == pytest.approx(0.5 * 2 / 3)
    cands = [[[*b"9", END_ID], ok, [*b"12", END_ID]], [ok, ok]]
    pairs = make_pairs([ex, ex], cands)
    assert len(pairs) == 1 and pairs[0].chosen == ok and pairs[0].rejected == [*b"9", END_ID]
    flipped = make_pairs([ex] * 200, [cands[0]] * 200, noise=0.25, seed=0)
    share = sum(p.chosen != ok for p in flipped) / 200
    assert 0.15 < share < 0.35


def test_bradley_terry_loss_and_reward_training():
    rc, rr = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    want = -(math.log(1 / (1 + math.exp(-1))) + math.log(1 / (1 + math.exp(1)))) / 2
    assert float(bt_loss(rc, rr)) == pytest.approx(want)
    rm = ScalarHead(tiny())
    pairs = [Pair([USER_ID, 49, ASSISTANT_ID], [*b"7", END_ID], [*b"x", END_ID]) for _ in range(4)]
    assert reward_accuracy(rm, pairs) == 0.0  # zero head: ties are not wins
    losses = train_reward_model(rm, pairs, steps=15, batch_size=4, lr=1e-2)
    assert losses[-1] < losses[0] and reward_accuracy(rm, pairs) == 1.0


# ------------------------------------------------------------------------------------------ PPO
def test_gae_equals_a_hand_computed_example():
    r = torch.tensor([[0.0, 0.0, 1.0, 5.0]])
    v = torch.tensor([[9.0, 0.5, 0.2, 0.4]])
    mask = torch.tensor([[False, True, True, True]])
    adv, ret = gae(r, v, mask, gamma=0.9, lam=0.5)
    d3 = 5.0 - 0.4  # last step: no value after the episode
    d2 = 1.0 + 0.9 * 0.4 - 0.2
    d1 = 0.0 + 0.9 * 0.2 - 0.5
    a3, a2 = d3, d2 + 0.45 * d3
    a1 = d1 + 0.45 * a2
    assert adv.tolist()[0] == pytest.approx([0.0, a1, a2, a3])
    assert ret.tolist()[0] == pytest.approx([0.0, a1 + 0.5, a2 + 0.2, a3 + 0.4])


def test_kl_rewards_put_the_score_on_the_last_response_token():
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    logp, ref = torch.tensor([[-1.0, -1.0, -2.0, -3.0]]), torch.tensor([[-2.0, -1.5, -1.0, -1.0]])
    rewards, kl = kl_rewards(torch.tensor([3.0]), logp, ref, mask, beta=0.1)
    assert rewards.tolist()[0] == pytest.approx([0.0, -0.05, 0.1 + 3.0, 0.0])
    assert kl.tolist() == pytest.approx([0.5 - 1.0])


def test_clipped_losses_equal_their_formulas():
    logp = torch.tensor([[0.0, math.log(1.5), math.log(0.5), math.log(1.1)]])
    old = torch.zeros(1, 4)
    adv = torch.tensor([[1.0, 2.0, -1.0, -3.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    # ratios 1, 1.5, 0.5: min(rA, clip(r)A) = 1, min(3, 2.4) = 2.4, min(-0.5, -0.8) = -0.8
    assert float(clipped_policy_loss(logp, old, adv, mask, 0.2)) == pytest.approx(-(1.0 + 2.4 - 0.8) / 3)
    v, old_v, ret = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    # clipped V = 0.2 for the first: max(1, 0.04) = 1; second: max(1, 1) = 1
    assert float(clipped_value_loss(v, old_v, ret, torch.ones(1, 2), 0.2)) == pytest.approx(0.5)


def test_a_ppo_step_on_a_bandit_raises_the_expected_reward():
    torch.manual_seed(0)
    logits = torch.zeros(4, requires_grad=True)
    reward = torch.tensor([0.0, 1.0, 0.2, 0.5])

    def expected() -> float:
        return float(torch.softmax(logits.detach(), 0) @ reward)

    before = expected()
    with torch.no_grad():
        actions = torch.multinomial(torch.softmax(logits, 0), 64, replacement=True)
        old = F.log_softmax(logits, 0)[actions]
    adv = (reward[actions] - reward[actions].mean())[None]
    for _ in range(4):  # minibatch epochs on the same samples
        loss = clipped_policy_loss(F.log_softmax(logits, 0)[actions][None], old[None], adv, torch.ones(1, 64))
        (grad,) = torch.autograd.grad(loss, logits)
        with torch.no_grad():
            logits -= 0.5 * grad  # plain gradient descent
    assert expected() > before + 0.05


def test_ppo_rollout_and_step_on_a_tiny_model():
    policy, ref = ScalarHead(tiny()), tiny(seed=1)
    prompts = [[USER_ID, *b"copy: 1", ASSISTANT_ID]] * 4
    cfg = PPOConfig(max_new=3, epochs=1, minibatches=2)
    g = torch.Generator().manual_seed(0)
    ro = rollout(policy, ref, prompts, lambda p, r: torch.ones(len(r)), cfg, g)
    assert ro.ids.shape[0] == 4 and ro.mask.sum(1).tolist() == [len(r) for r in ro.responses]
    assert torch.allclose(ro.ref_logp, token_logprobs(ref(ro.ids).logits, ro.ids))
    assert ro.score.tolist() == [1.0] * 4 and ro.kl.abs().max() > 0  # different weights, nonzero KL
    stats = ppo_step(policy, AdamW(policy.parameters(), lr=1e-3), ro, cfg, g)
    assert set(stats) == {"policy_loss", "value_loss"} and all(math.isfinite(v) for v in stats.values())


# ------------------------------------------------------------------------------------------ DPO
def test_dpo_loss_equals_its_formula_and_the_implicit_reward_sign():
    pc, pr = torch.tensor([-1.0, -4.0]), torch.tensor([-3.0, -2.0])
    rc, rr = torch.tensor([-2.0, -3.0]), torch.tensor([-2.0, -2.0])
    loss, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta=0.5)
    z = 0.5 * torch.tensor([(-1 + 2) - (-3 + 2), (-4 + 3) - (-2 + 2)])
    assert float(loss) == pytest.approx(float(-F.logsigmoid(z).mean()))
    # the policy raised y_c's probability over the reference: positive implicit reward; lowered y_r: negative
    assert chosen.tolist() == pytest.approx([0.5, -0.5]) and rejected.tolist() == pytest.approx([-0.5, 0.0])


def test_dpo_training_raises_the_chosen_margin():
    policy, ref = tiny(), tiny()
    pairs = [Pair([USER_ID, *b"copy: 5", ASSISTANT_ID], [*b"5", END_ID], [*b"6", END_ID])] * 4
    prompts = [p.prompt for p in pairs]
    lp = response_logprob(policy, prompts, [p.chosen for p in pairs])
    manual = token_logprobs(policy(torch.tensor([[*pairs[0].prompt, *pairs[0].chosen]])).logits,
                            torch.tensor([[*pairs[0].prompt, *pairs[0].chosen]]))[0, -2:].sum()  # fmt: skip
    assert float(lp[0].detach()) == pytest.approx(float(manual.detach()), abs=1e-5)
    losses = train_dpo(policy, ref, pairs, steps=10, batch_size=4, lr=1e-2)
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4) and losses[-1] < losses[0]
    margin = response_logprob(policy, prompts, [p.chosen for p in pairs]) - response_logprob(
        policy, prompts, [p.rejected for p in pairs]
    )
    ref_margin = response_logprob(ref, prompts, [p.chosen for p in pairs]) - response_logprob(
        ref, prompts, [p.rejected for p in pairs]
    )
    assert bool((margin > ref_margin + 0.5).all())


# ------------------------------------------------------------------------------------------ CLI
def test_train_init_finetunes_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    tiny(256).save(tmp_path / "base")
    corpus = tmp_path / "code.txt"
    corpus.write_text("def f(x):\n    return x + 1\n" * 200, encoding="utf-8")
    args = ["train", "--init", str(tmp_path / "base"), "--corpus", str(corpus), "--out", str(tmp_path / "ft"),
            "--steps", "2", "--batch-size", "2", "--seq-len", "16", "--warmup-steps", "1", "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert GPT.load(tmp_path / "ft").config == GPT.load(tmp_path / "base").config
    assert "trained to step 2" in capsys.readouterr().out
    for bad, msg in ((["--init", str(tmp_path / "nothing")], "cannot load a model"),
                     (["--init", str(tmp_path / "base"), "--preset", "tiny"], "drop --resume and --preset")):  # fmt: skip
        assert main(["train", *bad, "--out", str(tmp_path / "x"), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1 and not (tmp_path / "x").exists()
