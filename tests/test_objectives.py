"""Pretraining objectives: masks as specified, MLM corruption rates, no label leaks, losses only where documented,
the model's mask switch (default unchanged), and decoding / iterative mask filling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmkb.data.objectives import (
    CORRUPTION,
    MASK_ID,
    OBJECTIVE_VOCAB,
    ObjectiveData,
    bidirectional_mask,
    clm_batch,
    make_batch,
    mlm_batch,
    prefix_lm_batch,
    prefix_lm_mask,
)
from llmkb.infer.mask_fill import decode, fill_masks, mlm_left_to_right
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig, causal_mask, scaled_dot_product
from llmkb.nn.kv_cache import KVCache
from llmkb.train import train
from llmkb.train.config import TrainConfig
from llmkb.train.loop import train_step
from llmkb.train.objectives import eval_objective, train_objective


def _model(**overrides: object) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny", vocab_size=OBJECTIVE_VOCAB, **overrides)).eval()


def _tokens(B: int, T: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (B, T), generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------------------------- masks
@pytest.mark.parametrize("P", [0, 1, 3, 6])
def test_prefix_mask_is_the_definition(P: int) -> None:
    T = 6
    m = prefix_lm_mask(T, P)
    assert m.shape == (1, 1, T, T) and m.dtype == torch.bool
    for i in range(T):
        for j in range(T):
            if i < P:  # a prefix token sees the whole prefix and nothing after it
                want = j < P
            else:  # a continuation token sees the prefix and its own past
                want = j < P or j <= i
            assert bool(m[0, 0, i, j]) == want, (P, i, j)
    if P <= 1:
        assert torch.equal(m[0, 0], causal_mask(T))
    if P == T:
        assert torch.equal(m[0, 0], bidirectional_mask(T))


def test_prefix_mask_per_row_and_range_checked() -> None:
    m = prefix_lm_mask(5, torch.tensor([2, 4]))
    assert m.shape == (2, 1, 5, 5)
    assert torch.equal(m[1, 0], prefix_lm_mask(5, 4)[0, 0])
    with pytest.raises(ValueError, match="within 0..5"):
        prefix_lm_mask(5, 6)


def test_prefix_mask_in_naive_attention_equals_sdpa_with_the_boolean_mask() -> None:
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, 7, 8, generator=g) for _ in range(3))
    mask = prefix_lm_mask(7, torch.tensor([3, 5]))  # (B, 1, T, T)
    out, w = scaled_dot_product(q, k, v, mask=mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    assert torch.all(w[~mask.expand_as(w)] == 0)


# ------------------------------------------------------------------------------------- the mask switch
def test_default_forward_is_unchanged_and_an_explicit_causal_mask_agrees() -> None:
    model, idx = _model(), _tokens(2, 16)
    base = model(idx).logits
    assert torch.equal(base, model(idx, attn_mask=None).logits)
    torch.testing.assert_close(model(idx, attn_mask=causal_mask(16)).logits, base, atol=1e-5, rtol=0)


@pytest.mark.parametrize("positional", ["alibi", "rope", "learned"])
def test_mask_switch_same_in_every_full_kernel(positional: str) -> None:
    idx = _tokens(2, 12)
    mask = prefix_lm_mask(12, torch.tensor([4, 9]))
    naive = _model(attention="naive", positional=positional)(idx, attn_mask=mask).logits
    sdpa = _model(attention="sdpa", positional=positional)(idx, attn_mask=mask).logits
    torch.testing.assert_close(naive, sdpa, atol=1e-5, rtol=0)
    weights = _model(positional=positional)(idx, attn_mask=mask, return_attn=True).attn
    assert weights is not None and torch.all(weights[0][~mask.expand_as(weights[0])] == 0)


def test_prefix_model_reads_the_prefix_both_ways_and_the_rest_causally() -> None:
    model, idx, P = _model(), _tokens(1, 12), 5
    mask = prefix_lm_mask(12, P)
    base = model(idx, attn_mask=mask).logits
    later = idx.clone()
    later[0, 8] = (later[0, 8] + 1) % 256  # a continuation token: positions before it cannot see it
    out = model(later, attn_mask=mask).logits
    assert torch.equal(out[0, :8], base[0, :8]) and not torch.equal(out[0, 8:], base[0, 8:])
    inside = idx.clone()
    inside[0, 3] = (inside[0, 3] + 1) % 256  # a prefix token: every position sees it, earlier ones too
    assert not torch.allclose(model(inside, attn_mask=mask).logits[0, 0], base[0, 0])


def test_mask_switch_refuses_what_it_cannot_do() -> None:
    idx = _tokens(1, 8)
    with pytest.raises(ValueError, match="attn_mask needs"):
        _model(attention="chunked")(idx, attn_mask=bidirectional_mask(8))
    model = _model()
    with pytest.raises(ValueError, match="attn_mask needs"):
        model(idx, attn_mask=bidirectional_mask(8), kv_cache=KVCache(model.config, 1, 16))
    with pytest.raises(ValueError, match="attn_mask needs"):
        _model(sliding_window=4)(idx, attn_mask=bidirectional_mask(8))


# ---------------------------------------------------------------------------------------------- MLM
def test_mlm_rates_and_80_10_10_split_within_statistical_bounds() -> None:
    g = torch.Generator().manual_seed(0)
    counts = dict.fromkeys(CORRUPTION, 0)
    n = 0
    for s in range(100):
        tokens = _tokens(16, 64, seed=s)
        b = mlm_batch(tokens, g)
        n += tokens.numel()
        for name, code in CORRUPTION.items():
            counts[name] += int((b.corruption == code).sum())
        sel = b.corruption != 0
        assert torch.equal(
            b.x[b.corruption == CORRUPTION["mask"]], torch.full_like(b.x[b.corruption == 1], MASK_ID)
        )
        assert torch.equal(
            b.x[b.corruption == CORRUPTION["kept"]], tokens[b.corruption == CORRUPTION["kept"]]
        )
        assert torch.equal(b.x[~sel], tokens[~sel])
        assert int(b.x[b.corruption == CORRUPTION["random"]].max()) < 256
        assert torch.equal(b.attn_mask, bidirectional_mask(64))
    selected = n - counts["none"]

    def within(k: int, total: int, p: float) -> bool:  # 5 standard deviations of a binomial
        return abs(k - total * p) <= 5 * math.sqrt(total * p * (1 - p))

    assert within(selected, n, 0.15)
    assert within(counts["mask"], selected, 0.8)
    assert within(counts["random"], selected, 0.1)
    assert within(counts["kept"], selected, 0.1)


def test_mlm_rate_is_a_parameter() -> None:
    b = mlm_batch(_tokens(64, 64), torch.Generator().manual_seed(0), rate=0.5)
    assert 0.45 < float((b.corruption != 0).float().mean()) < 0.55


def test_no_label_leak_perturbing_a_replaced_token_never_changes_the_input() -> None:
    tokens = _tokens(8, 64)
    b = mlm_batch(tokens, torch.Generator().manual_seed(3))
    hidden = (b.corruption == CORRUPTION["mask"]) | (b.corruption == CORRUPTION["random"])
    assert int(hidden.sum()) > 0
    for delta in (1, 17, 128):
        perturbed = torch.where(hidden, (tokens + delta) % 256, tokens)
        b2 = mlm_batch(perturbed, torch.Generator().manual_seed(3))
        assert torch.equal(b2.x, b.x)  # the model's input is blind to the true token there
        assert torch.equal(b2.y[hidden], perturbed[hidden])  # while the label follows it


def test_mlm_loss_only_on_selected_positions() -> None:
    model, tokens = _model(), _tokens(4, 32)
    b = mlm_batch(tokens, torch.Generator().manual_seed(0))
    sel = b.corruption != 0
    assert torch.equal(b.y != -100, sel) and torch.equal(b.y[sel], tokens[sel])
    out = model(b.x, b.y, attn_mask=b.attn_mask)
    manual = F.cross_entropy(out.logits[sel], tokens[sel])
    torch.testing.assert_close(out.loss, manual)
    assert b.predicted == int(sel.sum()) and b.seen == tokens.numel()


# ---------------------------------------------------------------------------------- CLM and prefix LM
def test_clm_batch_predicts_every_next_token() -> None:
    w = _tokens(3, 9)
    b = clm_batch(w)
    assert torch.equal(b.x, w[:, :-1]) and torch.equal(b.y, w[:, 1:]) and b.attn_mask is None
    assert b.predicted == b.seen == 24


def test_prefix_batch_loss_only_on_the_continuation() -> None:
    w = _tokens(2, 11)
    b = prefix_lm_batch(w, prefix_len=torch.tensor([1, 4]))
    assert torch.equal(b.x, w[:, :-1])
    for row, P in enumerate((1, 4)):
        for t in range(10):
            # y_t = w_{t+1}; scored iff the target is a continuation token (index >= P)
            assert int(b.y[row, t]) == (int(w[row, t + 1]) if t + 1 >= P else -100), (row, t)
    assert torch.equal(b.attn_mask, prefix_lm_mask(10, torch.tensor([1, 4])))


def test_prefix_batch_scored_logits_never_see_their_target() -> None:
    model, w = _model(), _tokens(2, 17)
    b = prefix_lm_batch(w, torch.Generator().manual_seed(0))
    base = model(b.x, attn_mask=b.attn_mask).logits
    for t in range(16):
        scored = b.y[:, t] != -100
        changed = b.x.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % 256  # the target w_{t+1} and everything after
        out = model(changed, attn_mask=b.attn_mask).logits
        assert torch.equal(out[scored, t], base[scored, t]), t


def test_random_prefix_lengths_cover_the_range() -> None:
    b = prefix_lm_batch(_tokens(400, 9), torch.Generator().manual_seed(0))
    P = (b.y == -100).sum(dim=1) + 1
    assert set(P.tolist()) == set(range(1, 8))
    with pytest.raises(ValueError, match="unknown objective"):
        make_batch("span", _tokens(1, 9))


# ---------------------------------------------------------------------------------- decoding, training
def test_causal_decode_equals_greedy_generate_and_prefix_decode_runs() -> None:
    model, prompt = _model(), _tokens(2, 5)
    want = model.generate(prompt, 6, SamplingConfig(temperature=0))
    assert torch.equal(decode(model, prompt, 6), want)
    out = decode(model, prompt, 6, mode="prefix")
    assert out.shape == (2, 11) and torch.equal(out[:, :5], prompt) and int(out.max()) < 256


def test_fill_masks_fills_the_most_confident_first() -> None:
    model = _model()
    ids = _tokens(2, 10)
    ids[0, [2, 5, 7]] = MASK_ID
    ids[1, [4]] = MASK_ID
    probs = torch.softmax(model(ids, attn_mask=bidirectional_mask(10)).logits[..., :256], dim=-1)
    first = int(probs[0, [2, 5, 7]].max(dim=-1).values.argmax())
    filled, order = fill_masks(model, ids, MASK_ID)
    assert int((filled == MASK_ID).sum()) == 0 and int(filled.max()) < 256
    assert len(order) == 3 and int(order[0][0]) == [2, 5, 7][first]
    assert [int(o[1]) for o in order] == [4, -1, -1]
    assert sorted(int(o[0]) for o in order) == [2, 5, 7]
    keep = ids != MASK_ID
    assert torch.equal(filled[keep], ids[keep])
    assert mlm_left_to_right(model, ids[:, :3], 4, MASK_ID).shape == (2, 7)


# ----------------------------------------------------------------------------------- objective data
def _streams() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    prose = torch.tensor(list(b"the cat sat on the mat. " * 20))
    tasks = torch.tensor(list(b"copy abc=abc\nrev abc=cba\n" * 20))
    return prose, tasks, torch.tensor(list(b"a dog ran to the log. " * 10))


def test_objective_data_gives_every_objective_the_same_windows() -> None:
    prose, tasks, val = _streams()
    seen = {}
    for objective in ("clm", "mlm", "prefix"):
        data = ObjectiveData(objective, [prose, tasks], val, 16, weights=[0.5, 0.5])
        g = torch.Generator().manual_seed(7)
        batches = [data.train_batch(4, g) for _ in range(3)]
        # the true tokens behind each batch: CLM's input, MLM's labels where it corrupted, the prefix LM's input
        seen[objective] = [b.x if objective != "mlm" else torch.where(b.y != -100, b.y, b.x) for b in batches]
        if objective == "mlm":
            kept = [b.corruption == 0 for b in batches]
    for i in range(3):
        assert torch.equal(seen["clm"][i], seen["prefix"][i])
        assert torch.equal(seen["clm"][i][kept[i]], seen["mlm"][i][kept[i]])
        corrupted = ~kept[i]
        assert torch.equal(seen["clm"][i][corrupted], seen["mlm"][i][corrupted])


def test_objective_data_mixes_streams_by_weight() -> None:
    prose, tasks, val = _streams()
    data = ObjectiveData("clm", [prose, tasks], val, 8, weights=[1, 3])
    g = torch.Generator().manual_seed(0)
    rows = torch.cat([data.train_batch(50, g).x for _ in range(8)])  # (400, 8)
    from_tasks = (
        (rows == ord("=")).any(dim=1) | (rows == ord("\n")).any(dim=1) | (rows == ord("y")).any(dim=1)
    )
    share = float(from_tasks.float().mean())  # every 8-byte task window holds "=", "y" or a newline
    assert abs(share - 0.75) <= 5 * math.sqrt(0.75 * 0.25 / 400)
    only_prose = ObjectiveData("clm", [prose, tasks], val, 8, weights=[1, 0])
    assert not bool((only_prose.train_batch(64, g).x == ord("=")).any())
    assert data.vocab_size == int(max(prose.max(), tasks.max(), val.max())) + 1
    assert ObjectiveData("mlm", [prose], val, 8).vocab_size == MASK_ID + 1
    with pytest.raises(ValueError, match="one non-negative weight per stream"):
        ObjectiveData("clm", [prose, tasks], val, 8, weights=[1.0])
    with pytest.raises(ValueError, match="unknown objective"):
        ObjectiveData("span", [prose], val, 8)
    with pytest.raises(ValueError, match="seq_len"):
        ObjectiveData("clm", [prose[:9]], val, 8)


def test_train_step_passes_the_mask_to_the_model() -> None:
    b = mlm_batch(_tokens(2, 12), torch.Generator().manual_seed(0))
    grads = []
    for mask in (b.attn_mask, None):
        model = _model().train()
        params = list(model.parameters())
        opt = torch.optim.SGD(params, lr=0.0)
        loss, _ = train_step(model, opt, params, b.x, b.y, lr=0.0, grad_clip=0.0, attn_mask=mask)
        with torch.no_grad():
            expected = _model()(b.x, b.y, attn_mask=mask).loss
        assert float(loss) == pytest.approx(float(expected), abs=1e-6)
        grads.append(loss)
    assert float(grads[0]) != pytest.approx(float(grads[1]), abs=1e-4)  # bidirectional is not causal


@pytest.mark.parametrize("objective", ["clm", "mlm", "prefix"])
def test_train_objective_is_the_main_trainer_and_counts_tokens(objective: str) -> None:
    ids = torch.tensor(list(b"abcabcabd" * 60))
    cfg = TrainConfig(
        steps=12, batch_size=4, seq_len=16, lr=1e-2, warmup_steps=2, eval_every=6, eval_batches=2
    )
    data = ObjectiveData(objective, [ids[:400]], ids[400:], 16)
    model = _model()
    curve = train_objective(model, data, cfg)
    assert curve.step == [0, 6, 12] and curve.seen == [0, 384, 768]
    if objective == "clm":
        assert curve.predicted == curve.seen
    else:
        assert 0 < curve.predicted[1] < curve.predicted[2] < curve.seen[-1]
    assert curve.val_loss[-1] < curve.val_loss[0]
    # the trainer's own evaluation used the objective's mask and batches: re-scoring the model agrees
    assert curve.val_loss[-1] == pytest.approx(eval_objective(model, data, cfg), abs=1e-5)
    # and the same run through llmkb.train.train directly is the same run, step for step
    again = train(_model(), cfg, data, progress=False)
    assert again.final_val_loss == pytest.approx(curve.val_loss[-1], abs=1e-6)
    assert sum(r["predicted"] for r in again.history) == curve.predicted[-1]


def test_objective_training_resumes_bit_for_bit(tmp_path) -> None:
    ids = torch.tensor(list(b"abcabcabd" * 60))
    cfg = TrainConfig(
        steps=6, batch_size=4, seq_len=16, lr=1e-2, warmup_steps=2, eval_every=3, eval_batches=1
    )
    data = ObjectiveData("mlm", [ids[:400]], ids[400:], 16)
    whole = train(_model(), cfg, data, progress=False)
    stop_at_3 = train(
        _model(), cfg, data, out_dir=tmp_path / "run", progress=False, callback=lambda r, m: r["step"] == 3
    )
    assert stop_at_3.stopped_early and stop_at_3.step == 3
    resumed = train(_model(), cfg, data, out_dir=tmp_path / "run", resume=True, progress=False)
    for a, b in zip(whole.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [r["predicted"] for r in resumed.history] == [r["predicted"] for r in whole.history]
