"""The mixture-of-experts layer: routing, dispatch, capacity, auxiliary losses, and its plumbing through
``GPTConfig``, ``GPT`` and the trainer; Mixtral-style routing against ``transformers``."""

from __future__ import annotations

import copy

import pytest
import torch

from llmkb.nn import GPT, GPTConfig, count_parameters
from llmkb.nn.ffn import FFNS, SwiGLU
from llmkb.nn.moe import MoE, MoEConfig, balance_loss, route, router_record, z_loss
from llmkb.train.loop import train_step


def _moe(d: int = 16, f: int = 24, **settings: object) -> MoE:
    torch.manual_seed(0)
    layer = MoE(d, f, settings=MoEConfig(**settings))  # type: ignore[arg-type]
    return layer.eval()


def test_identical_experts_equal_the_dense_ffn() -> None:
    for k in (1, 2):
        layer = _moe(n_experts=4, top_k=k, routing="mixtral")
        dense = layer.experts[0]
        for expert in layer.experts[1:]:
            expert.load_state_dict(dense.state_dict())
        x = torch.randn(2, 5, 16)
        torch.testing.assert_close(layer(x), dense(x))


def test_all_experts_chosen_is_the_probability_weighted_sum() -> None:
    for routing in ("mixtral", "switch"):
        layer = _moe(n_experts=3, top_k=3, routing=routing)
        x = torch.randn(2, 5, 16)
        probs = torch.softmax(
            layer.router(x), dim=-1
        )  # (B, T, E); renormalising k = E probabilities is a no-op
        want = sum(probs[..., e : e + 1] * layer.experts[e](x) for e in range(3))
        torch.testing.assert_close(layer(x), want)
        torch.testing.assert_close(layer.dense_simulation(x), want)


def test_dispatch_equals_the_dense_simulation() -> None:
    layer = _moe(n_experts=8, top_k=2, routing="switch", shared_expert=True)
    x = torch.randn(3, 7, 16)
    torch.testing.assert_close(layer(x), layer.dense_simulation(x))


def test_mixtral_routing_equals_transformers_sparse_moe_block() -> None:
    from transformers import MixtralConfig
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock

    d, f, E = 16, 24, 4
    layer = _moe(d, f, n_experts=E, top_k=2, routing="mixtral", expert="swiglu")
    hf = MixtralSparseMoeBlock(
        MixtralConfig(hidden_size=d, intermediate_size=f, num_local_experts=E, num_experts_per_tok=2)
    ).eval()
    with torch.no_grad():
        hf.gate.weight.copy_(layer.router.weight)
        for e, expert in enumerate(layer.experts):
            assert isinstance(expert, SwiGLU)
            hf.experts.gate_up_proj[e].copy_(torch.cat([expert.gate.weight, expert.up.weight]))
            hf.experts.down_proj[e].copy_(expert.down.weight)
    x = torch.randn(2, 9, d)
    out = hf(x)
    out = out[0] if isinstance(out, tuple) else out
    torch.testing.assert_close(layer(x), out)


def test_balancing_loss_is_alpha_at_uniform_routing_and_grows_with_imbalance() -> None:
    E, N, alpha = 4, 12, 0.01
    uniform = torch.full((N, E), 1.0 / E)
    spread = torch.arange(N).remainder(E)[:, None]  # token i -> expert i mod E
    assert balance_loss(uniform, spread, alpha).item() == pytest.approx(alpha)
    spread2 = torch.cat([spread, (spread + 1) % E], dim=1)  # top-2, still uniform over the N k assignments
    assert balance_loss(uniform, spread2, alpha).item() == pytest.approx(alpha)
    losses = []
    for skew in (0.0, 1.0, 2.0, 4.0):
        probs = torch.softmax(torch.tensor([skew, 0.0, 0.0, 0.0]).expand(N, E), dim=-1)
        chosen = torch.where(torch.arange(N)[:, None] < N * (1 + skew) / 5, 0, spread)  # more tokens on 0
        losses.append(balance_loss(probs, chosen, alpha).item())
    assert losses[0] == pytest.approx(alpha)
    assert all(a < b for a, b in zip(losses, losses[1:], strict=False)), losses
    everything_on_one = balance_loss(torch.eye(E)[[0] * N], torch.zeros(N, 1, dtype=torch.long), alpha)
    assert everything_on_one.item() == pytest.approx(alpha * E)


def test_z_loss_is_the_mean_squared_logsumexp() -> None:
    logits = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    want = (torch.log(torch.tensor(2.0)) ** 2 + torch.logsumexp(logits[1], 0) ** 2) / 2
    assert z_loss(logits, 0.5).item() == pytest.approx(0.5 * want.item())


def _steered(k: int, capacity_factor: float) -> MoE:
    """Two experts on ``d = 4``; the router prefers expert 0 when ``x[0] > x[1]`` (sharply)."""
    layer = _moe(4, 8, n_experts=2, top_k=k, routing="mixtral", capacity_factor=capacity_factor)
    with torch.no_grad():
        layer.router.weight.copy_(torch.tensor([[3.0, 0, 0, 0], [0, 3.0, 0, 0]]))
    return layer


def _tokens(first: list[int]) -> torch.Tensor:
    torch.manual_seed(1)
    x = torch.randn(1, len(first), 4) * 0.1
    for i, e in enumerate(first):
        x[0, i, e] += 1.0
    return x


def test_capacity_drops_the_assignments_past_capacity_in_token_order() -> None:
    layer = _steered(k=1, capacity_factor=0.5)  # C = ceil(0.5 * 8 * 1 / 2) = 2
    x = _tokens([0] * 8)  # every token wants expert 0
    y = layer(x)[0]
    gate1 = layer.experts[0](x[0, :2])  # k = 1 with mixtral weights: gate 1
    torch.testing.assert_close(y[:2], gate1)
    assert torch.count_nonzero(y[2:]) == 0  # tokens 2..7 dropped: the residual carries them
    assert layer.stats is not None and layer.stats.dropped == pytest.approx(6 / 8)
    assert layer.stats.load.tolist() == [1.0, 0.0]


def test_capacity_serves_first_choices_before_second_choices() -> None:
    layer = _steered(k=2, capacity_factor=0.5)  # C = ceil(0.5 * 8 * 2 / 2) = 4 per expert
    first = [0, 0, 0, 0, 1, 1, 1, 1]
    x = _tokens(first)
    y = layer(x)[0]
    probs, experts, gates = route(layer.router(x[0]), 2, "mixtral")
    assert experts[:, 0].tolist() == first
    want = torch.stack([gates[i, 0] * layer.experts[e](x[0, i]) for i, e in enumerate(first)])
    torch.testing.assert_close(y, want)  # every second choice dropped, every first choice served
    assert layer.stats is not None and layer.stats.dropped == pytest.approx(0.5)
    unlimited = _steered(k=2, capacity_factor=1.0)  # C = 8: nothing dropped
    unlimited(x)
    assert unlimited.stats is not None and unlimited.stats.dropped == 0.0


@pytest.mark.parametrize(("routing", "k"), [("mixtral", 2), ("switch", 1), ("switch", 2)])
def test_router_gets_gradient_from_the_language_model_loss(routing: str, k: int) -> None:
    layer = _moe(n_experts=4, top_k=k, routing=routing, balance_alpha=0.0).train()
    layer(torch.randn(2, 6, 16)).square().sum().backward()
    grad = layer.router.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert layer.aux_loss is not None and layer.aux_loss.item() == 0.0


def test_aux_loss_reaches_the_router_through_train_step_but_not_the_reported_loss() -> None:
    def step(alpha: float) -> tuple[GPT, float]:
        torch.manual_seed(0)
        cfg = GPTConfig.preset("tiny", activation="moe", moe={"n_experts": 4, "balance_alpha": alpha})
        model = GPT(cfg)
        params = list(model.parameters())
        x = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(1))
        loss, _ = train_step(model, torch.optim.SGD(params, lr=1.0), params, x, x, lr=1.0, grad_clip=0.0)
        return model, loss.item()

    (plain, l0), (balanced, l1) = step(0.0), step(10.0)
    assert l0 == l1  # the returned loss is the language-model loss alone
    r0, r1 = plain.blocks[0].ffn.router.weight, balanced.blocks[0].ffn.router.weight
    assert not torch.equal(r0, r1)  # the balancing loss moved the router
    last0, last1 = plain.blocks[-1].ffn.experts, balanced.blocks[-1].ffn.experts
    for e0, e1 in zip(last0, last1, strict=True):  # the last layer's experts feed no router: untouched by it
        torch.testing.assert_close(e0.down.weight, e1.down.weight)


def test_gpt_output_keeps_aux_loss_apart_and_reports_router_stats() -> None:
    torch.manual_seed(0)
    cfg = GPTConfig.preset("tiny", activation="moe", moe={"n_experts": 4, "top_k": 1, "routing": "switch"})
    model = GPT(cfg)
    x = torch.randint(0, 256, (2, 16))
    out = model(x, x)
    manual = torch.nn.functional.cross_entropy(out.logits.reshape(-1, 256), x.reshape(-1))
    torch.testing.assert_close(out.loss, manual)
    assert out.aux_loss is not None and out.router is not None and len(out.router) == cfg.n_layers
    stats = out.router[0]
    assert stats.load.sum().item() == pytest.approx(1.0) and 0 < stats.entropy <= torch.log(torch.tensor(4.0))
    record = router_record(model)
    assert len(record["expert_load"]) == 2 and record["dropped_frac"] == 0.0
    assert (
        GPT(GPTConfig.preset("tiny"))(x, x).aux_loss is None
        and router_record(GPT(GPTConfig.preset("tiny"))) == {}
    )


def test_config_round_trips_counts_parameters_and_rejects_bad_settings() -> None:
    moe = {"n_experts": 4, "top_k": 2, "shared_expert": True, "expert": "gelu", "capacity_factor": 1.25}
    cfg = GPTConfig.preset("tiny", activation="moe", moe=moe, bias=True)
    assert GPTConfig.from_dict(cfg.to_dict()) == cfg
    assert count_parameters(cfg) == GPT(cfg).num_parameters()
    assert cfg.ffn_dim == 4 * cfg.d_model  # the expert kind's default width (gelu: 4d)
    old = GPTConfig.preset("tiny").to_dict()
    del old["moe"]  # a checkpoint written before the field existed
    assert GPTConfig.from_dict(old).moe is None
    assert "moe" in FFNS
    for bad, words in [
        ({"activation": "gelu", "moe": {}}, "activation='moe'"),
        ({"activation": "moe", "moe": {"top_k": 3, "n_experts": 2}}, "must not exceed"),
        ({"activation": "moe", "moe": {"n_experts": 1}}, "n_experts"),
        ({"activation": "moe", "moe": {"routing": "expert-choice"}}, "routing"),
        ({"activation": "moe", "moe": {"capacity_factor": 0}}, "capacity_factor"),
        ({"activation": "moe", "moe": {"expert": "moe"}}, "expert"),
        ({"activation": "moe", "moe": {"experts": 4}}, "unknown moe setting"),
    ]:
        with pytest.raises(ValueError, match=words):
            GPTConfig.preset("tiny", **bad)  # type: ignore[arg-type]


def test_trainer_records_expert_load_dropped_fraction_and_entropy() -> None:
    from llmkb.train import TrainConfig, train

    cfg = GPTConfig.preset("tiny", activation="moe", moe={"n_experts": 4, "capacity_factor": 1.0})
    tcfg = TrainConfig(steps=4, batch_size=2, seq_len=16, log_every=2, eval_every=0)
    data = torch.randint(0, 256, (2000,), generator=torch.Generator().manual_seed(0))
    result = train(cfg, tcfg, data, progress=False)
    logged = [r for r in result.history if "expert_load" in r]
    assert [r["step"] for r in logged] == [2, 4]
    assert all(len(r["expert_load"]) == 2 and len(r["expert_load"][0]) == 4 for r in logged)
    assert all(0.0 <= r["dropped_frac"] < 1.0 and r["router_entropy"] > 0 for r in logged)
    assert copy.deepcopy(result.history) == result.history
